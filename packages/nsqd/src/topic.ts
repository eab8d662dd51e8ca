import { isEphemeral, MessageIdGenerator } from '@nsqts/protocol'
import { Channel, type ChannelHooks } from './channel.js'
import { Deque } from './deque.js'
import { Message } from './message.js'
import { LatencyStats } from './latency.js'
import type { BackendQueue, PendingWrite } from './backend/types.js'

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
  /** The write that stores what was queued since `mark`, or undefined when nothing was (LevelStore.writeSince). */
  writeSince (mark: number): PendingWrite | undefined
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

  private readonly ids: MessageIdGenerator
  private readonly memory = new Deque<Message>()
  private flushScheduled = false

  constructor (readonly name: string, readonly backend: BackendQueue, private readonly ctx: TopicContext) {
    this.ephemeral = isEphemeral(name)
    this.ids = new MessageIdGenerator(ctx.nodeId)
    this.paused = backend.paused
    backend.onReadable = () => this.scheduleFlush()
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

  generateId (): string {
    return this.ids.next()
  }

  // ---- channels ----

  getChannel (name: string): Channel {
    let channel = this.channels.get(name)
    if (channel !== undefined) return channel
    const ephemeral = isEphemeral(name)
    const latency = this.ctx.e2ePercentiles.length > 0 ? new LatencyStats(this.ctx.e2ePercentiles, this.ctx.e2eWindowMs) : undefined
    channel = new Channel(this.name, name, this.ctx.backendFor(`${this.name}:${name}`, ephemeral || this.ephemeral),
      { memQueueSize: this.ctx.memQueueSize, maxMsgTimeoutMs: this.ctx.maxMsgTimeoutMs }, this, latency)
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

  // ---- publishing ----

  /**
   * PUB, DPUB (`deferMs`) and MPUB (an array of bodies), over TCP and HTTP. Returns what the publisher must wait for
   * before it answers OK: the store write that holds what the publish queued, or undefined when it wrote nothing (its
   * messages are in memory) and may answer at once. Never answer OK before that write has landed (synced, in
   * --durable mode, where every publish to a non-ephemeral topic writes); if it fails, the publish failed. A write is
   * shared by every publish of its turns, and waiting on it costs a callback per write (PendingWrite.onSettled), or
   * one promise (settled()) for an HTTP request.
   */
  publish (bodies: Buffer | readonly Buffer[], deferMs = 0): PendingWrite | undefined {
    const mark = this.ctx.writeMark()
    if (Buffer.isBuffer(bodies)) {
      // The one copy a published body gets: into its message's stored form.
      this.put(Message.create(this.generateId(), bodies, deferMs))
    } else {
      // Every body was checked before any is queued: all or nothing, with one timestamp.
      const now = Date.now()
      const msgs = bodies.map((b) => Message.create(this.generateId(), b, deferMs, now))
      for (const msg of msgs) this.put(msg)
    }
    return this.ctx.writeSince(mark)
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
    while (this.canFlow()) {
      const msg = this.memory.shift() ?? this.readBackend()
      if (msg === undefined) return
      this.fanOut(msg)
      // Durable: the channels now hold their copies (stored in the same write), so the topic's record can go.
      this.backend.ack(msg.id)
    }
  }

  private readBackend (): Message | undefined {
    const record = this.backend.read()
    return record === undefined ? undefined : Message.fromStored(record)
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
