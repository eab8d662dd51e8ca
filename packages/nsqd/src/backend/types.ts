/**
 * Where a topic's or channel's messages go past --mem-queue-size. Records are messages in their stored form
 * ([ts][attempts][id][body]). The interface is synchronous for the broker's hot path; an implementation that reads
 * from disk keeps a read-ahead and announces through onReadable when records arrive after read() came back empty.
 *
 * Two kinds of record: queued ones (put, read back in order) and kept ones (keep: a message its owner holds itself,
 * deferred until a due time, which only comes back after a restart through takeKept()).
 */
export interface BackendQueue {
  /** Records stored and not yet read. */
  readonly depth: number
  /**
   * True when records stay stored until ack(): the owner's delivered and deferred messages are on disk too, so a crash
   * loses none of them. False for the default mode, where reading a record consumes it.
   */
  readonly durable: boolean
  /** The paused flag stored for this topic or channel; false for a new one. */
  readonly paused: boolean
  /**
   * The delivery policy stored for this topic or channel (policy.ts's stored form, opaque here); undefined when none
   * is set.
   */
  readonly policy: StoredPolicy | undefined
  /**
   * Queues a record. In a durable queue this replaces the stored record of the same message id that was read or kept
   * before (a requeue): that one goes in the same write or a later one, never before the new one is stored.
   */
  put (record: Buffer): void
  /** The next record when one is ready now; undefined when the queue is empty or a read is still loading. */
  read (): Buffer | undefined
  /**
   * The record read() would return now, left in place; undefined when none is ready (a queue with records on disk
   * starts loading them, and calls onReadable once they are).
   */
  head (): Buffer | undefined
  /** Set by the owner: called when read() may return a record again. */
  onReadable: (() => void) | undefined
  /**
   * Stores a message that its owner holds outside the queue, deferred until `dueAt` (ms since the epoch), so that it
   * survives a restart with its delay. Like put, replaces a durable queue's earlier record of the same id.
   */
  keep (record: Buffer, dueAt: number): void
  /** The message with this id is finished: a durable queue drops its record; otherwise nothing to do. */
  ack (id: string): void
  /** The kept records found when the queue was opened, oldest first; each is handed over once. */
  takeKept (): KeptRecord[]
  /** Remembers the paused flag of the topic or channel across restarts. */
  setPaused (paused: boolean): void
  /** Remembers the delivery policy of the topic or channel across restarts (undefined: none). */
  setPolicy (policy: StoredPolicy | undefined): void
  /**
   * The next `n` queued records, oldest first, as read() would return them, without reading them: nothing changes
   * (depth, read position, what the queue holds). A snapshot: records read or put while it runs may or may not show.
   */
  peek (n: number): Promise<Buffer[]>
  /** Drops every record. */
  empty (): Promise<void>
  /** Flushes and releases the queue, keeping its records. */
  close (): Promise<void>
  /** Releases the queue and removes its records. */
  delete (): Promise<void>
}

/** A delivery policy as stored with a topic's or channel's metadata: JSON, its meaning policy.ts's. */
export type StoredPolicy = Record<string, string | number>

export interface KeptRecord {
  record: Buffer
  /** When the message is due (ms since the epoch). */
  dueAt: number
}

/** Makes the backend of a topic (`topic`) or channel (`topic:channel`). */
export type BackendFactory = (name: string) => BackendQueue

/**
 * One group-committed write of the store, as a publisher waits for it before answering OK. Several publishes share
 * one: whatever was queued in the same turn goes in the same write.
 */
export interface PendingWrite {
  /** undefined while under way; null once stored; the error when the write failed. */
  readonly outcome: Error | null | undefined
  /** Calls `cb` once the outcome is known (at once when it is). */
  onSettled (cb: () => void): void
  /** The outcome as a promise: resolves once stored, rejects with the write's error. */
  settled (): Promise<void>
}
