import { isEphemeral, type ChannelPolicy } from '@nsqts/protocol'
import { Deque } from './deque.js'
import { DeadlineQueue } from './deadline-queue.js'
import { Message, timestampMsOf } from './message.js'
import type { BackendQueue } from './backend/types.js'
import type { LatencyStats } from './latency.js'
import {
  activeChannelPolicy, channelPolicyJson, channelSettingsFromStored, isEmptySettings, settingsToStored,
  type ActiveChannelPolicy, type ChannelPolicyDefaults, type ChannelPolicySettings,
} from './policy.js'

/** What a channel needs of a subscribed client. The TCP client implements it. */
export interface ChannelConsumer {
  readonly id: number
  /** RDY window open, socket writable, subscribed and not closing. */
  isReady (): boolean
  /** 0 = every message; otherwise the percentage of messages this consumer samples (NSQ's sample_rate). */
  readonly sampleRate: number
  /** Per-connection in-flight timeout in ms. */
  readonly msgTimeoutMs: number
  /** Takes one message into flight: counts it and buffers its frame. */
  deliver (msg: Message): void
  /** One of its in-flight messages left flight without a FIN or REQ from it (timed out). */
  inFlightTimedOut (): void
  /** The channel was emptied: its in-flight count starts again at 0. */
  inFlightCleared (): void
  /** The pump finished a round that delivered to this consumer: time to flush what it buffered. */
  afterDelivery (): void
}

export interface ChannelHooks {
  /** The last client of an ephemeral channel left. */
  ephemeralChannelIdle (channel: Channel): void
  /**
   * Publishes a message's body anew to `topic` (a dead-letter topic, a redrive's target), creating the topic when
   * needed. It must be queued (stored, in a durable store) before the caller finishes the original.
   */
  republish (topic: string, msg: Message): void
}

export interface ChannelLimits {
  memQueueSize: number
  maxMsgTimeoutMs: number
  /** nsqd's policy flags: what a channel that sets none of its own gets. */
  policyDefaults: ChannelPolicyDefaults
}

/** At most this many messages go to one consumer in a row before the pump moves to the next one. */
const BURST = 64

export type RequeueError = 'ID not in flight' | 'client does not own message'

/**
 * A channel: its own copy of every message of its topic, delivered to whichever subscribed client is ready.
 * Queued messages sit in a bounded memory FIFO that overflows to the backend; in-flight and deferred messages sit in
 * a DeadlineQueue each (a min-heap by deadline, drained by one timer armed for the earliest deadline).
 */
export class Channel {
  readonly ephemeral: boolean
  paused = false
  messageCount = 0
  requeueCount = 0
  timeoutCount = 0
  exiting = false
  /** Delivery policies (policy.ts): messages moved to the dead-letter topic, dropped by ttl, dropped by max_depth. */
  deadLetteredCount = 0
  expiredCount = 0
  droppedCount = 0
  /** What this channel sets itself; the flags fill the rest. */
  policySettings: ChannelPolicySettings
  /** The policy in force, or null when it changes nothing: the delivery path's only cost for a channel without one. */
  private policy: ActiveChannelPolicy | null

  private readonly memory = new Deque<Message>()
  private readonly consumers = new Map<number, ChannelConsumer>()
  private consumerList: ChannelConsumer[] = []
  private nextConsumer = 0
  /** In flight until their timeout: then they are queued again (NSQ's timeout, counted in timeoutCount). */
  private readonly inFlight = new DeadlineQueue((msg) => {
    this.timeoutCount++
    this.consumers.get(msg.clientId)?.inFlightTimedOut()
    msg.clientId = 0
    if (this.policy === null || !this.deadLetterSpent(this.policy, msg)) this.enqueue(msg)
  })

  /** Deferred (DPUB, REQ with a delay) until they are due: then they are queued. */
  private readonly deferred = new DeadlineQueue((msg) => { this.enqueue(msg) })

  private pumpScheduled = false
  /** Alternates memory and backend reads while both hold messages, so neither starves. */
  private preferBackend = false

  constructor (
    readonly topicName: string,
    readonly name: string,
    readonly backend: BackendQueue,
    private readonly limits: ChannelLimits,
    private readonly hooks: ChannelHooks,
    readonly latency: LatencyStats | undefined,
  ) {
    this.ephemeral = isEphemeral(name)
    this.paused = backend.paused
    this.policySettings = channelSettingsFromStored(backend.policy)
    this.policy = activeChannelPolicy(this.policySettings, limits.policyDefaults, topicName)
    backend.onReadable = this.onReadable
    this.restoreKept()
  }

