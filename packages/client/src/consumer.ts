import { EventEmitter } from 'node:events'
import { MESSAGE_HEADER_SIZE, NsqError, commands, isValidChannelName, isValidTopicName } from '@nsqts/protocol'
import { formatAddress } from './address.js'
import type { Address } from './address.js'
import { BackoffController } from './backoff.js'
import type { BackoffSignal } from './backoff.js'
import { Connection } from './connection.js'
import { resolveConsumerOptions } from './consumer-options.js'
import type { ConsumerOptions, ConsumerSettings } from './consumer-options.js'
import type { ConsumerEvents, ConsumerStats } from './consumer-events.js'
import { Delivery } from './delivery.js'
import type { HandlerOptions, MessageHandler } from './delivery.js'
import { ClosedError, ConnectionError } from './errors.js'
import { LookupdPoller } from './lookupd-poller.js'
import { Message } from './message.js'
import type { MessageResponder } from './message.js'
import { NodeConnection } from './node-connection.js'
import type { NodeSource } from './node-connection.js'
import { checkInteger } from './options.js'
import { RdyController } from './rdy.js'
import { RdyTimers } from './rdy-timers.js'

export type { ConsumerEvents, ConsumerStats } from './consumer-events.js'
export type { ConsumerOptions } from './consumer-options.js'
export type { HandlerOptions, MessageHandler } from './delivery.js'

type State = 'idle' | 'running' | 'closing' | 'closed'

