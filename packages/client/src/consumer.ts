import { EventEmitter } from 'node:events'
import { NsqError, commands, decodeMessage, isValidChannelName, isValidTopicName } from '@nsqts/protocol'
import { formatAddress, parseAddress } from './address.js'
import type { Address, AddressLike } from './address.js'
import { BackoffController } from './backoff.js'
import type { BackoffSignal, BackoffStrategy } from './backoff.js'
import { Connection } from './connection.js'
import { ClosedError, ConnectionError } from './errors.js'
import { Fifo } from './fifo.js'
import { HttpError } from './http/request.js'
import { LookupdHttpClient } from './http/lookupd.js'
import { Message } from './message.js'
import type { MessageResponder } from './message.js'
import { checkInteger, checkNumber, resolveConnectionOptions } from './options.js'
import type { ConnectionOptions, ResolvedConnectionOptions } from './options.js'
import { RdyController } from './rdy.js'
import type { RdyConnection } from './rdy.js'

/** Consumer options. Durations are milliseconds; every default is listed in the package README. */
export interface ConsumerOptions extends ConnectionOptions {
  /** nsqlookupd HTTP addresses (`host:port` or URL), all queried on every poll. */
  lookupdHttpAddresses?: string | readonly string[]
  /** nsqd TCP addresses to connect to directly, reconnected when lost. */
  nsqdTcpAddresses?: AddressLike | readonly AddressLike[]
  /** Messages in flight at once over all connections. 0 pauses. Default 1. */
  maxInFlight?: number
  /** A message delivered more often than this is discarded instead of handled; 0 = no limit. Default 0. */
  maxAttempts?: number
  /** Called for a message that exceeded maxAttempts, before it is finished; if it throws, the message is requeued. */
  onDiscard?: (message: Message) => void | Promise<void>
  /** Publish messages that exceeded maxAttempts to this topic (on the nsqd they came from) before finishing them. */
  deadLetterTopic?: string
  /** Requeue delay when none is given: this × attempts. Default 90000. */
  requeueDelayMs?: number
  /** Cap of the default requeue delay. Default 900000. */
  maxRequeueDelayMs?: number
  /** Default 'exponential'. */
  backoffStrategy?: BackoffStrategy
  /** Backoff window = this × 2^level. Default 1000. */
  backoffMultiplierMs?: number
  /** Cap of a backoff window. Default 120000. */
  maxBackoffDurationMs?: number
  /** Default 60000. */
  lookupdPollIntervalMs?: number
  /** Each poll comes up to this fraction of the interval early, so consumers do not poll in step. Default 0.3. */
  lookupdPollJitter?: number
  /** Timeout of one lookupd query. Default 60000. */
  lookupdPollTimeoutMs?: number
  /** Send `Authorization: Bearer <authSecret>` to nsqlookupd when authSecret is set. Default true. */
  lookupdAuthorization?: boolean
  /**
   * nsqts: sent as `Authorization: Bearer <token>` on every lookupd query, for nsqlookupds started with
   * --http-bearer-token. Their token is not nsqd's AUTH secret, so this one wins over authSecret there. Empty or
   * absent: no such header.
   */
  lookupdHttpBearerToken?: string
  /** With more connections than maxInFlight, a connection idle this long gives its RDY to another. Default 10000. */
  lowRdyIdleTimeoutMs?: number
  /** ... and one holding RDY this long too. Default 30000. */
  lowRdyTimeoutMs?: number
  /** How often RDY is redistributed when that is needed. Default 5000. */
  rdyRedistributeIntervalMs?: number
  /** How long close() waits for in-flight messages to be answered. Default 30000. */
  closeTimeoutMs?: number
}

export interface HandlerOptions {
  /** Messages handled at the same time. Default 1. */
  concurrency?: number
}

/** Resolve (or return) to finish the message; throw (or reject) to requeue it with backoff. */
export type MessageHandler = (message: Message) => void | Promise<void>

export interface ConsumerStats {
  messagesReceived: number
  messagesFinished: number
  messagesRequeued: number
  messagesDiscarded: number
  /** Open nsqd connections. */
  connections: number
  /** Messages received and not yet finished or requeued. */
  inFlight: number
  /** 0 when not backing off. */
  backoffLevel: number
}

