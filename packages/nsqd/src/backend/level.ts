import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { Level } from 'level'
import { silentLogger, type Logger } from '@nsqts/protocol'
import { Deque } from '../deque.js'
import type { BackendQueue, KeptRecord, PendingWrite } from './types.js'
import {
  FORMAT, KIND_VERSION, KIND_ENTRY, KIND_QUEUED, KIND_KEPT, KIND_SYNC, RECORD_KEY_LENGTH, CHUNK_KEY_LENGTH,
  recordKey, chunkKey, recordRangeEnd, idOfKey, seqOfKey, countOfKey, entryKey, kindStart, kindEnd, asideKey,
  encodeChunk, decodeChunk, encodeKept, decodeKept, encodeEntry, decodeEntry, messageIdOf,
} from './level-format.js'

type Db = Level<Buffer, Buffer>
/**
 * A LevelDB batch operation, or a chunk of queued records that becomes one put when its batch is written: until
 * then it takes every record its queue puts in the same write, and what was read meanwhile is left out of it.
 */
type Op = LevelOp | { type: 'chunk', chunk: Chunk }
type LevelOp = { type: 'put', key: Buffer, value: Buffer } | { type: 'del', key: Buffer }

/**
 * classic-level's own chained batch, under abstract-level's public API. The public batch copies, validates and
 * re-encodes every operation in JS (a third of the daemon's CPU in the disk benchmark), and its array form costs
 * twice the main-thread time of adding operations one by one. Ours are Buffers already, and the pipeline only writes
 * while the database is open, which is what the public checks are for.
 */
interface RawChainedBatch {
  _put (key: Buffer, value: Buffer): void
  _del (key: Buffer): void
  _clear (): void
  _write (options: { sync: boolean }): Promise<void>
}

/**
 * A write takes at most this many operations; more go into the next one. It bounds the memory of one batch, which
 * the native batch keeps as capacity once it was used.
 */
const MAX_WRITE_OPS = 16384
const MAX_WRITE_BYTES = 16 * 1024 * 1024
/**
 * While more operations than this (records put, removals) wait to be written, queues load nothing more from disk.
 * Nothing else slows a topic that moves its stored backlog to its channels, and a durable channel stores each message
 * again (synced) and removes the topic's: without it, loads outrun the writes and the backlog piles up in memory.
 */
const MAX_PENDING_OPS = MAX_WRITE_OPS

/**
 * A chunk takes at most this many records and bytes (or one record of any size): that bounds what a crash may deliver
 * twice (a chunk partly read when nsqd died comes back whole) and how far a load may overshoot the read-ahead.
 */
const MAX_CHUNK_RECORDS = 2048
const MAX_CHUNK_BYTES = 256 * 1024
/** A load reads about this much at most, in one go (native memory grows with it). */
const MAX_LOAD_BYTES = 1024 * 1024

/**
 * Consecutive records of one queue stored as one value (level-format.ts). The read-ahead hands its records out in
 * order, so what was read is always a prefix. A record is done once nothing needs it stored any more: at its read in
 * the default mode; in durable mode once its message is finished, or stored again elsewhere (requeued, deferred).
 * The chunk's key is removed once every record is done, so a chunk partly done when nsqd dies comes back whole.
 */
class Chunk {
  /** Records handed out by read(), and records done (never more than handed). */
  handed = 0
  done = 0
  /** Set once stored (or being stored): the value holds records[storedFrom..size). */
  key: Buffer | undefined
  storedFrom = 0
  /** Durable: every record was done before the chunk was stored, so its removal waits for its write to land. */
  removeOnceWritten = false
  /** While it still takes records (its write has not started): them, and their bytes. */
  records: Buffer[] | undefined
  bytes = 0

  /**
   * @param ahead the read-ahead holds its records: a chunk never mixes such records with others, so that a load from
   *   disk always starts at a chunk's first record.
   */
  constructor (readonly queue: LevelQueue, readonly first: number, public size: number, readonly ahead: boolean) {}

  /**
   * Its put, now that its write starts: the records not read yet, or nothing when all were. A durable chunk leaves
   * out its read records only when all are done and `last` says that no write follows this one: a record done because
   * its message was stored again (handed from a topic to its channels, requeued) may otherwise have that copy in a
   * later write, and this one's publishers would be answered before it is stored. Else it stores every record.
   */
  seal (last: boolean): LevelOp | undefined {
    const records = this.records as Buffer[]
    this.records = undefined
    this.storedFrom = !this.queue.durable || (last && this.done === this.handed) ? this.handed : 0
    this.removeOnceWritten = this.queue.durable && this.done === this.size && this.storedFrom < this.size
    if (this.storedFrom === records.length) return undefined
    this.key = chunkKey(this.queue.id, this.first + this.storedFrom, records.length - this.storedFrom)
    return { type: 'put', key: this.key, value: encodeChunk(records, this.storedFrom) }
  }
}

/**
 * The operations to hand to LevelDB: chunks sealed into puts, those read entirely left out. `last`: no write is
 * queued after this one (see Chunk.seal).
 */
