/**
 * Where a topic's or channel's messages go past --mem-queue-size. Records are messages in their stored form
 * ([ts][attempts][id][body]). The interface is synchronous for the broker's hot path; an implementation that reads
 * from disk keeps a read-ahead and announces through onReadable when records arrive after read() came back empty.
 */
export interface BackendQueue {
  /** Records stored and not yet read. */
  readonly depth: number
  put (record: Buffer): void
  /** The next record when one is ready now; undefined when the queue is empty or a read is still loading. */
  read (): Buffer | undefined
  /** Set by the owner: called when read() may return a record again. */
  onReadable: (() => void) | undefined
  /** Drops every record. */
  empty (): Promise<void>
  /** Flushes and releases the queue, keeping its records. */
  close (): Promise<void>
  /** Releases the queue and removes its records. */
  delete (): Promise<void>
}

/** Makes the backend of a topic (`topic`) or channel (`topic:channel`). */
export type BackendFactory = (name: string) => BackendQueue