export interface ConsumerEvents {
  /** Subscribed on the nsqd at `address`. */
  connected: [address: string]
  /** The connection to `address` closed; `error` says why, unless the consumer was closing. */
  disconnected: [address: string, error: Error | undefined]
  /** A message exceeded maxAttempts. */
  discard: [message: Message]
  /** A backoff window of `durationMs` started at `level`. */
  backoff: [level: number, durationMs: number]
  /** Backoff ended; normal RDY again. */
  resume: []
  /**
   * Something went wrong that the consumer handles itself (a lookupd or nsqd unreachable, a handler that threw, a
   * FIN for a message that had timed out). Only emitted when a listener is attached, so an unobserved problem never
   * crashes the process; it is logged either way.
   */
  error: [error: Error]
}

type State = 'idle' | 'running' | 'closing' | 'closed'
type Source = 'nsqd' | 'lookupd'

const ignore = (): void => {}

/** One subscribed nsqd connection, with the counters the RDY controller works on. */
class NodeConnection implements RdyConnection {
  maxRdy = 0
  rdy = 0
  inFlight = 0
  transit = 0
  transitUntil = 0
  /** nsqd's output_buffer_timeout plus a second of network slack; set from the IDENTIFY answer. */
  transitGraceMs = 0
  lastMessageAt: number
  rdyAt: number
  /** False once the socket closed: answers for its messages can no longer be sent. */
  alive = true
  readonly closed: Promise<void>
  readonly notifyClosed: () => void

  constructor (
    readonly address: Address,
    readonly name: string,
    readonly source: Source,
    readonly connection: Connection,
    readonly responder: MessageResponder,
    now: number
  ) {
    this.lastMessageAt = now
    this.rdyAt = now
    let notify = ignore
    this.closed = new Promise((resolve) => { notify = resolve })
    this.notifyClosed = notify
  }
}

/**
 * Subscribes to a topic's channel on every nsqd that has it, found through nsqlookupd and/or given directly.
 *
 * Handle messages with a handler (consumer.handle(fn): resolve = FIN, throw = REQ with backoff) or iterate them
 * (for await (const msg of consumer)) and answer each with msg.finish() / msg.requeue(). maxInFlight is shared by all
 * connections and never exceeded in total; failures drive go-nsq's backoff state machine.
 */
export class Consumer extends EventEmitter<ConsumerEvents> {
  readonly topic: string
  readonly channel: string
  private readonly conn: ResolvedConnectionOptions
  private readonly lookupds: LookupdHttpClient[]
  private readonly nsqdAddresses: Address[]
  private readonly rdy: RdyController<NodeConnection>
  private readonly backoff: BackoffController
  private readonly maxAttempts: number
  private readonly onDiscard: ((message: Message) => void | Promise<void>) | undefined
  private readonly deadLetterTopic: string | undefined
  private readonly requeueDelayMs: number
  private readonly maxRequeueDelayMs: number
  private readonly pollIntervalMs: number
  private readonly pollJitter: number
  private readonly redistributeIntervalMs: number
  private readonly closeTimeoutMs: number

  private state: State = 'idle'
  private readonly nodes = new Map<string, NodeConnection>()
  private readonly connecting = new Map<string, Promise<void>>()
  private readonly discarding = new WeakSet<Message>()
  /** Received messages not yet handed to the handler or an iterator. */
  private readonly queued = new Fifo<Message>()
  private readonly waiters = new Fifo<(result: IteratorResult<Message, undefined>) => void>()
  private handler: MessageHandler | undefined
  private concurrency = 1
  private iterating = false
  private running = 0
  private pumping = false
  private counters = { received: 0, finished: 0, requeued: 0, discarded: 0 }