function prepare (ops: Op[], last: boolean): LevelOp[] {
  const out: LevelOp[] = []
  for (const op of ops) {
    if (op.type !== 'chunk') out.push(op)
    else {
      const put = op.chunk.seal(last)
      if (put !== undefined) out.push(put)
    }
  }
  return out
}

/** The directory inside --data-path that holds the database; LevelDB's LOCK file in it is the data path's lock. */
export const DB_DIR = 'nsqd.leveldb'

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

/** A queue as found on disk when the store opened. */
interface FoundQueue {
  name: string | undefined
  paused: boolean
  count: number
  chunks: number
  firstSeq: number
  /** The seq past its last queued record. */
  endSeq: number
  kept: Array<{ key: Buffer, record: Buffer, dueAt: number }>
  lastKeptSeq: number
}

/**
 * One write of the pipeline: the operations of every turn since the previous write started. Whoever queued a record
 * in it can wait for its outcome.
 */
let writeSerial = 0

class Write implements PendingWrite {
  /** Names the write without holding on to it (and to its values once written). */
  readonly serial = ++writeSerial
  ops: Op[] = []
  sync = false
  /** The chunks it stores: their queues may read them from disk once it landed. */
  chunks: Chunk[] = []
  /** Records written or removed (for --sync-every), bytes queued (to bound a write), operations and records put. */
  records = 0
  bytes = 0
  pending = 0
  outcome: Error | null | undefined = undefined
  private callbacks: Array<() => void> | undefined
  private promise: Promise<void> | undefined

  onSettled (cb: () => void): void {
    if (this.outcome !== undefined) cb()
    else (this.callbacks ??= []).push(cb)
  }

  settled (): Promise<void> {
    this.promise ??= new Promise((resolve, reject) => {
      this.onSettled(() => { if (this.outcome === null) resolve(); else reject(this.outcome) })
    })
    return this.promise
  }

  settle (outcome: Error | null, logger: Logger): void {
    this.outcome = outcome
    const callbacks = this.callbacks
    this.callbacks = undefined
    if (callbacks === undefined) return
    for (const cb of callbacks) {
      try {
        cb()
      } catch (err) {
        logger.error(`store: a write's listener failed - ${String(err)}`)
      }
    }
  }

  /** The same operations, for another attempt, with nobody waiting yet. */
  retry (): Write {
    const w = new Write()
    w.ops = prepare(this.ops, false)
    w.sync = this.sync
    w.chunks = this.chunks
    w.records = this.records
    w.bytes = this.bytes
    w.pending = this.pending
    return w
  }
}

/** A range removal; it runs in pipeline order, so writes queued before it land before it. */
class Clear {
  constructor (readonly gte: Buffer, readonly lt: Buffer, readonly done: (err?: Error) => void) {}
}

/**
 * The level-backed store: one LevelDB database per --data-path holding every durable queue, their topics' and
 * channels' entries (names, paused flags) and nothing else.
 *
 * Writes are synchronous for the caller: queues append operations to the open write, and a pipeline writes one
 * LevelDB batch per turn (setImmediate), one batch at a time, in order. Operations queued while a batch is being
 * written go into the next one, so under load one batch (and, when durable, one fsync) covers every publish of
 * many turns: group commit. A queue's records of one write go in one chunk (one value), so a batch carries a put
 * per queue rather than per message. A failed batch is retried, together with what came after it, until the disk
 * takes it. While too much waits to be written, loads from disk wait for it (MAX_PENDING_OPS).
 */
export class LevelStore {
  readonly durable: boolean
  private readonly syncEvery: number
  private readonly syncTimeout: number
  readonly cacheRecords: number
  readonly cacheBytes: number
  readonly logger: Logger
  private readonly onHealth: (error: Error | undefined) => void

  /** Writes and clears in the order they must run; short, since each write takes every operation of its turns. */
  private readonly steps: Array<Write | Clear> = []
  private open: Write | undefined
  private scheduled = false
  private running = false
  private retryTimer: NodeJS.Timeout | undefined
  private retryDelay = 0
  private failing: Error | undefined
  private injectedFault: Error | undefined
  private opsSinceSync = 0
  /** Operations and records queued and not yet written, and the queues whose loads wait for them (mustWait). */
  private pending = 0
  private readonly waiting = new Set<LevelQueue>()
  private syncTimer: NodeJS.Timeout | undefined
  /** Called after every step, successful or not: what close() waits on. */
  private stepWaiters: Array<() => void> = []
  /** Operations queued since the store opened: a publisher compares it before and after to know if it wrote. */
  private opCount = 0
  /** Batches written, how many of them were synced, and failed attempts, since the store opened. */
  readonly counters = { writes: 0, syncs: 0, failures: 0 }

