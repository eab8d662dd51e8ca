import { Deque } from './deque.js'
import { Message, timestampMsOf } from './message.js'
import type { BackendQueue } from './backend/types.js'

/**
 * A channel's queued messages: a bounded memory FIFO that overflows to the backend. Each of the two is in order;
 * reads alternate between them while both hold messages, so neither starves.
 */
export class ChannelQueue {
  private readonly memory = new Deque<Message>()
  private preferBackend = false
  private readableWaiters: Array<() => void> = []

  constructor (readonly backend: BackendQueue, private readonly memQueueSize: number) {}

  /** Memory and backend together; in-flight and deferred messages are not queued. */
  get length (): number {
    return this.memory.length + this.backend.depth
  }

  get memoryLength (): number {
    return this.memory.length
  }

  push (msg: Message): void {
    // A durable backend must hold every message, so nothing waits in memory only; its read-ahead serves readers.
    if (this.memory.length < this.memQueueSize && !this.backend.durable) {
      this.memory.push(msg)
    } else {
      this.backend.put(msg.toStored())
    }
  }

  /** The next message to deliver; undefined when none is ready (the backend may still be loading). */
  shift (): Message | undefined {
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

  /**
   * The oldest queued message, the older of the two heads (the next one shift() gives need not be the oldest).
   * Undefined while the backend's oldest may still be on disk, loading: it calls its onReadable once it is not.
   */
  takeOldest (): Message | undefined {
    const record = this.backend.head()
    if (record === undefined) return this.backend.depth > 0 ? undefined : this.memory.shift()
    const inMemory = this.memory.peek()
    if (inMemory !== undefined && inMemory.timestampMs <= timestampMsOf(record)) return this.memory.shift()
    return this.readBackend()
  }

  /**
   * The next `n` queued messages in the order shift() would give them, in stored form with their attempts; nothing
   * changes.
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
   * Takes up to `n` messages (at most the length when it starts) one at a time and hands each to `take`, until
   * `stopped` says so. Yields to the event loop between batches; waits for records still on disk.
   */
  async takeEach (n: number, take: (msg: Message) => void, stopped: () => boolean): Promise<number> {
    const limit = Math.min(n, this.length)
    let taken = 0
    while (taken < limit && !stopped()) {
      const msg = this.shift()
      if (msg === undefined) {
        if (this.length === 0) break
        await this.readable()
        continue
      }
      take(msg)
      taken++
      if (taken % 256 === 0) await new Promise<void>((resolve) => setImmediate(resolve))
    }
    return taken
  }

  /** Resolves when the backend says records are readable again, or after 100 ms (a load that found nothing). */
  private readable (): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, 100)
      this.readableWaiters.push(() => { clearTimeout(timer); resolve() })
    })
  }

  /** The backend says records are readable again (its onReadable, which the channel owns). */
  readableAgain (): void {
    const waiters = this.readableWaiters
    this.readableWaiters = []
    for (const wake of waiters) wake()
  }

  /** Drops the messages in memory (the backend empties itself). */
  clearMemory (): void {
    this.memory.clear()
  }

  /** Removes and returns the messages in memory, oldest first. */
  drainMemory (): Message[] {
    return this.memory.drain()
  }
}
