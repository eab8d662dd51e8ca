import { isEphemeral, MessageIdGenerator, type TopicPolicy } from '@nsqts/protocol'
import { Channel, type ChannelHooks } from './channel.js'
import { Deque } from './deque.js'
import { Message, timestampMsOf } from './message.js'
import { LatencyStats } from './latency.js'
import type { BackendQueue, PendingWrite } from './backend/types.js'
import {
  activeTopicPolicy, isEmptySettings, settingsToStored, topicPolicyJson, topicSettingsFromStored,
  type ActiveTopicPolicy, type ChannelPolicyDefaults, type TopicPolicySettings,
} from './policy.js'

export interface TopicContext {
  memQueueSize: number
  maxMsgTimeoutMs: number
  nodeId: number
  e2ePercentiles: readonly number[]
  e2eWindowMs: number
  /** The backend of a channel (`topic:channel`) or of the topic itself. */
  backendFor (name: string, ephemeral: boolean): BackendQueue
  channelCreated (topic: Topic, channel: Channel): void
  channelDeleted (topic: Topic, channel: Channel): void
  /** An ephemeral topic lost its last channel. */
  ephemeralTopicIdle (topic: Topic): void
  /** A position in the store's stream of writes (LevelStore.mark); 0 without a store. */
  writeMark (): number
  /**
   * What a publish that queued its messages after `mark` waits for before it answers, or undefined when it may answer
   * at once (LevelStore.publishWait).
   */
  publishWait (mark: number): PendingWrite | undefined
  /** nsqd's policy flags, every channel's defaults. */
  channelPolicyDefaults: ChannelPolicyDefaults
  /** The topic, created when missing (a dead-letter topic, a redrive's target). */
  topic (name: string): Topic
}

/**
 * A topic fans every message out to all its channels. With no channel, or while paused, it holds messages in its own
 * queue (memory, overflowing to its backend); the first channel to appear receives that backlog.
 */
export class Topic implements ChannelHooks {
  readonly ephemeral: boolean
  readonly channels = new Map<string, Channel>()
  paused = false
  messageCount = 0
  messageBytes = 0
  exiting = false
  /** A new topic on a node with lookupd peers waits (holding messages) until the channels lookupd knows exist. */
  started = true
  /** Delivery policies (policy.ts): messages refused by a full topic, dropped by ttl, dropped by max_depth. */
  rejectedCount = 0
  expiredCount = 0
  droppedCount = 0
  /** What this topic sets for its own queue. */
  policySettings: TopicPolicySettings
  /** The policy in force, or null: a publish then pays one null check. */
  private policy: ActiveTopicPolicy | null

  private readonly ids: MessageIdGenerator
  private readonly memory = new Deque<Message>()
  private flushScheduled = false

  constructor (readonly name: string, readonly backend: BackendQueue, private readonly ctx: TopicContext) {
    this.ephemeral = isEphemeral(name)
    this.ids = new MessageIdGenerator(ctx.nodeId)
    this.paused = backend.paused
    this.policySettings = topicSettingsFromStored(backend.policy)
    this.policy = activeTopicPolicy(this.policySettings)
    backend.onReadable = () => {
      if (this.policy !== null && this.policy.maxDepth > 0 && !this.policy.reject) this.trim(this.policy)
      this.scheduleFlush()
    }
    // Deferred messages held over a restart wait for a channel again, with what is left of their delay.
    const now = Date.now()
    for (const { record, dueAt } of backend.takeKept()) {
      const msg = Message.fromStored(record)
      msg.deferMs = Math.max(0, dueAt - now)
      this.memory.push(msg)
    }
  }

  get depth (): number {
    return this.memory.length + this.backend.depth
  }

  get memoryDepth (): number {
    return this.memory.length
  }

  get backendDepth (): number {
    return this.backend.depth
  }

  // ---- channels ----