  /**
   * One native batch, cleared and reused for every write (writes run one at a time): a native batch is freed only
   * when the garbage collector finalizes it, which V8, blind to its size, does too late.
   */
  private nativeBatch: RawChainedBatch | undefined
  private readonly found: Map<number, FoundQueue>
  private readonly foundByName = new Map<string, number>()
  private readonly live = new Map<string, LevelQueue>()
  private readonly opened = new Set<number>()
  private nextId: number
  /** False when an entry could not be read: then queues without an entry are kept, not dropped, at start. */
  private readonly entriesClean: boolean
  private closed = false

  private constructor (readonly db: Db, readonly location: string, opts: LevelStoreOptions,
    found: Map<number, FoundQueue>, entriesClean: boolean) {
    this.durable = opts.durable ?? false
    this.syncEvery = opts.syncEvery ?? 2500
    this.syncTimeout = opts.syncTimeout ?? 2000
    this.cacheRecords = Math.max(1, opts.cacheRecords ?? 2048)
    this.cacheBytes = Math.max(1, opts.cacheBytes ?? 8 * 1024 * 1024)
    this.logger = opts.logger ?? silentLogger
    this.onHealth = opts.onHealth ?? (() => {})
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
    await mkdir(dataPath, { recursive: true })
    const location = join(dataPath, DB_DIR)
    const db = await openDb(location, dataPath, logger)
    try {
      await checkFormat(db, location)
      const scan = await scanDb(db, logger)
      return new LevelStore(db, location, opts, scan.found, scan.entriesClean)
    } catch (err) {
      await db.close()
      throw err
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
      if (found.name !== undefined) this.op({ type: 'del', key: entryKey(found.name) }, false)
      this.logger.info(`store: dropping ${found.count + found.kept.length} record(s) of deleted queue ${found.name ?? `#${id}`}`)
      await this.dropRecords(id)
    }))
  }

  /** @internal the entry of a queue changed (created, paused). */
  putEntry (q: LevelQueue): void {
    if (this.live.get(q.name) !== q) return
    this.op({ type: 'put', key: entryKey(q.name), value: encodeEntry({ id: q.id, paused: q.paused }) }, this.durable)
  }

  /** @internal a queue was deleted: its entry (unless a newer queue took the name) and every record go. */
  async deleteQueue (q: LevelQueue): Promise<void> {
    if (this.live.get(q.name) === q) {
      this.live.delete(q.name)
      this.op({ type: 'del', key: entryKey(q.name) }, this.durable)
    }
    await this.dropRecords(q.id)
  }

  private async dropRecords (id: number): Promise<void> {
    await Promise.all([
      this.clear(recordKey(KIND_QUEUED, id, 0), recordRangeEnd(KIND_QUEUED, id)),
      this.clear(recordKey(KIND_KEPT, id, 0), recordRangeEnd(KIND_KEPT, id)),
    ])
  }

  // ---- the write pipeline ----

  /** A position in the stream of operations, to learn later whether a publish wrote anything. */
  mark (): number {
    return this.opCount
  }

  /** The write that stores what was queued since `mark`, or undefined when nothing was. */
  writeSince (mark: number): PendingWrite | undefined {
    if (this.opCount === mark) return undefined
    // Operations queued since the mark are in the open write, or in the one being written if a batch just started.
    return this.open ?? this.lastWrite()
  }

  private lastWrite (): Write | undefined {
    for (let i = this.steps.length - 1; i >= 0; i--) {
      const step = this.steps[i]
      if (step instanceof Write) return step
    }
    return undefined
  }

  /** @internal `records`: how many records the operation writes or removes, for --sync-every. */
  op (op: Op, mustSync: boolean, records = 1): Write {
    if (this.open === undefined || this.open.ops.length >= MAX_WRITE_OPS || this.open.bytes >= MAX_WRITE_BYTES) {
      this.open = new Write()
      this.steps.push(this.open)
    }
    const w = this.open
    w.ops.push(op)
    w.records += records
    w.pending++
    this.pending++
    if (mustSync) w.sync = true
    this.opCount++
    this.schedule()
    return w
  }

  /**
   * @internal A new chunk of queue `q` starting with the record of `seq`, in the open write; the caller adds the
   * record. It is readable from disk once its write landed.
   */
  openChunk (q: LevelQueue, seq: number, ahead: boolean): { chunk: Chunk, serial: number } {
    const chunk = new Chunk(q, seq, 0, ahead)
    chunk.records = []
    const write = this.op({ type: 'chunk', chunk }, this.durable, 0)
    write.chunks.push(chunk)
    return { chunk, serial: write.serial }
  }

  /** @internal Whether a chunk of write `serial` may take another record: only while that write is open and has room. */
  canExtend (serial: number): boolean {
    return this.open !== undefined && this.open.serial === serial && this.open.bytes < MAX_WRITE_BYTES
  }

  /** @internal a record of `bytes` joined a chunk of the open write (just opened, or canExtend said so). */
  added (bytes: number): void {
    const w = this.open as Write
    w.records++
    w.bytes += bytes
    w.pending++
    this.pending++
    this.opCount++
  }

  /** @internal Whether a load must wait for the writes to catch up; if so, `q` is told when to try again. */
  mustWait (q: LevelQueue): boolean {
    if (this.pending <= MAX_PENDING_OPS) return false
    this.waiting.add(q)
    return true
  }

  /** @internal a value that could not be read: kept under 'x' for a person to look at, and out of the queue. */
  setAside (key: Buffer, value: Buffer, what: string): void {
    this.logger.error(`store: ${what} - set aside as x${key.toString('hex')}`)
    this.op({ type: 'put', key: asideKey(key), value }, false)
    this.op({ type: 'del', key }, false)
  }

  /** @internal removes a key range, after every write queued before it. */
  clear (gte: Buffer, lt: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      this.open = undefined
      this.steps.push(new Clear(gte, lt, (err) => { if (err === undefined) resolve(); else reject(err) }))
      this.schedule()
    })
  }

  private schedule (): void {
    if (this.scheduled || this.running || this.retryTimer !== undefined) return
    this.scheduled = true
    setImmediate(this.run)
  }

  private readonly run = (): void => {
    this.scheduled = false
    const step = this.steps[0]
    if (step === undefined) return
    if (step === this.open) this.open = undefined
    this.running = true
    const done = step instanceof Write ? this.write(step) : this.runClear(step)
    void done.finally(() => {
      this.running = false
      if (this.steps.length > 0) this.schedule()
      const waiters = this.stepWaiters
      this.stepWaiters = []
      for (const w of waiters) w()
    })
  }

  private async write (w: Write): Promise<void> {
    // Sealed once: a retry writes the same values.
    const ops = w.ops = prepare(w.ops, this.steps.length === 1)
    const sync = w.sync || this.opsSinceSync + w.records >= this.syncEvery || this.closed
    try {
      if (this.injectedFault !== undefined) throw this.injectedFault
      if (this.failing !== undefined) await this.reopen()
      if (ops.length > 0) await this.writeBatch(ops, sync)
    } catch (err) {
      this.writeFailed(err as Error)
      return
    }
    this.steps.shift()
    if (ops.length > 0) {
      this.counters.writes++
      if (sync) this.counters.syncs++
      this.opsSinceSync = sync ? 0 : this.opsSinceSync + w.records
      if (!sync) this.armSyncTimer()
    }
    if (this.failing !== undefined) {
      this.failing = undefined
      this.retryDelay = 0
      this.logger.info(`store: writes to ${this.location} succeed again`)
      this.onHealth(undefined)
    }
    for (const c of w.chunks) {
      if (c.removeOnceWritten) this.op({ type: 'del', key: c.key as Buffer }, false, 0)
      c.queue.written(c.first + c.size)
    }
    this.pending -= w.pending
    if (this.waiting.size > 0 && this.pending <= MAX_PENDING_OPS) {
      const waiting = [...this.waiting]
      this.waiting.clear()
      for (const q of waiting) q.written(0)
    }
    w.settle(null, this.logger)
  }

  private async writeBatch (ops: LevelOp[], sync: boolean): Promise<void> {
    const batch = this.nativeBatch ??= (this.db as unknown as { _chainedBatch (): RawChainedBatch })._chainedBatch()
    try {
      for (const op of ops) {
        if (op.type === 'put') batch._put(op.key, op.value as Buffer)
        else batch._del(op.key)
      }
      await batch._write({ sync })
    } finally {
      batch._clear()
    }
  }

  /**
   * Tells everyone waiting that their write failed (no publish may answer OK for a record that is not stored), then
   * retries every queued operation after a backoff, reopening the database first: LevelDB refuses all writes after
   * one failed until it is reopened.
   */
  private writeFailed (err: Error): void {
    this.counters.failures++
    const changed = this.failing?.message !== err.message
    this.failing = err
    if (changed) {
      this.logger.error(`store: failed to write to ${this.location} - ${err.message}`)
      this.onHealth(err)
    }
    for (let i = 0; i < this.steps.length; i++) {
      const step = this.steps[i]
      if (!(step instanceof Write)) continue
      const again = step.retry()
      this.steps[i] = again
      if (step === this.open) this.open = again
      step.settle(err, this.logger)
    }
    this.retryDelay = Math.min(2000, this.retryDelay === 0 ? 50 : this.retryDelay * 2)
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined
      this.schedule()
    }, this.retryDelay)
  }

  private async reopen (): Promise<void> {
    if (this.injectedFault !== undefined) return
    this.nativeBatch = undefined
    await this.db.close()
    await this.db.open()
  }

  private async runClear (c: Clear): Promise<void> {
    try {
      await this.db.clear({ gte: c.gte, lt: c.lt })
      c.done()
    } catch (err) {
      // The records stay behind: the queue no longer reads them, and the next start drops them as orphans.
      this.logger.error(`store: failed to remove records - ${(err as Error).message}`)
      c.done(err as Error)
    }
    this.steps.shift()
  }

  private armSyncTimer (): void {
    if (this.syncTimer !== undefined || this.durable) return
    this.syncTimer = setTimeout(() => {
      this.syncTimer = undefined
      if (this.opsSinceSync > 0 && !this.closed) this.op({ type: 'put', key: kindStart(KIND_SYNC), value: Buffer.from(String(Date.now())) }, true)
    }, this.syncTimeout)
    this.syncTimer.unref()
  }

  /** True while writes fail: reads that fail then are not the records' fault. */
  get isFailing (): boolean {
    return this.failing !== undefined
  }

  /** @internal a queue could not read from the database; it retries on its own. */
  readFailed (q: LevelQueue, err: Error): void {
    this.logger.error(`store: failed to read queue ${q.name} - ${err.message}`)
  }

  /** Test and drill seam: while set, every write fails with this error, as a full or broken disk would make it. */
  injectWriteFault (err: Error | undefined): void {
    this.injectedFault = err
  }

  /** Writes everything queued with a final sync and releases the database and the data path's lock. */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearTimeout(this.syncTimer)
    for (const q of this.live.values()) q.finish()
    if (this.opsSinceSync > 0 || this.steps.length > 0) {
      this.op({ type: 'put', key: kindStart(KIND_SYNC), value: Buffer.from(String(Date.now())) }, true)
    }
    // A disk that keeps failing gets a few more attempts, not forever: the daemon must still exit.
    const deadline = Date.now() + 10_000
    while (this.steps.length > 0) {
      if (this.failing !== undefined && Date.now() > deadline) {
        this.logger.error(`store: giving up on ${this.steps.length} unwritten batch(es) at exit - ${this.failing.message}`)
        break
      }
      await new Promise<void>((resolve) => this.stepWaiters.push(resolve))
    }
    clearTimeout(this.retryTimer)
    this.retryTimer = undefined
    await this.db.close()
  }
}