  private startPromise: Promise<void> | undefined
  private closePromise: Promise<void> | undefined
  private drainWaiter: (() => void) | undefined
  private pollTimer: NodeJS.Timeout | undefined
  private polling: Promise<void> | undefined
  private backoffTimer: NodeJS.Timeout | undefined
  private redistributeTimer: NodeJS.Timeout | undefined
  private rdyWakeTimer: NodeJS.Timeout | undefined
  private rdyWakeAt = Infinity
  private readonly reconnectTimers = new Set<NodeJS.Timeout>()

  constructor (topic: string, channel: string, options: ConsumerOptions = {}) {
    super()
    if (!isValidTopicName(topic)) throw new NsqError('E_BAD_TOPIC', `SUB topic name ${JSON.stringify(topic)} is not valid`)
    if (!isValidChannelName(channel)) throw new NsqError('E_BAD_CHANNEL', `SUB channel name ${JSON.stringify(channel)} is not valid`)
    this.topic = topic
    this.channel = channel
    this.conn = resolveConnectionOptions(options)
    if (this.conn.heartbeatIntervalMs === -1) throw new RangeError('a consumer needs heartbeats: nsqd refuses SUB with heartbeatIntervalMs -1')

    const lookupd = toList<string>(options.lookupdHttpAddresses)
    this.nsqdAddresses = toList<AddressLike>(options.nsqdTcpAddresses).map(parseAddress)
    if (lookupd.length === 0 && this.nsqdAddresses.length === 0) {
      throw new TypeError('Consumer needs lookupdHttpAddresses or nsqdTcpAddresses')
    }
    const pollTimeoutMs = checkInteger('lookupdPollTimeoutMs', options.lookupdPollTimeoutMs ?? 60_000, 1, 300_000)
    const authHeader = options.lookupdAuthorization !== false && this.conn.authSecret !== undefined
      ? { authorization: `Bearer ${this.conn.authSecret}` }
      : undefined
    this.lookupds = lookupd.map((a) => new LookupdHttpClient(a, {
      timeoutMs: pollTimeoutMs, headers: authHeader, bearerToken: options.lookupdHttpBearerToken,
    }))

    const maxInFlight = checkInteger('maxInFlight', options.maxInFlight ?? 1, 0, 1_000_000)
    this.maxAttempts = checkInteger('maxAttempts', options.maxAttempts ?? 0, 0, 65535)
    this.onDiscard = options.onDiscard
    this.deadLetterTopic = options.deadLetterTopic
    if (this.deadLetterTopic !== undefined && !isValidTopicName(this.deadLetterTopic)) {
      throw new NsqError('E_BAD_TOPIC', `deadLetterTopic ${JSON.stringify(this.deadLetterTopic)} is not a valid topic name`)
    }
    this.requeueDelayMs = checkInteger('requeueDelayMs', options.requeueDelayMs ?? 90_000, 0, 3_600_000)
    this.maxRequeueDelayMs = checkInteger('maxRequeueDelayMs', options.maxRequeueDelayMs ?? 900_000, 0, 3_600_000)
    this.pollIntervalMs = checkInteger('lookupdPollIntervalMs', options.lookupdPollIntervalMs ?? 60_000, 10, 300_000)
    this.pollJitter = checkNumber('lookupdPollJitter', options.lookupdPollJitter ?? 0.3, 0, 1)
    this.redistributeIntervalMs = checkInteger('rdyRedistributeIntervalMs', options.rdyRedistributeIntervalMs ?? 5000, 1, 5000)
    this.closeTimeoutMs = checkInteger('closeTimeoutMs', options.closeTimeoutMs ?? 30_000, 0, 3_600_000)
    this.backoff = new BackoffController({
      strategy: options.backoffStrategy ?? 'exponential',
      multiplierMs: checkInteger('backoffMultiplierMs', options.backoffMultiplierMs ?? 1000, 1, 3_600_000),
      maxDurationMs: checkInteger('maxBackoffDurationMs', options.maxBackoffDurationMs ?? 120_000, 1, 3_600_000),
    })
    this.rdy = new RdyController<NodeConnection>({
      maxInFlight,
      send: (node, count) => { node.connection.send(commands.rdy(count)) },
      lowRdyIdleTimeoutMs: checkInteger('lowRdyIdleTimeoutMs', options.lowRdyIdleTimeoutMs ?? 10_000, 1, 3_600_000),
      lowRdyTimeoutMs: checkInteger('lowRdyTimeoutMs', options.lowRdyTimeoutMs ?? 30_000, 1, 3_600_000),
      wake: (delayMs) => { this.wakeRdy(delayMs) },
    })
  }

