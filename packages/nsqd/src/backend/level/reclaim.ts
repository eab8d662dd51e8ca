import type { Logger } from '@nsqts/protocol'
import type { PendingWrite } from '../types.js'
import type { Db } from './write-pipeline.js'
import { compactRange } from './recovery.js'

/** Bytes of chunks read back from disk and then removed, per queue, between two compactions of their keys. */
export const RECLAIM_AFTER_BYTES = 16 * 1024 * 1024
/** Once a queue has read its whole backlog, as little as this is compacted at once. */
export const RECLAIM_DRAINED_BYTES = 1024 * 1024

interface Removed {
  from: Buffer
  to: Buffer
  bytes: number
  /** The queue had nothing more to read at the last removal. */
  drained: boolean
  /** The write that removes the last of them: the compaction must come after it. */
  write: PendingWrite
  reader: QueueReader
}

/** What the reclaim needs of the queue that read the records. */
export interface QueueReader {
  /** Closes the iterator the queue reads the disk with, if one is open; resolves once it is closed. */
  releaseReader (): Promise<void>
}

/**
 * Gives back the memory of tables whose records were read and removed. LevelDB reads its tables through mmap: every
 * page a read touched stays resident, counted in nsqd's RSS, for as long as its table is open, that is until a
 * compaction replaces it. A backlog read while little is written sets off no compaction, so the pages of every table
 * read stayed (some 30 MB at the peak of NSQ's benchmark reader). Once a queue removed RECLAIM_AFTER_BYTES of chunks
 * it had read back (or RECLAIM_DRAINED_BYTES once it read all it had), the key range of those chunks is compacted:
 * the tables that held only removed records go, and with them their mappings. LevelDB deletes a replaced table only
 * when no iterator still sees it, and looks for such tables only as a compaction ends: the read-ahead lets go of its
 * iterator once it has read all it can see. And a compaction drops a removed record only when no open iterator's
 * snapshot still holds it: the queue's iterator, opened before the removals, does, and a compaction under it rewrote
 * the records with their removals beside them rather than dropping them. So the queue closes it first (its next load
 * opens another). One compaction at a time, for the whole store.
 */
export class Reclaimer {
  private readonly removed = new Map<number, Removed>()
  private running: Promise<void> | undefined
  /** The compaction itself, once its removals landed: what a close waits for (not a write that may never land). */
  private compacting: Promise<void> | undefined
  private closed = false

  constructor (private readonly db: Db, private readonly logger: Logger) {}

  /**
   * Queue `queueId` removes, in `write`, a chunk at `key` that was read back as `bytes` bytes; `drained`: it has no
   * record left to read; `reader`: what read it, whose iterator goes before the compaction.
   */
  chunkRemoved (queueId: number, key: Buffer, bytes: number, write: PendingWrite, drained: boolean,
    reader: QueueReader): void {
    const r = this.removed.get(queueId)
    if (r === undefined) {
      this.removed.set(queueId, { from: key, to: key, bytes, drained, write, reader })
    } else {
      if (Buffer.compare(key, r.from) < 0) r.from = key
      if (Buffer.compare(key, r.to) > 0) r.to = key
      r.bytes += bytes
      r.drained = drained
      r.write = write
    }
    this.next()
  }

  /** The queue went (its records were cleared): nothing of it is left to compact. */
  forget (queueId: number): void {
    this.removed.delete(queueId)
  }

  private next (): void {
    if (this.running !== undefined || this.closed) return
    for (const [queueId, r] of this.removed) {
      if (r.bytes < (r.drained ? RECLAIM_DRAINED_BYTES : RECLAIM_AFTER_BYTES)) continue
      this.removed.delete(queueId)
      this.running = this.compact(r).finally(() => {
        this.running = undefined
        this.next()
      })
      return
    }
  }

  private async compact (r: Removed): Promise<void> {
    try {
      await r.write.settled()
    } catch {
      // The removals did not land: nothing to reclaim; the chunks are read again after a restart.
      return
    }
    if (this.closed) return
    await r.reader.releaseReader()
    if (this.closed) return
    this.compacting = compactRange(this.db, r.from, r.to).catch((err: unknown) => {
      if (!this.closed) this.logger.error(`store: failed to compact removed records - ${(err as Error).message}`)
    })
    await this.compacting
    this.compacting = undefined
  }

  /** @internal for tests: resolves once no compaction is under way, nor one that it started. */
  async settled (): Promise<void> {
    while (this.running !== undefined) await this.running
  }

  /**
   * The store closes: no compaction starts from now on, and one under way ends first. One still waiting for its
   * removals to land is dropped: on a failing disk they may never land, and the close must not wait on them.
   */
  async close (): Promise<void> {
    this.closed = true
    await this.compacting
  }
}