async function openDb (location: string, dataPath: string, logger: Logger): Promise<Db> {
  const make = (): Db => new Level<Buffer, Buffer>(location, { keyEncoding: 'buffer', valueEncoding: 'buffer' })
  let db = make()
  try {
    await db.open()
    return db
  } catch (err) {
    const code = (err as { cause?: { code?: string } }).cause?.code
    if (code === 'LEVEL_LOCKED') throw new Error(`--data-path=${dataPath} in use (possibly by another instance of nsqd)`)
    if (code !== 'LEVEL_CORRUPTION') {
      throw new Error(`failed to open ${location} - ${(err as { cause?: Error }).cause?.message ?? (err as Error).message}`)
    }
    logger.error(`store: ${location} is damaged (${(err as { cause?: Error }).cause?.message ?? ''}); repairing it`)
  }
  // `level` re-exports classic-level's class, whose static repair() its typings do not declare.
  await (Level as unknown as { repair (location: string): Promise<void> }).repair(location)
  db = make()
  await db.open()
  logger.info(`store: ${location} repaired`)
  return db
}

async function checkFormat (db: Db, location: string): Promise<void> {
  const key = kindStart(KIND_VERSION)
  const value = await db.get(key)
  if (value === undefined) {
    await db.put(key, Buffer.from(FORMAT), { sync: true })
    return
  }
  if (value.toString() !== FORMAT) {
    throw new Error(`${location} holds format "${value.toString()}", this nsqd reads "${FORMAT}" - drain it with the nsqd that wrote it, or move it away`)
  }
}