  /**
   * Deferred messages that the backend kept over a restart come back deferred for what is left of their delay, or
   * queued when that has passed (NSQ loses the delay: they would all be due at once).
   */
  private restoreKept (): void {
    const now = Date.now()
    for (const { record, dueAt } of this.backend.takeKept()) {
      const msg = Message.fromStored(record)
      if (dueAt > now) this.deferred.add(msg, dueAt)
      else this.enqueue(msg)
    }
  }

  // ---- stats ----

  /** Queued messages (memory + backend); in-flight and deferred are counted apart, as NSQ does. */
  get depth (): number {
    return this.memory.length + this.backend.depth
  }

  get memoryDepth (): number {
    return this.memory.length
  }

  get backendDepth (): number {
    return this.backend.depth
  }

  get inFlightCount (): number {
    return this.inFlight.size
  }

  get deferredCount (): number {
    return this.deferred.size
  }

  get clientCount (): number {
    return this.consumers.size
  }

  clients (): IterableIterator<ChannelConsumer> {
    return this.consumers.values()
  }

  // ---- input ----

  /** A new message from the topic (or one coming back from flight): queue it, or defer it when asked. */
  put (msg: Message): void {
    this.messageCount++
    if (msg.deferMs > 0) {
      const deferMs = msg.deferMs
      msg.deferMs = 0
      this.startDeferred(msg, deferMs)
      return
    }
    this.enqueue(msg)
  }

  private enqueue (msg: Message): void {
    // A durable backend must hold every message, so nothing waits in memory only; its read-ahead serves readers.
    if (this.memory.length < this.limits.memQueueSize && !this.backend.durable) {
      this.memory.push(msg)
    } else {
      this.backend.put(msg.toStored())
    }
    if (this.policy !== null && this.policy.maxDepth > 0) this.trim(this.policy)
    this.schedulePump()
  }

  // ---- consumers ----

  addConsumer (consumer: ChannelConsumer): void {
    this.consumers.set(consumer.id, consumer)
    this.consumerList = [...this.consumers.values()]
    this.schedulePump()
  }

  /**
   * A client left. Like NSQ, its in-flight messages stay in flight until they time out; an ephemeral channel goes
   * with its last client.
   */
  removeConsumer (consumer: ChannelConsumer): void {
    if (!this.consumers.delete(consumer.id)) return
    this.consumerList = [...this.consumers.values()]
    if (this.consumers.size === 0 && this.ephemeral) this.hooks.ephemeralChannelIdle(this)
  }

  /** Something changed that may let a consumer take messages (RDY, FIN, REQ, a drained socket). */
  consumerMayBeReady (): void {
    this.schedulePump()
  }

  // ---- acknowledgements ----

  private takeInFlight (clientId: number, id: string): Message | RequeueError {
    const msg = this.inFlight.get(id)
    if (msg === undefined) return 'ID not in flight'
    if (msg.clientId !== clientId) return 'client does not own message'
    this.inFlight.remove(msg)
    return msg
  }

  finish (clientId: number, id: string): RequeueError | undefined {
    const msg = this.takeInFlight(clientId, id)
    if (typeof msg === 'string') return msg
    this.backend.ack(id)
    this.latency?.record(Date.now() - msg.timestampMs)
    this.schedulePump()
    return undefined
  }

  /** REQ: 0 puts it back on the queue at once, more defers it. The caller has clamped the delay. */
  requeue (clientId: number, id: string, delayMs: number): RequeueError | undefined {
    const msg = this.takeInFlight(clientId, id)
    if (typeof msg === 'string') return msg
    this.requeueCount++
    msg.clientId = 0
    if (this.policy !== null && this.deadLetterSpent(this.policy, msg)) {
      this.schedulePump()
      return undefined
    }
    if (delayMs > 0) {
      this.startDeferred(msg, delayMs)
    } else {
      this.enqueue(msg)
    }
    this.schedulePump()
    return undefined
  }

  /** TOUCH: a fresh timeout, but never past delivery + --max-msg-timeout. */
  touch (clientId: number, id: string, msgTimeoutMs: number): RequeueError | undefined {
    const msg = this.inFlight.get(id)
    if (msg === undefined) return 'ID not in flight'
    if (msg.clientId !== clientId) return 'client does not own message'
    const deadline = Math.min(Date.now() + msgTimeoutMs, msg.deliveredAt + this.limits.maxMsgTimeoutMs)
    this.inFlight.reschedule(msg, deadline)
    return undefined
  }