  /**
   * Handles messages with `handler`: when it resolves the message is finished, when it throws the message is
   * requeued with backoff (unless the handler answered the message itself). Starts the consumer if needed.
   */
  handle (handler: MessageHandler, options: HandlerOptions = {}): Promise<void> {
    if (this.handler !== undefined || this.iterating) throw new Error('this consumer already has a handler or an iterator')
    this.concurrency = checkInteger('concurrency', options.concurrency ?? 1, 1, 1_000_000)
    this.handler = handler
    this.pump()
    return this.start()
  }

  /**
   * Connects: queries every lookupd and connects to the nsqd nodes found, and to the direct addresses. Resolves once
   * this first round has been tried; nodes that could not be reached are retried (direct addresses with growing
   * delays, lookupd nodes at each poll) and reported through 'error'.
   */
  start (): Promise<void> {
    if (this.state === 'closing' || this.state === 'closed') return Promise.reject(new ClosedError('Consumer'))
    this.startPromise ??= (async () => {
      this.state = 'running'
      // Nodes found in the first round share maxInFlight from the start (see RdyController.hold).
      this.rdy.hold()
      const tasks = this.nsqdAddresses.map((a) => this.connectNode(a, 'nsqd', 0))
      if (this.lookupds.length > 0) tasks.push(this.queryLookupds())
      await Promise.all(tasks)
      if (this.state === 'running') this.rdy.release()
      if (this.lookupds.length > 0) this.schedulePoll()
    })()
    return this.startPromise
  }

  /**
   * Iterates messages as they arrive; answer each with finish() or requeue(). Starts the consumer if needed.
   * Leaving the loop (break, return, throw) closes the consumer.
   */
  [Symbol.asyncIterator] (): AsyncIterableIterator<Message> {
    if (this.handler !== undefined) throw new Error('this consumer already has a handler')
    this.iterating = true
    this.start().catch(ignore)
    const iterator: AsyncIterableIterator<Message> = {
      next: () => {
        const message = this.queued.shift()
        if (message !== undefined) return Promise.resolve({ value: message, done: false })
        if (this.state !== 'running') return Promise.resolve({ value: undefined, done: true })
        return new Promise((resolve) => { this.waiters.push(resolve) })
      },
      return: async () => {
        await this.close()
        return { value: undefined, done: true }
      },
      [Symbol.asyncIterator]: () => iterator,
    }
    return iterator
  }

  /** Changes maxInFlight at run time (0 pauses delivery); RDY is redistributed at once. */
  setMaxInFlight (maxInFlight: number): void {
    this.rdy.setMaxInFlight(checkInteger('maxInFlight', maxInFlight, 0, 1_000_000))
    this.updateRedistributeTimer()
  }

  stats (): ConsumerStats {
    let inFlight = 0
    for (const node of this.nodes.values()) inFlight += node.inFlight
    return {
      messagesReceived: this.counters.received,
      messagesFinished: this.counters.finished,
      messagesRequeued: this.counters.requeued,
      messagesDiscarded: this.counters.discarded,
      connections: this.nodes.size,
      inFlight,
      backoffLevel: this.backoff.level,
    }
  }

  /**
   * Stops gracefully: CLS on every connection (nsqd stops sending), requeues the messages received but not yet
   * handed to your code, waits up to closeTimeoutMs for the ones in your code to be answered, then disconnects.
   */
  close (): Promise<void> {
    this.closePromise ??= this.shutdown()
    return this.closePromise
  }