/** Reads every entry, counts every queue's records and loads kept ones; whatever cannot be read is set aside. */
async function scanDb (db: Db, logger: Logger): Promise<{ found: Map<number, FoundQueue>, entriesClean: boolean }> {
  const found = new Map<number, FoundQueue>()
  const get = (id: number): FoundQueue => {
    let q = found.get(id)
    if (q === undefined) {
      q = { name: undefined, paused: false, count: 0, chunks: 0, firstSeq: -1, endSeq: 0, kept: [], lastKeptSeq: -1 }
      found.set(id, q)
    }
    return q
  }
  const aside: LevelOp[] = []
  const setAside = (key: Buffer, value: Buffer, what: string): void => {
    logger.error(`store: ${what} - set aside as x${key.toString('hex')}`)
    aside.push({ type: 'put', key: asideKey(key), value }, { type: 'del', key })
  }

  let entriesClean = true
  for await (const [key, value] of db.iterator({ gte: kindStart(KIND_ENTRY), lt: kindEnd(KIND_ENTRY) })) {
    const name = key.toString('utf8', 1)
    const entry = decodeEntry(value)
    if (entry === undefined || (found.get(entry.id)?.name ?? name) !== name) {
      entriesClean = false
      setAside(key, value, `entry of ${JSON.stringify(name)} is unreadable (${JSON.stringify(value.toString('latin1').slice(0, 80))})`)
      continue
    }
    const q = get(entry.id)
    q.name = name
    q.paused = entry.paused
  }

  // Keys only (a chunk's key holds its count): a backlog of millions is counted without reading its bodies.
  for await (const key of db.keys({ gte: kindStart(KIND_QUEUED), lt: kindEnd(KIND_QUEUED) })) {
    if (key.length !== CHUNK_KEY_LENGTH || countOfKey(key) === 0) {
      const value = await db.get(key)
      setAside(key, value ?? Buffer.alloc(0), `malformed chunk key ${key.toString('hex')}`)
      continue
    }
    const q = get(idOfKey(key))
    const seq = seqOfKey(key)
    if (q.firstSeq < 0) q.firstSeq = seq
    q.endSeq = seq + countOfKey(key)
    q.count += countOfKey(key)
    q.chunks++
  }

  for await (const [key, value] of db.iterator({ gte: kindStart(KIND_KEPT), lt: kindEnd(KIND_KEPT) })) {
    const kept = key.length === RECORD_KEY_LENGTH ? decodeKept(value) : undefined
    if (kept === undefined) {
      setAside(key, value, `kept record ${key.toString('hex')} is damaged (${value.length} bytes)`)
      continue
    }
    const q = get(idOfKey(key))
    q.kept.push({ key, ...kept })
    q.lastKeptSeq = seqOfKey(key)
  }
  if (aside.length > 0) await db.batch(aside, { sync: true })
  return { found, entriesClean }
}

