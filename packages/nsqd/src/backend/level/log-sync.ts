import { open, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from '@nsqts/protocol'
import { KIND_QUEUED, KIND_SYNC, kindStart, markerKeyAfter, recordKey } from './format.js'
import { Chunk, type LevelOp } from './chunk.js'

/** LevelDB's write-ahead logs in its directory: `<number>.log`. */
const LOG_FILE = /^\d+\.log$/

/**
 * The default mode's syncs (--sync-every, --sync-timeout), made from beside LevelDB: an fdatasync of each of its log
 * files by a descriptor of our own.
 *
 * Why not a synced LevelDB write: LevelDB holds its writer while it syncs the log, so the write after it waits, and
 * the write pipeline writes one batch at a time. At NSQ's --sync-every of 2500 every large write was synced, and
 * under batched publishes the syncs (median 1.6 ms each here) kept the pipeline waiting.
 *
 * Why it is as durable: an unsynced LevelDB write has handed every byte of its log record to the kernel (write(2))
 * before it returns, and an fdatasync by any descriptor flushes the file's data. So what was written before a sync
 * starts is on the disk when it ends. Writes made while it runs are the next sync's. The logs are the current one
 * and, while its memtable is being written out as a table, the one before it; LevelDB syncs that table before it
 * deletes the old log, so a log gone by the time it is opened holds nothing the disk lacks.
 *
 * One sync runs at a time; one asked for meanwhile follows it. A failed sync is logged and the count starts again,
 * as NSQ's disk queue does.
 */
export class LogSync {
  private running: Promise<void> | undefined
  private again = false

  /**
   * `synced`: a sync ended; `noLog`: no log file was found where LevelDB keeps them, so LevelDB must sync its log
   * itself, as part of a write.
   */
  constructor (private readonly location: string, private readonly logger: Logger,
    private readonly synced: () => void, private readonly noLog: () => void) {}

  /** Syncs everything written so far, without holding up the writes that follow. */
  request (): void {
    if (this.running !== undefined) {
      this.again = true
      return
    }
    this.running = this.run().finally(() => { this.running = undefined })
  }

  /** Resolves once no sync runs nor is asked for. */
  async settled (): Promise<void> {
    while (this.running !== undefined) await this.running
  }

  private async run (): Promise<void> {
    do {
      this.again = false
      try {
        if ((await this.syncFiles()).length > 0) this.synced()
        else this.noLog()
      } catch (err) {
        this.logger.error(`store: failed to sync ${this.location} - ${(err as Error).message}`)
      }
    } while (this.again)
  }

  /** Syncs every log file there is now and returns their names. */
  async syncFiles (): Promise<string[]> {
    const names = (await readdir(this.location)).filter((name) => LOG_FILE.test(name))
    const done: string[] = []
    for (const name of names) {
      let file
      try {
        // Opened for writing though nothing is written: Windows flushes a file only through a handle that may write.
        file = await open(join(this.location, name), 'r+')
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue
        throw err
      }
      try {
        await file.datasync()
      } finally {
        await file.close()
      }
      done.push(name)
    }
    return done
  }
}

/**
 * An operation for a write that only syncs what came before it, at close or when no log file could be synced
 * (LevelDB syncs its log only as part of a write, and classic-level skips an empty batch): the removal of a key that
 * cannot exist, right after `after`, the last record key queued or chunk opened. LevelDB's tables cover key ranges,
 * and a table whose range spans keys written later is merged with every table that holds them; a marker after all
 * the queues (the key 's', still used before any record) made every table it landed in such a table, and under a
 * steady publish load LevelDB rewrote all of its level 1 each second.
 */
export function syncMarker (after: Buffer | Chunk | undefined): LevelOp {
  if (after === undefined) return { type: 'put', key: kindStart(KIND_SYNC), value: Buffer.from(String(Date.now())) }
  // A chunk has its key once it is sealed (the key holds the count); until then the start of it stands in for it.
  const key = after instanceof Chunk ? after.key ?? recordKey(KIND_QUEUED, after.queue.id, after.first) : after
  return { type: 'del', key: markerKeyAfter(key) }
}