  // ---- delivery ----

  schedulePump (): void {
    if (this.pumpScheduled || this.exiting) return
    this.pumpScheduled = true
    queueMicrotask(this.pump)
  }

  private nextMessage (): Message | undefined {
    const fromBackend = this.preferBackend || this.memory.length === 0
    this.preferBackend = !this.preferBackend
    if (fromBackend) {
      const record = this.backend.read()
      if (record !== undefined) return Message.fromStored(record)
    }
    return this.memory.shift() ?? this.readBackend()
  }

  private readBackend (): Message | undefined {
    const record = this.backend.read()
    return record === undefined ? undefined : Message.fromStored(record)
  }

  private readonly pump = (): void => {
    this.pumpScheduled = false
    if (this.paused || this.exiting || this.consumerList.length === 0) return
    const list = this.consumerList
    const n = list.length
    const policy = this.policy
    const now = policy === null ? 0 : Date.now()
    let idle = 0
    let msg: Message | undefined
    // Round-robin over consumers, a burst each, until no one is ready or nothing is left.
    while (idle < n && this.depth > 0) {
      const consumer = list[this.nextConsumer % n] as ChannelConsumer
      this.nextConsumer = (this.nextConsumer + 1) % n
      let sent = 0
      while (sent < BURST && consumer.isReady() && (msg = this.nextMessage()) !== undefined) {
        if (policy !== null && this.withheld(policy, msg, now)) continue
        if (consumer.sampleRate > 0 && Math.floor(Math.random() * 100) > consumer.sampleRate) continue
        this.startInFlight(msg, consumer)
        consumer.deliver(msg)
        sent++
      }
      if (sent === 0) {
        idle++
      } else {
        idle = 0
        consumer.afterDelivery()
      }
    }
    this.inFlight.arm()
  }

  private startInFlight (msg: Message, consumer: ChannelConsumer): void {
    const now = Date.now()
    msg.attempts++
    msg.clientId = consumer.id
    msg.deliveredAt = now
    // Armed once per round, at the end of the pump.
    this.inFlight.addBatched(msg, now + consumer.msgTimeoutMs)
  }

  private startDeferred (msg: Message, delayMs: number): void {
    const dueAt = Date.now() + delayMs
    if (this.backend.durable) this.backend.keep(msg.toStored(), dueAt)
    this.deferred.add(msg, dueAt)
  }

  // ---- delivery policies (docs/policies.md) ----

  private readonly onReadable = (): void => {
    // Records a drop had to wait for (the oldest were on disk) are readable now.
    if (this.policy !== null && this.policy.maxDepth > 0) this.trim(this.policy)
    this.schedulePump()
    const waiters = this.readableWaiters
    this.readableWaiters = []
    for (const wake of waiters) wake()
  }

  private readableWaiters: Array<() => void> = []

  /** The policy in force, as GET /channel/policy and /stats show it. */
  policyJson (): ChannelPolicy {
    return channelPolicyJson(this.policySettings, this.limits.policyDefaults, this.topicName)
  }

  /** Whether /stats shows this channel's policy and counts: a policy in force, or something counted. */
  get reportsPolicy (): boolean {
    return this.policy !== null || !isEmptySettings(this.policySettings) ||
      this.deadLetteredCount + this.expiredCount + this.droppedCount > 0
  }

  /** Sets what the channel sets itself (stored with its metadata) and applies it to what it holds now. */
  setPolicy (settings: ChannelPolicySettings): void {
    this.policySettings = settings
    this.policy = activeChannelPolicy(settings, this.limits.policyDefaults, this.topicName)
    this.backend.setPolicy(isEmptySettings(settings) ? undefined : settingsToStored(settings))
    if (this.policy !== null && this.policy.maxDepth > 0) this.trim(this.policy)
    this.schedulePump()
  }

  /**
   * A message that came back (REQ, timeout) and was delivered max_attempts times goes to the dead-letter topic
   * instead of the queue. True when it went.
   */
  private deadLetterSpent (policy: ActiveChannelPolicy, msg: Message): boolean {
    if (policy.maxAttempts === 0 || msg.attempts < policy.maxAttempts) return false
    this.deadLetter(policy, msg)
    return true
  }