/**
 * One topic's or channel's queue in the store. Records are numbered by a per-queue seq and stored in chunks (see
 * Chunk). The newest ones stay in memory as a read-ahead while the reader keeps up (then a record is written and read
 * back without touching the disk for the read); otherwise reads stream from LevelDB in order, some chunks at a time,
 * as the read-ahead drains.
 *
 * The records a queue puts in one write form one chunk, removed once all its records are done (see Chunk). Default
 * mode: reading a record consumes it. Durable mode: a read record stays stored until ack() or until the owner stores
 * it again (put, keep), so messages in flight survive a crash; the queue remembers which chunk (or kept key) holds
 * each such message, to count it done there. A clean close stores again what is left of a chunk whose read records
 * are all done.
 */
export class LevelQueue implements BackendQueue {
  onReadable: (() => void) | undefined
  depth = 0
  paused: boolean
  readonly durable: boolean

  /** Next seq for a queued record, and for a kept one (a key space of its own). */
  private writeSeq: number
  private keepSeq: number
  /** Every queued record below this seq is in the read-ahead or was read; always a chunk's first seq. */
  private loadedSeq: number
  /** Every queued record below this seq is on disk (or was read before it had to be), so a load may go that far. */
  private writtenSeq: number
  /** The read-ahead: records in order, and the chunk of each. */
  private readonly aheadRecords = new Deque<Buffer>()
  private readonly aheadChunks = new Deque<Chunk>()
  private aheadBytes = 0
  /** The chunk that takes the next record while its write is still open. */
  private filling: Chunk | undefined
  private fillingSerial = 0
  private loading = false
  private waitingForWrite = false
  private loadFailures = 0
  private loadRetry: NodeJS.Timeout | undefined
  /** Bumped by empty(): a load that started before it must not add what it read. */
  private generation = 0
  /** Records per chunk lately, to ask LevelDB for about as many chunks as the read-ahead has room for. */
  private chunkRecords: number
  /**
   * Durable: message id -> the chunk of its record (read, so held by the owner) or the key of its kept record. No
   * record bytes: a chunk kept alive by one message in flight costs its small object only.
   */
  private readonly held = new Map<string, Chunk | Buffer>()
  private kept: Array<{ key: Buffer, record: Buffer, dueAt: number }>
  private closed = false

  constructor (private readonly store: LevelStore, readonly id: number, readonly name: string, found: FoundQueue | undefined) {
    this.durable = store.durable
    this.paused = found?.paused ?? false
    this.depth = found?.count ?? 0
    this.loadedSeq = found !== undefined && found.count > 0 ? found.firstSeq : 0
    this.writeSeq = found?.endSeq ?? 0
    this.writtenSeq = this.writeSeq
    this.keepSeq = (found?.lastKeptSeq ?? -1) + 1
    this.kept = found?.kept ?? []
    this.chunkRecords = found !== undefined && found.chunks > 0 ? found.count / found.chunks : 1
  }

  put (record: Buffer): void {
    if (this.closed) return
    const seq = this.writeSeq++
    this.depth++
    // While the read-ahead reaches the newest record and has room, it takes the new one too: a reader that keeps up
    // never reads from disk.
    const ahead = seq === this.loadedSeq && this.aheadRecords.length < this.store.cacheRecords &&
      this.aheadBytes + record.length <= this.store.cacheBytes
    let c = this.filling
    if (c === undefined || c.ahead !== ahead || c.size >= MAX_CHUNK_RECORDS || c.bytes + record.length > MAX_CHUNK_BYTES ||
        !this.store.canExtend(this.fillingSerial)) {
      const opened = this.store.openChunk(this, seq, ahead)
      c = opened.chunk
      this.filling = c
      this.fillingSerial = opened.serial
    }
    this.store.added(record.length)
    c.records?.push(record)
    c.size++
    c.bytes += record.length
    if (ahead) {
      this.aheadRecords.push(record)
      this.aheadChunks.push(c)
      this.aheadBytes += record.length
      this.loadedSeq = seq + 1
    }
    // A requeue: the earlier record goes only now, in this write or a later one, so no crash finds neither stored.
    if (this.held.size > 0) this.release(messageIdOf(record))
  }