  getChannel (name: string): Channel {
    let channel = this.channels.get(name)
    if (channel !== undefined) return channel
    const ephemeral = isEphemeral(name)
    const ctx = this.ctx
    const latency = ctx.e2ePercentiles.length > 0 ? new LatencyStats(ctx.e2ePercentiles, ctx.e2eWindowMs) : undefined
    const limits = {
      memQueueSize: ctx.memQueueSize,
      maxMsgTimeoutMs: ctx.maxMsgTimeoutMs,
      policyDefaults: ctx.channelPolicyDefaults,
    }
    const backend = ctx.backendFor(`${this.name}:${name}`, ephemeral || this.ephemeral)
    channel = new Channel(this.name, name, backend, limits, this, latency)
    this.channels.set(name, channel)
    this.ctx.channelCreated(this, channel)
    this.scheduleFlush()
    return channel
  }

  async deleteChannel (name: string): Promise<boolean> {
    const channel = this.channels.get(name)
    if (channel === undefined) return false
    this.channels.delete(name)
    channel.stop()
    await channel.backend.delete()
    this.ctx.channelDeleted(this, channel)
    if (this.channels.size === 0 && this.ephemeral) this.ctx.ephemeralTopicIdle(this)
    return true
  }

  ephemeralChannelIdle (channel: Channel): void {
    if (this.channels.get(channel.name) === channel) void this.deleteChannel(channel.name)
  }

  republish (topic: string, msg: Message): void {
    this.ctx.topic(topic).publish(msg.body)
  }

  // ---- publishing ----

  /**
   * PUB, DPUB (`deferMs`) and MPUB (an array of bodies), over TCP and HTTP. Returns what the publisher must wait for
   * before it answers OK: the store write that holds what the publish queued, or undefined when it may answer at once
   * (its messages are in memory, or in the default mode handed to the store's writes while these keep up: see
   * LevelStore.publishWait). Never answer OK before that write has landed (synced, in --durable mode, where every
   * publish to a non-ephemeral topic writes); if it fails, the publish failed. A write is shared by every publish of
   * its turns, and waiting on it costs a callback per write (PendingWrite.onSettled), or one promise (settled()) for
   * an HTTP request.
   */
  publish (bodies: Buffer | readonly Buffer[], deferMs = 0): PendingWrite | undefined {
    const mark = this.ctx.writeMark()
    const now = Date.now()
    if (Buffer.isBuffer(bodies)) {
      // The one copy a published body gets: into its message's stored form.
      this.put(Message.publish(this.ids, bodies, deferMs, now))
    } else {
      // Every body was checked before any is queued: all or nothing, with one timestamp.
      for (let i = 0; i < bodies.length; i++) this.put(Message.publish(this.ids, bodies[i] as Buffer, deferMs, now))
    }
    return this.ctx.publishWait(mark)
  }

  /** A new message: straight to the channels when it can flow, else into the topic's own queue. */
  private put (msg: Message): void {
    this.messageCount++
    this.messageBytes += msg.bodyLength
    if (this.canFlow() && this.depth === 0) {
      this.fanOut(msg)
      return
    }
    this.hold(msg)
  }

  private canFlow (): boolean {
    return this.started && this.channels.size > 0 && !this.paused && !this.exiting
  }

  start (): void {
    this.started = true
    this.scheduleFlush()
  }

  private hold (msg: Message): void {
    // Deferred messages stay in memory so that their delay is not lost to the stored form; a durable backend keeps a
    // copy with its due time. Nothing else waits in memory only when the backend is durable.
    if (msg.deferMs > 0) {
      this.memory.push(msg)
      if (this.backend.durable) this.backend.keep(msg.toStored(), Date.now() + msg.deferMs)
    } else if (this.memory.length < this.ctx.memQueueSize && !this.backend.durable) {
      this.memory.push(msg)
    } else {
      this.backend.put(msg.toStored())
    }
    if (this.policy !== null && this.policy.maxDepth > 0 && !this.policy.reject) this.trim(this.policy)
    this.scheduleFlush()
  }