  /**
   * Checked before each delivery: a message that was delivered max_attempts times (the policy changed while it
   * waited) or is older than the ttl is taken out instead of being delivered. True when it was.
   */
  private withheld (policy: ActiveChannelPolicy, msg: Message, now: number): boolean {
    if (this.deadLetterSpent(policy, msg)) return true
    if (policy.ttlMs === 0 || now - msg.timestampMs <= policy.ttlMs) return false
    if (policy.ttlDeadLetter) {
      this.deadLetter(policy, msg)
    } else {
      this.expiredCount++
      this.backend.ack(msg.id)
    }
    return true
  }

  /** Queued past max_depth: the oldest go. Stops while the oldest may still be on disk, loading (onReadable resumes). */
  private trim (policy: ActiveChannelPolicy): void {
    while (this.depth > policy.maxDepth) {
      const msg = this.takeOldest()
      if (msg === undefined) return
      if (policy.overflowDeadLetter) {
        this.deadLetter(policy, msg)
      } else {
        this.droppedCount++
        this.backend.ack(msg.id)
      }
    }
  }

  /**
   * The oldest queued message: memory and backend are each in order, so it is the older of their heads (delivery
   * alternates between the two, so the next delivered need not be the oldest).
   */
  private takeOldest (): Message | undefined {
    const record = this.backend.head()
    if (record === undefined) return this.backend.depth > 0 ? undefined : this.memory.shift()
    const inMemory = this.memory.peek()
    if (inMemory !== undefined && inMemory.timestampMs <= timestampMsOf(record)) return this.memory.shift()
    return this.readBackend()
  }

  /** Publishes the body anew on the dead-letter topic, then finishes the original: a crash leaves one or both. */
  private deadLetter (policy: ActiveChannelPolicy, msg: Message): void {
    this.hooks.republish(policy.deadLetterTopic, msg)
    this.deadLetteredCount++
    this.backend.ack(msg.id)
  }

  /**
   * The next `n` queued messages in the order the channel would deliver them (memory and backend interleaved as
   * nextMessage takes them), in stored form with their attempts; nothing changes.
   */
  async peek (n: number): Promise<Buffer[]> {
    const stored = await this.backend.peek(n)
    const out: Buffer[] = []
    let preferBackend = this.preferBackend
    let m = 0
    let b = 0
    while (out.length < n) {
      const fromBackend = preferBackend || m >= this.memory.length
      preferBackend = !preferBackend
      const next = fromBackend && b < stored.length ? stored[b++] : (this.memory.at(m++)?.toStored() ?? stored[b++])
      if (next === undefined) break
      out.push(next)
    }
    return out
  }

  /**
   * Redrive: moves up to `n` queued messages (at most the depth when it starts) to topic `to`, each published anew
   * before its original is finished, so a crash leaves each in one place or both, never neither. Yields to the event
   * loop between batches; waits for records still on disk.
   */
  async moveQueued (to: string, n: number): Promise<number> {
    const limit = Math.min(n, this.depth)
    let moved = 0
    while (moved < limit && !this.exiting) {
      const msg = this.nextMessage()
      if (msg === undefined) {
        if (this.depth === 0) break
        await this.readable()
        continue
      }
      this.hooks.republish(to, msg)
      this.backend.ack(msg.id)
      moved++
      if (moved % 256 === 0) await new Promise<void>((resolve) => setImmediate(resolve))
    }
    return moved
  }

  /** Resolves when the backend says records are readable again, or after 100 ms (a load that found nothing). */
  private readable (): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, 100)
      this.readableWaiters.push(() => { clearTimeout(timer); resolve() })
    })
  }

  // ---- admin ----

  pause (): void {
    this.paused = true
    this.backend.setPaused(true)
  }

  unpause (): void {
    this.paused = false
    this.backend.setPaused(false)
    this.schedulePump()
  }

  /** Drops queued, in-flight and deferred messages; clients' in-flight counts start again at 0. */
  async empty (): Promise<void> {
    this.memory.clear()
    this.inFlight.clear()
    this.deferred.clear()
    for (const c of this.consumers.values()) c.inFlightCleared()
    await this.backend.empty()
    this.schedulePump()
  }

  /** Every message this channel holds that is not yet finished, for a clean shutdown: queued, in flight, deferred. */
  takeUnfinished (): { queued: Message[], inFlight: Message[], deferred: Message[] } {
    const queued = this.memory.drain()
    const inFlight = [...this.inFlight.values()]
    const deferred = [...this.deferred.values()]
    this.inFlight.clear()
    this.deferred.clear()
    return { queued, inFlight, deferred }
  }

  /** Stops timers and delivery. */
  stop (): void {
    this.exiting = true
    this.inFlight.stop()
    this.deferred.stop()
  }
}