  private async shutdown (): Promise<void> {
    this.state = 'closing'
    clearTimeout(this.pollTimer)
    clearTimeout(this.backoffTimer)
    clearInterval(this.redistributeTimer)
    clearTimeout(this.rdyWakeTimer)
    for (const timer of this.reconnectTimers) clearTimeout(timer)
    this.reconnectTimers.clear()
    this.rdy.stop()
    this.backoff.reset()
    const closeWaits = [...this.nodes.values()].map((node) => node.connection.command(commands.CLS).catch(ignore))
    for (let m = this.queued.shift(); m !== undefined; m = this.queued.shift()) m.requeue(0, { backoff: false })
    for (let w = this.waiters.shift(); w !== undefined; w = this.waiters.shift()) w({ value: undefined, done: true })
    await Promise.allSettled(this.connecting.values())
    // nsqd answers CLS after the message frames it had buffered for us, so once every CLOSE_WAIT is in, no message
    // can still be on its way: what came before it was requeued on arrival.
    await this.withinCloseTimeout(Promise.allSettled(closeWaits))
    await this.drained()
    await Promise.all([...this.nodes.values()].map((node) => {
      node.connection.close()
      return node.closed
    }))
    this.state = 'closed'
  }

  private async withinCloseTimeout (work: Promise<unknown>): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    await Promise.race([work, new Promise((resolve) => { timer = setTimeout(resolve, this.closeTimeoutMs) })])
    clearTimeout(timer)
  }

  /** Resolves when nothing is in flight and no handler runs, or after closeTimeoutMs. */
  private drained (): Promise<void> {
    if (this.isDrained()) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.conn.logger.warn(`consumer ${this.topic}/${this.channel}: closing with ${this.stats().inFlight} messages in flight`)
        this.drainWaiter = undefined
        resolve()
      }, this.closeTimeoutMs)
      this.drainWaiter = () => {
        clearTimeout(timer)
        this.drainWaiter = undefined
        resolve()
      }
    })
  }

  private isDrained (): boolean {
    if (this.running > 0) return false
    for (const node of this.nodes.values()) if (node.inFlight > 0) return false
    return true
  }

  private checkDrained (): void {
    if (this.drainWaiter !== undefined && this.isDrained()) this.drainWaiter()
  }

  private report (err: Error): void {
    this.conn.logger.warn(`consumer ${this.topic}/${this.channel}: ${err.message}`)
    if (this.listenerCount('error') > 0) this.emit('error', err)
  }

  // ---- discovery and connections ----

  private schedulePoll (): void {
    if (this.state !== 'running') return
    const delay = this.pollIntervalMs * (1 - this.pollJitter * Math.random())
    this.pollTimer = setTimeout(() => {
      this.queryLookupds().finally(() => { this.schedulePoll() }).catch(ignore)
    }, delay)
  }

  /** Queries every lookupd at once and connects to the nodes not connected yet. One query at a time. */
  private queryLookupds (): Promise<void> {
    this.polling ??= (async () => {
      const results = await Promise.allSettled(this.lookupds.map((l) => l.lookup(this.topic)))
      const found = new Map<string, Address>()
      for (const result of results) {
        if (result.status === 'rejected') {
          // 404: lookupd does not know the topic yet, which is normal before the first publish.
          if (!(result.reason instanceof HttpError && result.reason.status === 404)) this.report(result.reason as Error)
          continue
        }
        for (const p of result.value.producers ?? []) {
          const address = { host: p.broadcast_address, port: p.tcp_port }
          found.set(formatAddress(address), address)
        }
      }
      await Promise.all([...found.values()].map((a) => this.connectNode(a, 'lookupd', 0)))
    })().finally(() => { this.polling = undefined })
    return this.polling
  }

  private scheduleReconnect (address: Address, attempt: number): void {
    if (this.state !== 'running') return
    const delay = Math.min(1000 * 2 ** (attempt - 1), this.pollIntervalMs)
    const timer = setTimeout(() => {
      this.reconnectTimers.delete(timer)
      this.connectNode(address, 'nsqd', attempt).catch(ignore)
    }, delay)
    this.reconnectTimers.add(timer)
  }

  private connectNode (address: Address, source: Source, attempt: number): Promise<void> {
    const name = formatAddress(address)
    if (this.state !== 'running' || this.nodes.has(name) || this.connecting.has(name)) return Promise.resolve()
    const task = this.openNode(address, name, source, attempt).finally(() => { this.connecting.delete(name) })
    this.connecting.set(name, task)
    return task
  }

  private async openNode (address: Address, name: string, source: Source, attempt: number): Promise<void> {
    // The handlers run only once the connection is open, after `node` is set.
    const connection = new Connection(address, this.conn, {
      onMessage: (data) => { this.onMessage(node, data) },
      onNonFatalError: (err) => { this.report(new ConnectionError(name, err.message, { cause: err })) },
      onClose: (err) => { this.onNodeClose(node, err) },
    })
    const node: NodeConnection = new NodeConnection(address, name, source, connection, this.responderFor(() => node), Date.now())
    try {
      const identity = await connection.connect()
      await connection.command(commands.sub(this.topic, this.channel))
      node.maxRdy = identity.max_rdy_count
      node.transitGraceMs = Math.max(0, identity.output_buffer_timeout) + 1000
      if (identity.max_rdy_count < this.rdy.maxInFlight) {
        this.conn.logger.warn(`${name}: max_rdy_count ${identity.max_rdy_count} is below maxInFlight ${this.rdy.maxInFlight}`)
      }
    } catch (err) {
      connection.destroy()
      this.report(err as Error)
      if (source === 'nsqd') this.scheduleReconnect(address, attempt + 1)
      return
    }
    if (this.state !== 'running') {
      // close() began while this connection was being set up; it waits for this task.
      connection.close()
      await node.closed
      return
    }
    this.nodes.set(name, node)
    this.rdy.add(node)
    this.updateRedistributeTimer()
    this.emit('connected', name)
  }

  private onNodeClose (node: NodeConnection, err: Error | undefined): void {
    node.alive = false
    node.notifyClosed()
    if (this.nodes.get(node.name) !== node) return
    this.nodes.delete(node.name)
    this.rdy.remove(node)
    this.updateRedistributeTimer()
    if (err !== undefined && this.state === 'running') this.report(err)
    this.emit('disconnected', node.name, this.state === 'running' ? err : undefined)
    if (this.state === 'running') {
      // A node that went away may come back (direct) or may be listed elsewhere now (lookupd): look again.
      if (node.source === 'nsqd') this.scheduleReconnect(node.address, 1)
      else this.queryLookupds().catch(ignore)
    }
    this.checkDrained()
  }

  /** One timer for the RDY controller's wake-ups, kept at the earliest one asked for. */
  private wakeRdy (delayMs: number): void {
    const at = Date.now() + delayMs
    if (this.rdyWakeTimer !== undefined && this.rdyWakeAt <= at) return
    clearTimeout(this.rdyWakeTimer)
    this.rdyWakeAt = at
    this.rdyWakeTimer = setTimeout(() => {
      this.rdyWakeTimer = undefined
      this.rdyWakeAt = Infinity
      if (this.state === 'running') this.rdy.refresh()
    }, Math.max(0, delayMs) + 1)
    this.rdyWakeTimer.unref()
  }

  private updateRedistributeTimer (): void {
    const needed = this.state === 'running' && this.rdy.needsRedistribution
    if (needed && this.redistributeTimer === undefined) {
      this.redistributeTimer = setInterval(() => { this.rdy.redistribute() }, this.redistributeIntervalMs)
      this.redistributeTimer.unref()
    } else if (!needed && this.redistributeTimer !== undefined) {
      clearInterval(this.redistributeTimer)
      this.redistributeTimer = undefined
    }
  }

  // ---- messages ----

  private onMessage (node: NodeConnection, data: Buffer): void {
    let message: Message
    try {
      const decoded = decodeMessage(data)
      // The frame is a view of a socket chunk: copy the body so a small message does not pin the whole chunk.
      message = new Message(decoded.id, Buffer.from(decoded.body), decoded.attempts, decoded.timestamp, node.name, node.responder)
    } catch (err) {
      node.connection.destroy(new ConnectionError(node.name, (err as Error).message, { cause: err }))
      return
    }
    this.rdy.messageReceived(node)
    this.counters.received++
    if (this.state !== 'running') {
      // Sent before nsqd processed our CLS: give it back at once.
      message.requeue(0, { backoff: false })
      return
    }
    if (this.maxAttempts > 0 && message.attempts > this.maxAttempts) {
      this.discard(node, message).catch(ignore)
      return
    }
    if (this.handler !== undefined) {
      this.queued.push(message)
      this.pump()
      return
    }
    const waiter = this.waiters.shift()
    if (waiter !== undefined) waiter({ value: message, done: false })
    else this.queued.push(message)
  }

  /** Starts handlers for queued messages up to the concurrency; a loop, not recursion, for synchronous handlers. */
  private pump (): void {
    if (this.pumping) return
    this.pumping = true
    while (this.handler !== undefined && this.running < this.concurrency && this.state === 'running') {
      const message = this.queued.shift()
      if (message === undefined) break
      this.runHandler(this.handler, message)
    }
    this.pumping = false
  }

  private runHandler (handler: MessageHandler, message: Message): void {
    this.running++
    let result: unknown
    try {
      result = handler(message)
    } catch (err) {
      this.handlerDone(message, err)
      return
    }
    if (isThenable(result)) result.then(() => { this.handlerDone(message, undefined) }, (err: unknown) => { this.handlerDone(message, err ?? new Error('handler rejected')) })
    else this.handlerDone(message, undefined)
  }

  private handlerDone (message: Message, err: unknown): void {
    this.running--
    if (err === undefined) {
      message.finish()
    } else {
      this.report(err instanceof Error ? err : new Error(String(err)))
      message.requeue(undefined, { backoff: true })
    }
    this.pump()
    this.checkDrained()
  }

  private async discard (node: NodeConnection, message: Message): Promise<void> {
    this.counters.discarded++
    this.discarding.add(message)
    this.emit('discard', message)
    try {
      await this.onDiscard?.(message)
      if (this.deadLetterTopic !== undefined) await node.connection.commandOk(commands.pub(this.deadLetterTopic, message.body))
      message.finish()
    } catch (err) {
      this.report(err as Error)
      message.requeue(undefined, { backoff: false })
    }
  }

  private responderFor (node: () => NodeConnection): MessageResponder {
    return {
      finish: (message) => {
        // An exhausted message being finished says nothing about the handler's health.
        this.respond(node(), commands.fin(message.id), 'finish', this.discarding.has(message) ? 'continue' : 'success')
      },
      requeue: (message, delayMs, backoff) => {
        const delay = delayMs ?? Math.min(this.requeueDelayMs * message.attempts, this.maxRequeueDelayMs)
        this.respond(node(), commands.req(message.id, Math.round(delay)), 'requeue', backoff ? 'failure' : 'continue')
      },
      touch: (message) => {
        const n = node()
        if (n.alive) n.connection.send(commands.touch(message.id))
      },
    }
  }

  private respond (node: NodeConnection, bytes: Buffer, kind: 'finish' | 'requeue', signal: BackoffSignal): void {
    if (node.alive) {
      node.connection.send(bytes)
      if (kind === 'finish') this.counters.finished++
      else this.counters.requeued++
      this.rdy.responded(node)
      if (this.state === 'running') this.applyBackoff(signal)
    }
    this.checkDrained()
  }

  private applyBackoff (signal: BackoffSignal): void {
    const decision = this.backoff.signal(signal)
    if (decision.kind === 'none') return
    if (decision.kind === 'resume') {
      this.rdy.resume()
      this.updateRedistributeTimer()
      this.emit('resume')
      return
    }
    this.rdy.backoff()
    this.updateRedistributeTimer()
    this.emit('backoff', decision.level, decision.durationMs)
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = undefined
      this.backoff.windowEnded()
      this.rdy.testWaters()
      this.updateRedistributeTimer()
    }, decision.durationMs)
  }
}

function toList<T> (value: T | readonly T[] | undefined): T[] {
  if (value === undefined) return []
  return Array.isArray(value) ? [...value as readonly T[]] : [value as T]
}

function isThenable (value: unknown): value is PromiseLike<void> {
  return typeof (value as PromiseLike<void> | undefined)?.then === 'function'
}