  private fanOut (msg: Message): void {
    // The original goes to the last channel: a channel's put consumes the message's deferral, so every copy must be
    // made before it (otherwise only the first channel of a DPUB would defer it).
    let left = this.channels.size
    for (const channel of this.channels.values()) {
      channel.put(--left === 0 ? msg : msg.copy())
    }
  }

  private scheduleFlush (): void {
    if (this.flushScheduled || !this.canFlow() || this.depth === 0) return
    this.flushScheduled = true
    queueMicrotask(this.flush)
  }

  /** Moves the held backlog to the channels, oldest first. */
  private readonly flush = (): void => {
    this.flushScheduled = false
    const policy = this.policy
    const now = policy === null ? 0 : Date.now()
    while (this.canFlow()) {
      const msg = this.memory.shift() ?? this.readBackend()
      if (msg === undefined) return
      if (policy !== null && policy.ttlMs > 0 && now - msg.timestampMs > policy.ttlMs) {
        this.expiredCount++
        this.backend.ack(msg.id)
        continue
      }
      this.fanOut(msg)
      // Durable: the channels now hold their copies (stored in the same write), so the topic's record can go.
      this.backend.ack(msg.id)
    }
  }

  private readBackend (): Message | undefined {
    const record = this.backend.read()
    return record === undefined ? undefined : Message.fromStored(record)
  }

  // ---- delivery policies (docs/policies.md) ----

  /**
   * A PUB, DPUB or MPUB of `count` messages to a full topic with overflow=reject is refused whole (MPUB stays all or
   * nothing); true when refused, counted. Only publishers are refused: dead letters and redrives always get in.
   */
  refuses (count: number): boolean {
    if (this.policy === null || !this.policy.reject || this.depth + count <= this.policy.maxDepth) return false
    this.rejectedCount += count
    return true
  }

  policyJson (): TopicPolicy {
    return topicPolicyJson(this.policySettings)
  }

  /** Whether /stats shows this topic's policy and counts: a policy set, or something counted. */
  get reportsPolicy (): boolean {
    return !isEmptySettings(this.policySettings) || this.rejectedCount + this.expiredCount + this.droppedCount > 0
  }

  setPolicy (settings: TopicPolicySettings): void {
    this.policySettings = settings
    this.policy = activeTopicPolicy(settings)
    this.backend.setPolicy(isEmptySettings(settings) ? undefined : settingsToStored(settings))
    if (this.policy !== null && this.policy.maxDepth > 0 && !this.policy.reject) this.trim(this.policy)
  }

  /**
   * Held past max_depth with overflow=drop-oldest: the oldest go, the older of the memory's and the backend's heads
   * each time. Stops while the oldest may still be on disk, loading (onReadable resumes).
   */
  private trim (policy: ActiveTopicPolicy): void {
    while (this.depth > policy.maxDepth) {
      const record = this.backend.head()
      const inMemory = this.memory.peek()
      let msg: Message | undefined
      if (record === undefined) msg = this.backend.depth > 0 ? undefined : this.memory.shift()
      else if (inMemory !== undefined && inMemory.timestampMs <= timestampMsOf(record)) msg = this.memory.shift()
      else msg = this.readBackend()
      if (msg === undefined) return
      this.droppedCount++
      this.backend.ack(msg.id)
    }
  }

  // ---- admin ----

  pause (): void {
    this.paused = true
    this.backend.setPaused(true)
  }

  unpause (): void {
    this.paused = false
    this.backend.setPaused(false)
    this.scheduleFlush()
  }

  /** Drops the topic's own queue; channels keep theirs. */
  async empty (): Promise<void> {
    this.memory.clear()
    await this.backend.empty()
  }

  /** Messages held by the topic itself, for a clean shutdown. */
  takeHeld (): Message[] {
    return this.memory.drain()
  }

  stop (): void {
    this.exiting = true
    for (const channel of this.channels.values()) channel.stop()
  }
}
