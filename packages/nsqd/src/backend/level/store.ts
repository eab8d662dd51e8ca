import { mkdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { silentLogger, type Logger } from '@nsqts/protocol'
import type { PendingWrite } from '../types.js'
import { KIND_QUEUED, KIND_KEPT, recordKey, recordRangeEnd, entryKey, asideKey, encodeEntry } from './format.js'
import { WritePipeline, type Db } from './write-pipeline.js'
import { openDb, checkFormat, scanDb, isDamage, type FoundQueue } from './recovery.js'
import { LevelQueue } from './queue.js'
import { Reclaimer } from './reclaim.js'

/** The directory inside --data-path that holds the database; LevelDB's LOCK file in it is the data path's lock. */
export const DB_DIR = 'nsqd.leveldb'

/**
 * What damage the store found and worked around: values set aside under 'x' (unreadable entries, chunks or kept
 * records; at this start, an earlier one, or since), records skipped in ranges that could not be read, whether
 * LevelDB had to repair the database at this start, and how many bytes of its log it dropped while recovering it.
 * /stats shows it when any of it is not zero.
 */
export interface StoreDamage {
  setAside: number
  skippedRecords: number
  repaired: boolean
  droppedLogBytes: number
}

export interface LevelStoreOptions {
  /** Records stay until acknowledged and every write that stores one is synced before it counts as done. */
  durable?: boolean
  /** Default mode: sync after this many records written or removed (NSQ's --sync-every). */
  syncEvery?: number
  /** Default mode: sync this long (ms) after an unsynced write (NSQ's --sync-timeout). */
  syncTimeout?: number
  /** At most this many records of one queue are held in memory ahead of its reader, and at most cacheBytes. */
  cacheRecords?: number
  cacheBytes?: number
  logger?: Logger
  /** A write failed (with its error) or, after one failed, succeeded again (undefined). */
  onHealth?: (error: Error | undefined) => void
}

/**
 * The level-backed store: one LevelDB database per --data-path holding every durable queue, their topics' and
 * channels' entries (names, paused flags) and nothing else. It is the registry of queues (queue.ts) by name; their
 * writes go through one pipeline (write-pipeline.ts), and what the database held at open was read by recovery.ts.
 */
export class LevelStore {
  readonly durable: boolean
  readonly cacheRecords: number
  readonly cacheBytes: number
  readonly logger: Logger
  readonly pipeline: WritePipeline
  readonly reclaimer: Reclaimer
  readonly damage: StoreDamage

  private readonly found: Map<number, FoundQueue>
  private readonly foundByName = new Map<string, number>()
  private readonly live = new Map<string, LevelQueue>()
  private readonly opened = new Set<number>()
  private nextId: number
  /** False when an entry could not be read: then queues without an entry are kept, not dropped, at start. */
  private readonly entriesClean: boolean
  private closed = false

  private constructor (readonly db: Db, readonly location: string, opts: LevelStoreOptions,
    found: Map<number, FoundQueue>, entriesClean: boolean, damage: StoreDamage) {
    this.damage = damage
    this.durable = opts.durable ?? false
    this.cacheRecords = Math.max(1, opts.cacheRecords ?? 2048)
    this.cacheBytes = Math.max(1, opts.cacheBytes ?? 8 * 1024 * 1024)
    this.logger = opts.logger ?? silentLogger
    this.pipeline = new WritePipeline(db, location, {
      durable: this.durable,
      syncEvery: opts.syncEvery ?? 2500,
      syncTimeout: opts.syncTimeout ?? 2000,
      logger: this.logger,
      onHealth: opts.onHealth ?? (() => {}),
    })
    this.reclaimer = new Reclaimer(db, this.logger)
    this.found = found
    for (const [id, q] of found) if (q.name !== undefined) this.foundByName.set(q.name, id)
    this.entriesClean = entriesClean
    let max = -1
    for (const id of found.keys()) max = Math.max(max, id)
    this.nextId = max + 1
  }

  /**
   * Opens (creating it if needed) the store of a data path. Fails with a clear message when another nsqd holds the
   * path; a damaged database is repaired, and damaged entries or records are set aside, so bad data never stops a
   * start.
   */
  static async open (dataPath: string, opts: LevelStoreOptions = {}): Promise<LevelStore> {
    const logger = opts.logger ?? silentLogger
    const location = join(dataPath, DB_DIR)
    for (const dir of [dataPath, location]) {
      const kind = await stat(dir).catch(() => undefined)
      if (kind !== undefined && !kind.isDirectory()) throw new Error(`${dir} is not a directory`)
    }
    await mkdir(dataPath, { recursive: true })
    let opened = await openDb(location, dataPath, logger)
    for (;;) {
      try {
        await checkFormat(opened.db, location)
        const scan = await scanDb(opened.db, logger)
        const damage: StoreDamage = {
          setAside: scan.setAside,
          skippedRecords: 0,
          repaired: opened.repaired,
          droppedLogBytes: opened.droppedLogBytes,
        }
        return new LevelStore(opened.db, location, opts, scan.found, scan.entriesClean, damage)
      } catch (err) {
        await opened.db.close()
        // A table that LevelDB cannot read while counting the records: repair once (it keeps what it can read).
        if (opened.repaired || !isDamage(err)) throw err
        const droppedLogBytes = opened.droppedLogBytes
        opened = await openDb(location, dataPath, logger, (err as Error).message)
        opened.droppedLogBytes += droppedLogBytes
      }
    }
  }

  // ---- queues ----

  /** Topics and channels found at open, topics first, with their paused flags. */
  entries (): Array<{ name: string, paused: boolean }> {
    const out: Array<{ name: string, paused: boolean }> = []
    for (const q of this.found.values()) if (q.name !== undefined) out.push({ name: q.name, paused: q.paused })
    return out.sort((a, b) => Number(a.name.includes(':')) - Number(b.name.includes(':')) || (a.name < b.name ? -1 : 1))
  }

  /** The queue of a topic or channel: the one found on disk at open, or a new, empty one. */
  queue (name: string): LevelQueue {
    if (this.closed) throw new Error('store is closed')
    const foundId = this.foundByName.get(name)
    if (foundId !== undefined) {
      // Found on disk: the first topic or channel of this name since the start takes it over.
      this.foundByName.delete(name)
      this.opened.add(foundId)
      const q = new LevelQueue(this, foundId, name, this.found.get(foundId))
      this.live.set(name, q)
      return q
    }
    const id = this.nextId++
    this.opened.add(id)
    const q = new LevelQueue(this, id, name, undefined)
    this.live.set(name, q)
    this.putEntry(q)
    return q
  }

  /**
   * Drops what no topic or channel claimed after a start restored them: records of deleted queues whose removal a
   * crash interrupted. Kept when some entry was unreadable, since those records may be its.
   */
  async collectGarbage (): Promise<void> {
    const orphans = [...this.found.keys()].filter((id) => !this.opened.has(id))
    if (orphans.length === 0) return
    if (!this.entriesClean) {
      this.logger.warn(`store: keeping ${orphans.length} queue(s) without a readable entry (ids ${orphans.join(',')})`)
      return
    }
    await Promise.all(orphans.map(async (id) => {
      const found = this.found.get(id) as FoundQueue
      if (found.name !== undefined) this.pipeline.op({ type: 'del', key: entryKey(found.name) }, false)
      this.logger.info(`store: dropping ${found.count + found.kept.length} record(s) of deleted queue ${found.name ?? `#${id}`}`)
      await this.dropRecords(id)
    }))
  }

  /** @internal the entry of a queue changed (created, paused, its policy set). */
  putEntry (q: LevelQueue): void {
    if (this.live.get(q.name) !== q) return
    this.pipeline.op({ type: 'put', key: entryKey(q.name), value: encodeEntry({ id: q.id, paused: q.paused, ...(q.policy === undefined ? {} : { policy: q.policy }) }) }, this.durable)
  }

  /** @internal a queue was deleted: its entry (unless a newer queue took the name) and every record go. */
  async deleteQueue (q: LevelQueue): Promise<void> {
    if (this.live.get(q.name) === q) {
      this.live.delete(q.name)
      this.pipeline.op({ type: 'del', key: entryKey(q.name) }, this.durable)
    }
    await this.dropRecords(q.id)
  }

  private async dropRecords (id: number): Promise<void> {
    this.reclaimer.forget(id)
    await Promise.all([
      this.pipeline.clear(recordKey(KIND_QUEUED, id, 0), recordRangeEnd(KIND_QUEUED, id)),
      this.pipeline.clear(recordKey(KIND_KEPT, id, 0), recordRangeEnd(KIND_KEPT, id)),
    ])
  }

  /** @internal a value that could not be read: kept under 'x' for a person to look at, and out of the queue. */
  setAside (key: Buffer, value: Buffer, what: string): void {
    this.logger.error(`store: ${what} - set aside as x${key.toString('hex')}`)
    this.damage.setAside++
    this.pipeline.op({ type: 'put', key: asideKey(key), value }, false)
    this.pipeline.op({ type: 'del', key }, false)
  }

  // ---- writes (write-pipeline.ts) ----

  /** A position in the stream of operations, to learn later whether a publish wrote anything. */
  mark (): number {
    return this.pipeline.mark()
  }

  /** The write that stores what was queued since `mark`, or undefined when nothing was. */
  writeSince (mark: number): PendingWrite | undefined {
    return this.pipeline.writeSince(mark)
  }

  /** See WritePipeline.publishWait: what a publish waits for before it answers, if anything. */
  publishWait (mark: number): PendingWrite | undefined {
    return this.pipeline.publishWait(mark)
  }

  /** The write pipeline's counters (WritePipeline.counters), since the store opened. */
  get counters (): WritePipeline['counters'] {
    return this.pipeline.counters
  }

  /** Bytes of records queued and not yet written. */
  get unwrittenBytes (): number {
    return this.pipeline.unwritten
  }

  /** Test and drill seam: while set, every write first waits for `delay()`, as a slow disk would make it. */
  injectWriteDelay (delay: (() => Promise<void>) | undefined): void {
    this.pipeline.faults.injectWriteDelay(delay)
  }

  /** Test and drill seam: while set, every write fails with this error, as a full or broken disk would make it. */
  injectWriteFault (err: Error | undefined): void {
    this.pipeline.faults.injectWriteFault(err)
  }

  /** Writes everything queued with a final sync and releases the database and the data path's lock. */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.pipeline.startClosing()
    for (const q of this.live.values()) q.closeReads()
    await this.reclaimer.close()
    await this.pipeline.drain()
    await this.db.close()
  }
}
