import { isEphemeral, type ChannelPolicy } from '@nsqts/protocol'
import type { ChannelConsumer } from './channel-consumer.js'
import { ChannelQueue } from './channel-queue.js'
import { PolicyEnforcer, type PolicyCounts } from './channel-policy.js'
import { DeadlineQueue } from './deadline-queue.js'
import { Message } from './message.js'
import type { BackendQueue } from './backend/types.js'
import type { LatencyStats } from './latency.js'
import {
  activeChannelPolicy, channelPolicyJson, channelSettingsFromStored, isEmptySettings, settingsToStored,
  type ChannelPolicyDefaults, type ChannelPolicySettings,
} from './policy.js'

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
 * Queued messages sit in a ChannelQueue (memory overflowing to the backend); in-flight and deferred messages sit in
 * a DeadlineQueue each (a min-heap by deadline, drained by one timer armed for the earliest deadline).
 */
export class Channel {
  readonly ephemeral: boolean
  paused = false
  messageCount = 0
  requeueCount = 0
  timeoutCount = 0
  exiting = false
  /** What this channel sets itself; the flags fill the rest. */
  policySettings: ChannelPolicySettings
  /** The policy in force, or null when it changes nothing: the delivery path's only cost for a channel without one. */
  private policy: PolicyEnforcer | null
  private readonly policyCounts: PolicyCounts = { deadLettered: 0, expired: 0, dropped: 0 }

  private readonly queue: ChannelQueue
  private readonly consumers = new Map<number, ChannelConsumer>()
  private consumerList: ChannelConsumer[] = []
  private nextConsumer = 0
  /** The pump's marks of which consumers (by index in consumerList) it delivered to this round; all 0 between rounds. */
  private sentTo = new Uint8Array(0)
  /** In flight until their timeout: then they are queued again (NSQ's timeout, counted in timeoutCount). */
  private readonly inFlight = new DeadlineQueue((msg) => {
    this.timeoutCount++
    this.consumers.get(msg.clientId)?.inFlightTimedOut()
    msg.clientId = 0
    if (this.policy === null || !this.policy.deadLetterIfSpent(msg)) this.enqueue(msg)
  })