  read (): Buffer | undefined {
    const record = this.aheadRecords.shift()
    if (record === undefined) {
      if (this.depth > 0) this.requestLoad()
      return undefined
    }
    const c = this.aheadChunks.shift() as Chunk
    c.handed++
    this.aheadBytes -= record.length
    this.depth--
    // Default mode: a chunk whose write has not started is stored without what was read by then (a crash would lose
    // those in flight either way, as NSQ loses in-flight messages); a stored one goes once its last record was read.
    if (this.durable) this.hold(messageIdOf(record), c)
    else this.isDone(c)
    if (this.loadedSeq < this.writeSeq && this.aheadRecords.length <= this.store.cacheRecords >> 1) this.requestLoad()
    return record
  }

  keep (record: Buffer, dueAt: number): void {
    if (this.closed) return
    const id = messageIdOf(record)
    const key = recordKey(KIND_KEPT, this.id, this.keepSeq++)
    this.store.op({ type: 'put', key, value: encodeKept(record, dueAt) }, this.durable)
    // As in put: the earlier record goes after the new one.
    if (this.held.size > 0) this.release(id)
    if (this.durable) this.held.set(id, key)
  }

  /**
   * The owner now holds a message stored in `where`. A crash may bring back two copies of one message (a requeued
   * one and its old chunk): the newer one then stands for both, which are one message to the owner.
   */
  private hold (id: string, where: Chunk | Buffer): void {
    const earlier = this.held.get(id)
    if (earlier !== undefined) this.drop(earlier)
    this.held.set(id, where)
  }

  ack (id: string): void {
    if (this.durable) this.release(id)
  }

  /** The owner no longer needs the stored record of a message it held, if there is one. */
  private release (id: string): void {
    const held = this.held.get(id)
    if (held === undefined) return
    this.held.delete(id)
    this.drop(held)
  }

  private drop (held: Chunk | Buffer): void {
    if (held instanceof Chunk) this.isDone(held)
    else this.store.op({ type: 'del', key: held }, false)
  }

  /** One more record of `c` is done; a stored chunk goes with its last one. */
  private isDone (c: Chunk): void {
    if (++c.done === c.size && c.key !== undefined) this.store.op({ type: 'del', key: c.key }, false, c.size - c.storedFrom)
  }

  takeKept (): KeptRecord[] {
    const kept = this.kept
    this.kept = []
    return kept.map(({ key, record, dueAt }) => {
      // Durable: the record stays until the message is finished. Default: the owner holds it in memory from now on,
      // as it holds every deferred message.
      if (this.durable) this.hold(messageIdOf(record), key)
      else this.store.op({ type: 'del', key }, false)
      return { record, dueAt }
    })
  }

  setPaused (paused: boolean): void {
    if (this.paused === paused) return
    this.paused = paused
    this.store.putEntry(this)
  }

  // ---- reading from disk ----

  /** @internal its records below `upto` are on disk, or (upto 0) the writes caught up. */
  written (upto: number): void {
    if (upto > this.writtenSeq) this.writtenSeq = upto
    if (this.waitingForWrite) {
      this.waitingForWrite = false
      this.requestLoad()
    }
  }

  private requestLoad (): void {
    if (this.loading || this.closed || this.loadRetry !== undefined) return
    if (this.loadedSeq >= this.writeSeq) {
      if (this.aheadRecords.length === 0 && this.depth > 0) {
        // Everything put was read, yet records are counted: some went missing on disk. Say so and count true.
        this.store.logger.error(`store: queue ${this.name} lost ${this.depth} record(s) on disk`)
        this.depth = 0
      }
      return
    }
    if (this.loadedSeq >= this.writtenSeq || this.store.mustWait(this)) {
      this.waitingForWrite = true
      return
    }
    this.loading = true
    void this.load(this.loadedSeq, this.writtenSeq, this.generation)
  }