const ignore = (): void => {}
/** Node's own Buffer pool size: a message kept for long keeps no more memory alive than a pooled Buffer would. */
const FRAME_SLAB_SIZE = 8 * 1024

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
  private readonly settings: ConsumerSettings
  private readonly poller: LookupdPoller
  private readonly rdy: RdyController<NodeConnection>
  private readonly rdyTimers: RdyTimers<NodeConnection>
  private readonly backoff: BackoffController
  private readonly delivery: Delivery

  private state: State = 'idle'
  private readonly nodes = new Map<string, NodeConnection>()
  private readonly connecting = new Map<string, Promise<void>>()
  private readonly discarding = new WeakSet<Message>()
  private counters = { received: 0, finished: 0, requeued: 0, discarded: 0 }
  /** Where received message frames are copied; frameSlab[frameSlabUsed...] is free. */
  private frameSlab = Buffer.alloc(0)
  private frameSlabUsed = 0

  private startPromise: Promise<void> | undefined
  private closePromise: Promise<void> | undefined
  private drainWaiter: (() => void) | undefined
  private backoffTimer: NodeJS.Timeout | undefined
  private readonly reconnectTimers = new Set<NodeJS.Timeout>()

  constructor (topic: string, channel: string, options: ConsumerOptions = {}) {
    super()
    if (!isValidTopicName(topic)) throw new NsqError('E_BAD_TOPIC', `SUB topic name ${JSON.stringify(topic)} is not valid`)
    if (!isValidChannelName(channel)) throw new NsqError('E_BAD_CHANNEL', `SUB channel name ${JSON.stringify(channel)} is not valid`)
    this.topic = topic
    this.channel = channel
    const settings = resolveConsumerOptions(options)
    this.settings = settings
    this.poller = new LookupdPoller(topic, settings.lookupd, {
      found: async (addresses) => { await Promise.all(addresses.map((a) => this.connectNode(a, 'lookupd', 0))) },
      report: (err) => { this.report(err) },
    })
    this.backoff = new BackoffController(settings.backoff)
    this.rdy = new RdyController<NodeConnection>({
      maxInFlight: settings.maxInFlight,
      send: (node, count) => { node.connection.send(commands.rdy(count)) },
      lowRdyIdleTimeoutMs: settings.lowRdyIdleTimeoutMs,
      lowRdyTimeoutMs: settings.lowRdyTimeoutMs,
      wake: (delayMs) => { this.rdyTimers.wake(delayMs) },
    })
    this.rdyTimers = new RdyTimers(this.rdy, settings.redistributeIntervalMs, () => this.state === 'running')
    this.delivery = new Delivery({
      isRunning: () => this.state === 'running',
      report: (err) => { this.report(err) },
      handlerDone: () => { this.checkDrained() },
      close: () => this.close(),
    })
  }

  /**
   * Handles messages with `handler`: when it resolves the message is finished, when it throws the message is
   * requeued with backoff (unless the handler answered the message itself). Starts the consumer if needed.
   */
  handle (handler: MessageHandler, options: HandlerOptions = {}): Promise<void> {
    this.delivery.setHandler(handler, options)
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
      const tasks = this.settings.nsqdAddresses.map((a) => this.connectNode(a, 'nsqd', 0))
      if (this.poller.hasLookupds) tasks.push(this.poller.poll())
      await Promise.all(tasks)
      if (this.state === 'running') this.rdy.release()
      if (this.poller.hasLookupds && this.state === 'running') this.poller.schedule()
    })()
    return this.startPromise
  }

  /**
   * Iterates messages as they arrive; answer each with finish() or requeue(). Starts the consumer if needed.
   * Leaving the loop (break, return, throw) closes the consumer.
   */
  [Symbol.asyncIterator] (): AsyncIterableIterator<Message> {
    const iterator = this.delivery.messages()
    this.start().catch(ignore)
    return iterator
  }

  /** Changes maxInFlight at run time (0 pauses delivery); RDY is redistributed at once. */
  setMaxInFlight (maxInFlight: number): void {
    this.rdy.setMaxInFlight(checkInteger('maxInFlight', maxInFlight, 0, 1_000_000))
    this.rdyTimers.update()
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
    this.poller.stop()
    clearTimeout(this.backoffTimer)
    this.rdyTimers.stop()
    for (const timer of this.reconnectTimers) clearTimeout(timer)
    this.reconnectTimers.clear()
    this.rdy.stop()
    this.backoff.reset()
    const closeWaits = [...this.nodes.values()].map((node) => node.connection.command(commands.CLS).catch(ignore))
    this.delivery.stop()
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
    await Promise.race([work, new Promise((resolve) => { timer = setTimeout(resolve, this.settings.closeTimeoutMs) })])
    clearTimeout(timer)
  }

  /** Resolves when nothing is in flight and no handler runs, or after closeTimeoutMs. */
  private drained (): Promise<void> {
    if (this.isDrained()) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.settings.connection.logger.warn(`consumer ${this.topic}/${this.channel}: closing with ${this.stats().inFlight} messages in flight`)
        this.drainWaiter = undefined
        resolve()
      }, this.settings.closeTimeoutMs)
      this.drainWaiter = () => {
        clearTimeout(timer)
        this.drainWaiter = undefined
        resolve()
      }
    })
  }

  private isDrained (): boolean {
    if (this.delivery.running > 0) return false
    for (const node of this.nodes.values()) if (node.inFlight > 0) return false
    return true
  }

  private checkDrained (): void {
    if (this.drainWaiter !== undefined && this.isDrained()) this.drainWaiter()
  }

  private report (err: Error): void {
    this.settings.connection.logger.warn(`consumer ${this.topic}/${this.channel}: ${err.message}`)
    if (this.listenerCount('error') > 0) this.emit('error', err)
  }

  // ---- connections ----

  private scheduleReconnect (address: Address, attempt: number): void {
    if (this.state !== 'running') return
    const delay = Math.min(1000 * 2 ** (attempt - 1), this.settings.lookupd.intervalMs)
    const timer = setTimeout(() => {
      this.reconnectTimers.delete(timer)
      this.connectNode(address, 'nsqd', attempt).catch(ignore)
    }, delay)
    this.reconnectTimers.add(timer)
  }

  private connectNode (address: Address, source: NodeSource, attempt: number): Promise<void> {
    const name = formatAddress(address)
    if (this.state !== 'running' || this.nodes.has(name) || this.connecting.has(name)) return Promise.resolve()
    const task = this.openNode(address, name, source, attempt).finally(() => { this.connecting.delete(name) })
    this.connecting.set(name, task)
    return task
  }

  private async openNode (address: Address, name: string, source: NodeSource, attempt: number): Promise<void> {
    // The handlers run only once the connection is open, after `node` is set.
    const connection = new Connection(address, this.settings.connection, {
      onMessage: (buf, start, end) => { this.onMessage(node, buf, start, end) },
      onNonFatalError: (err) => { this.report(new ConnectionError(name, err.message, { cause: err })) },
      onClose: (err) => { this.onNodeClose(node, err) },
    })
    const responder = this.responderFor(() => node)
    const node: NodeConnection = new NodeConnection(address, name, source, connection, responder, Date.now())
    try {
      const identity = await connection.connect()
      await connection.command(commands.sub(this.topic, this.channel))
      node.maxRdy = identity.max_rdy_count
      node.transitGraceMs = Math.max(0, identity.output_buffer_timeout) + 1000
      if (identity.max_rdy_count < this.rdy.maxInFlight) {
        this.settings.connection.logger.warn(`${name}: max_rdy_count ${identity.max_rdy_count} is below maxInFlight ${this.rdy.maxInFlight}`)
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
    this.rdyTimers.update()
    this.emit('connected', name)
  }

  private onNodeClose (node: NodeConnection, err: Error | undefined): void {
    node.alive = false
    node.notifyClosed()
    if (this.nodes.get(node.name) !== node) return
    this.nodes.delete(node.name)
    this.rdy.remove(node)
    this.rdyTimers.update()
    if (err !== undefined && this.state === 'running') this.report(err)
    this.emit('disconnected', node.name, this.state === 'running' ? err : undefined)
    if (this.state === 'running') {
      // A node that went away may come back (direct) or may be listed elsewhere now (lookupd): look again.
      if (node.source === 'nsqd') this.scheduleReconnect(node.address, 1)
      else this.poller.poll().catch(ignore)
    }
    this.checkDrained()
  }

  // ---- messages ----

  private onMessage (node: NodeConnection, buf: Buffer, start: number, end: number): void {
    if (end - start < MESSAGE_HEADER_SIZE) {
      node.connection.destroy(new ConnectionError(node.name, `message too short: ${end - start} bytes < ${MESSAGE_HEADER_SIZE}`))
      return
    }
    // The frame is a range of the connection's read buffer, overwritten by the next read: copy it out, into a slab
    // shared with the next messages, so that a message costs one copy and no Buffer of its own.
    const length = end - start
    if (this.frameSlabUsed + length > this.frameSlab.length) {
      this.frameSlab = Buffer.allocUnsafeSlow(Math.max(FRAME_SLAB_SIZE, length))
      this.frameSlabUsed = 0
    }
    const at = this.frameSlabUsed
    buf.copy(this.frameSlab, at, start, end)
    this.frameSlabUsed += length
    const message = new Message(this.frameSlab, at, at + length, node.name, node.responder)
    this.rdy.messageReceived(node)
    this.counters.received++
    if (this.state !== 'running') {
      // Sent before nsqd processed our CLS: give it back at once.
      message.requeue(0, { backoff: false })
      return
    }
    if (this.settings.maxAttempts > 0 && message.attempts > this.settings.maxAttempts) {
      this.discard(node, message).catch(ignore)
      return
    }
    this.delivery.deliver(message)
  }

  private async discard (node: NodeConnection, message: Message): Promise<void> {
    this.counters.discarded++
    this.discarding.add(message)
    this.emit('discard', message)
    try {
      await this.settings.onDiscard?.(message)
      const deadLetterTopic = this.settings.deadLetterTopic
      if (deadLetterTopic !== undefined) await node.connection.commandOk(commands.pub(deadLetterTopic, message.body))
      message.finish()
    } catch (err) {
      this.report(err as Error)
      message.requeue(undefined, { backoff: false })
    }
  }

  private responderFor (node: () => NodeConnection): MessageResponder {
    return {
      finish: (message, source, idStart) => {
        const n = node()
        if (n.alive) n.connection.sendFin(source, idStart)
        // An exhausted message being finished says nothing about the handler's health.
        const signal = this.counters.discarded > 0 && this.discarding.has(message) ? 'continue' : 'success'
        this.responded(n, 'finish', signal)
      },
      requeue: (message, delayMs, backoff) => {
        const n = node()
        const { requeueDelayMs, maxRequeueDelayMs } = this.settings
        const delay = delayMs ?? Math.min(requeueDelayMs * message.attempts, maxRequeueDelayMs)
        if (n.alive) n.connection.send(commands.req(message.id, Math.round(delay)))
        this.responded(n, 'requeue', backoff ? 'failure' : 'continue')
      },
      touch: (message) => {
        const n = node()
        if (n.alive) n.connection.send(commands.touch(message.id))
      },
    }
  }

  /** A FIN or REQ was written for a message of `node` (unless its connection is gone). */
  private responded (node: NodeConnection, kind: 'finish' | 'requeue', signal: BackoffSignal): void {
    if (node.alive) {
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
      this.rdyTimers.update()
      this.emit('resume')
      return
    }
    this.rdy.backoff()
    this.rdyTimers.update()
    this.emit('backoff', decision.level, decision.durationMs)
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = undefined
      this.backoff.windowEnded()
      this.rdy.testWaters()
      this.rdyTimers.update()
    }, decision.durationMs)
  }
}