  /** Deferred (DPUB, REQ with a delay) until they are due: then they are queued. */
  private readonly deferred = new DeadlineQueue((msg) => { this.enqueue(msg) })
  private pumpScheduled = false

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
    this.queue = new ChannelQueue(backend, limits.memQueueSize)
    this.policySettings = channelSettingsFromStored(backend.policy)
    this.policy = this.enforcerOf(this.policySettings)
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
    return this.queue.length
  }

  get memoryDepth (): number {
    return this.queue.memoryLength
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

  /** Delivery policies (policy.ts): messages moved to the dead-letter topic, dropped by ttl, dropped by max_depth. */
  get deadLetteredCount (): number {
    return this.policyCounts.deadLettered
  }

  get expiredCount (): number {
    return this.policyCounts.expired
  }

  get droppedCount (): number {
    return this.policyCounts.dropped
  }

  // ---- input ----

  /** A new message from the topic (or one coming back from flight): queue it, or defer it when asked. */
  put (msg: Message): void {
    this.messageCount++
    const deferMs = msg.deferMs
    if (deferMs <= 0) return this.enqueue(msg)
    msg.deferMs = 0
    this.startDeferred(msg, deferMs)
  }

  private enqueue (msg: Message): void {
    this.queue.push(msg)
    const policy = this.policy
    if (policy !== null && policy.limitsDepth) policy.trim()
    this.schedulePump()
  }

  // ---- consumers ----

  addConsumer (consumer: ChannelConsumer): void {
    this.consumers.set(consumer.id, consumer)
    this.consumerList = [...this.consumers.values()]
    this.sentTo = new Uint8Array(this.consumerList.length)
    this.schedulePump()
  }

  /**
   * A client left. Like NSQ, its in-flight messages stay in flight until they time out; an ephemeral channel goes
   * with its last client.
   */
  removeConsumer (consumer: ChannelConsumer): void {
    if (!this.consumers.delete(consumer.id)) return
    this.consumerList = [...this.consumers.values()]
    this.sentTo = new Uint8Array(this.consumerList.length)
    if (this.consumers.size === 0 && this.ephemeral) this.hooks.ephemeralChannelIdle(this)
  }

  /** Something changed that may let a consumer take messages (RDY, FIN, REQ, a drained socket). */
  consumerMayBeReady (): void {
    this.schedulePump()
  }

  // ---- acknowledgements ----

  private takeInFlight (clientId: number, msg: Message | undefined): Message | RequeueError {
    if (msg === undefined) return 'ID not in flight'
    if (msg.clientId !== clientId) return 'client does not own message'
    this.inFlight.remove(msg)
    return msg
  }

  finish (clientId: number, id: string): RequeueError | undefined {
    return this.finished(this.takeInFlight(clientId, this.inFlight.get(id)))
  }

  /** FIN of the message whose id is the 16 bytes of `line` at `at`: a FIN line read in place, no id string made. */
  finishBytes (clientId: number, line: Buffer, at: number): RequeueError | undefined {
    return this.finished(this.takeInFlight(clientId, this.inFlight.getBytes(line, at)))
  }

  private finished (msg: Message | RequeueError): RequeueError | undefined {
    if (typeof msg === 'string') return msg
    if (this.backend.durable) this.backend.ack(msg.id)
    this.latency?.record(Date.now() - msg.timestampMs)
    this.schedulePump()
    return undefined
  }

  /** REQ: 0 puts it back on the queue at once, more defers it. The caller has clamped the delay. */
  requeue (clientId: number, id: string, delayMs: number): RequeueError | undefined {
    const msg = this.takeInFlight(clientId, this.inFlight.get(id))
    if (typeof msg === 'string') return msg
    this.requeueCount++
    msg.clientId = 0
    if (this.policy !== null && this.policy.deadLetterIfSpent(msg)) {
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
    // No round while no one can take a message (a microtask per PUB); addConsumer and unpause schedule one.
    if (this.pumpScheduled || this.exiting || this.paused || this.consumerList.length === 0) return
    this.pumpScheduled = true
    queueMicrotask(this.pump)
  }

  private readonly pump = (): void => {
    this.pumpScheduled = false
    if (this.paused || this.exiting || this.consumerList.length === 0) return
    const list = this.consumerList
    const n = list.length
    const queue = this.queue
    const policy = this.policy
    const now = Date.now() // the round's: one clock read per pump, not per message
    const sentTo = this.sentTo
    let idle = 0
    let msg: Message | undefined
    // Round-robin over consumers, a burst each, until no one is ready or nothing is left.
    while (idle < n && queue.length > 0) {
      const at = this.nextConsumer % n
      const consumer = list[at] as ChannelConsumer
      this.nextConsumer = (at + 1) % n
      let sent = 0
      while (sent < BURST && consumer.isReady() && (msg = queue.shift()) !== undefined) {
        if (policy !== null && policy.withhold(msg, now)) continue
        if (consumer.sampleRate > 0 && Math.floor(Math.random() * 100) > consumer.sampleRate) continue
        this.startInFlight(msg, consumer, now)
        consumer.deliver(msg)
        sent++
      }
      if (sent === 0) {
        idle++
      } else {
        idle = 0
        sentTo[at] = 1
      }
    }
    this.inFlight.arm()
    // Once per consumer and round, not per burst (a flush timer armed after one burst, cleared after the next).
    for (let i = 0; i < n; i++) {
      if (sentTo[i] === 0) continue
      sentTo[i] = 0
      ;(list[i] as ChannelConsumer).afterDelivery()
    }
  }

  private startInFlight (msg: Message, consumer: ChannelConsumer, now: number): void {
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

  // ---- delivery policies, peek and redrive (docs/policies.md) ----

  private readonly onReadable = (): void => {
    // Records a drop had to wait for (the oldest were on disk) are readable now.
    if (this.policy !== null && this.policy.limitsDepth) this.policy.trim()
    this.schedulePump()
    this.queue.readableAgain()
  }

  /** The enforcer of the policy in force, or null when the policy changes nothing. */
  private enforcerOf (settings: ChannelPolicySettings): PolicyEnforcer | null {
    const rules = activeChannelPolicy(settings, this.limits.policyDefaults, this.topicName)
    return rules === null ? null : new PolicyEnforcer(rules, this.queue, this.hooks, this.policyCounts)
  }

  /** The policy in force, as GET /channel/policy and /stats show it. */
  policyJson (): ChannelPolicy {
    return channelPolicyJson(this.policySettings, this.limits.policyDefaults, this.topicName)
  }

  /** Whether /stats shows this channel's policy and counts: a policy in force, or something counted. */
  get reportsPolicy (): boolean {
    const counts = this.policyCounts
    return this.policy !== null || !isEmptySettings(this.policySettings) ||
      counts.deadLettered + counts.expired + counts.dropped > 0
  }

  /** Sets what the channel sets itself (stored with its metadata) and applies it to what it holds now. */
  setPolicy (settings: ChannelPolicySettings): void {
    this.policySettings = settings
    this.policy = this.enforcerOf(settings)
    this.backend.setPolicy(isEmptySettings(settings) ? undefined : settingsToStored(settings))
    if (this.policy !== null && this.policy.limitsDepth) this.policy.trim()
    this.schedulePump()
  }

  /** The next `n` queued messages in the order the channel would deliver them, in stored form; nothing changes. */
  peek (n: number): Promise<Buffer[]> {
    return this.queue.peek(n)
  }

  /**
   * Redrive: moves up to `n` queued messages (at most the depth when it starts) to topic `to`, each published anew
   * before its original is finished, so a crash leaves each in one place or both, never neither.
   */
  moveQueued (to: string, n: number): Promise<number> {
    return this.queue.takeEach(n, (msg) => {
      this.hooks.republish(to, msg)
      this.backend.ack(msg.id)
    }, () => this.exiting)
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
    this.queue.clearMemory()
    this.inFlight.clear()
    this.deferred.clear()
    for (const c of this.consumers.values()) c.inFlightCleared()
    await this.backend.empty()
    this.schedulePump()
  }

  /** Every message this channel holds that is not yet finished, for a clean shutdown: queued, in flight, deferred. */
  takeUnfinished (): { queued: Message[], inFlight: Message[], deferred: Message[] } {
    const queued = this.queue.drainMemory()
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