  private async load (from: number, upto: number, generation: number): Promise<void> {
    const roomRecords = Math.max(1, this.store.cacheRecords - this.aheadRecords.length)
    const roomBytes = Math.max(1, this.store.cacheBytes - this.aheadBytes)
    const limit = Math.max(1, Math.min(4096, Math.ceil(roomRecords / this.chunkRecords)))
    // One nextv, its byte limit the room left, 1 MiB at most (highWaterMarkBytes, classic-level's own option, unknown
    // to abstract-level's typings): the read-ahead overshoots its bound by one chunk at most, however big the chunks.
    const options = { gte: recordKey(KIND_QUEUED, this.id, from), lt: recordKey(KIND_QUEUED, this.id, upto), limit, fillCache: false, highWaterMarkBytes: Math.min(roomBytes, MAX_LOAD_BYTES) }
    const it = this.store.db.iterator(options)
    let entries: Array<[Buffer, Buffer]>
    try {
      entries = await it.nextv(limit)
    } catch (err) {
      this.loading = false
      this.loadFailed(err as Error, from, Math.min(upto, from + roomRecords))
      return
    } finally {
      await it.close().catch(() => {})
    }
    this.loading = false
    this.loadFailures = 0
    if (this.closed || generation !== this.generation) return
    let added = 0
    let counted = 0
    for (const [key, value] of entries) {
      const first = seqOfKey(key)
      const count = countOfKey(key)
      counted += count
      const records = decodeChunk(value, count)
      if (records === undefined) {
        this.store.setAside(key, value, `chunk of records ${first}..${first + count - 1} of queue ${this.name} is damaged (${value.length} bytes)`)
        this.depth -= count
        continue
      }
      const c = new Chunk(this, first, count, false)
      c.key = key
      for (const view of records) {
        // A copy of its own (from Node's pool): a message held long, deferred say, must not keep its whole chunk.
        const record = count > 1 ? Buffer.from(view) : view
        this.aheadRecords.push(record)
        this.aheadChunks.push(c)
        this.aheadBytes += record.length
      }
      added += count
    }
    if (entries.length > 0) this.chunkRecords = counted / entries.length
    // nextv may stop short of `limit` on bytes: only an empty answer says nothing more is written.
    const last = entries.at(-1)
    this.loadedSeq = last === undefined ? upto : seqOfKey(last[0]) + countOfKey(last[0])
    if (added > 0) this.onReadable?.()
    else this.requestLoad()
  }

  /**
   * A read failed. Retry a few times (a reopen or a passing error); then the range is unreadable: skip it, say so,
   * and go on with what follows, rather than stall the queue or the daemon on it.
   */
  private loadFailed (err: Error, from: number, skipTo: number): void {
    if (this.closed) return
    this.store.readFailed(this, err)
    // Reads fail too while the database is being reopened after a failed write; only count the ones that are not.
    if (!this.store.isFailing && ++this.loadFailures >= 3) {
      this.store.logger.error(`store: skipping unreadable records ${from}..${skipTo - 1} of queue ${this.name}`)
      this.loadFailures = 0
      if (this.loadedSeq === from) this.loadedSeq = skipTo
    }
    this.loadRetry = setTimeout(() => {
      this.loadRetry = undefined
      this.requestLoad()
    }, 100 * (this.loadFailures + 1))
  }

  /**
   * @internal No more reads: the queue or the store closes. A stored chunk partly read whose read records are all
   * done is stored again as its unread rest, in the store's final write, so that a clean restart delivers each record
   * once. nsqd's shutdown stores again every message its channels hold before this, which makes every read record of
   * a durable queue done; one still held keeps its chunk whole (delivered again rather than lost).
   */
  finish (): void {
    if (this.closed) return
    this.closed = true
    clearTimeout(this.loadRetry)
    let chunk: Chunk | undefined
    let rest: Buffer[] = []
    for (let record = this.aheadRecords.shift(); record !== undefined; record = this.aheadRecords.shift()) {
      const c = this.aheadChunks.shift()
      if (c !== chunk) {
        this.storeRest(chunk, rest)
        chunk = c
        rest = []
      }
      rest.push(record)
    }
    this.storeRest(chunk, rest)
    this.aheadBytes = 0
  }

  private storeRest (c: Chunk | undefined, rest: Buffer[]): void {
    // A chunk not stored yet is sealed without its read records anyway; one nobody read from is right as it is. The
    // rest is stored before the chunk goes (the two may fall in different writes): a crash in between delivers it
    // twice, never loses it.
    if (c === undefined || c.key === undefined || c.handed === c.storedFrom || c.done !== c.handed) return
    this.store.op({ type: 'put', key: chunkKey(this.id, c.first + c.handed, rest.length), value: encodeChunk(rest, 0) }, false, rest.length)
    this.store.op({ type: 'del', key: c.key }, false, 0)
  }

  // ---- lifecycle ----

  async empty (): Promise<void> {
    this.generation++
    this.aheadRecords.clear()
    this.aheadChunks.clear()
    this.aheadBytes = 0
    this.filling = undefined
    this.depth = 0
    this.held.clear()
    this.kept = []
    const queuedEnd = this.writeSeq
    const keptEnd = this.keepSeq
    this.loadedSeq = queuedEnd
    await Promise.all([
      this.store.clear(recordKey(KIND_QUEUED, this.id, 0), recordKey(KIND_QUEUED, this.id, queuedEnd)),
      this.store.clear(recordKey(KIND_KEPT, this.id, 0), recordKey(KIND_KEPT, this.id, keptEnd)),
    ])
  }

  async close (): Promise<void> {
    this.finish()
  }

  async delete (): Promise<void> {
    this.generation++
    this.closed = true
    clearTimeout(this.loadRetry)
    this.aheadRecords.clear()
    this.aheadChunks.clear()
    this.filling = undefined
    this.depth = 0
    this.held.clear()
    await this.store.deleteQueue(this)
  }
}
