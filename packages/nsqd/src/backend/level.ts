import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { Level } from 'level'
import { silentLogger, type Logger } from '@nsqts/protocol'
import { Deque } from '../deque.js'
import type { BackendQueue, KeptRecord, PendingWrite } from './types.js'
import {
  FORMAT, KIND_VERSION, KIND_ENTRY, KIND_QUEUED, KIND_KEPT, KIND_SYNC, RECORD_KEY_LENGTH,
  recordKey, recordRangeEnd, idOfKey, seqOfKey, entryKey, kindStart, kindEnd, asideKey,
  encodeQueued, decodeQueued, encodeKept, decodeKept, encodeEntry, decodeEntry, messageIdOf,
} from './level-format.js'

type Db = Level<Buffer, Buffer>
/**
 * A LevelDB batch operation. A queued record's put carries the record and gets its value (checksum and copy) only
 * when its batch is written, and is `cancelled` when the record was read before that: then it costs nothing.
 */
type Op = { type: 'put', key: Buffer, value: Buffer | undefined, record?: Buffer, cancelled?: boolean } | { type: 'del', key: Buffer }

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

/** The operations to hand to LevelDB: cancelled puts left out, lazily encoded values made. */
function prepare (ops: Op[]): Op[] {
  const out: Op[] = []
  for (const op of ops) {
    if (op.type === 'put') {
      if (op.cancelled === true) continue
      op.value ??= encodeQueued(op.record as Buffer)
    }
    out.push(op)
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
  firstSeq: number
  lastSeq: number
  kept: Array<{ key: Buffer, record: Buffer, dueAt: number }>
  lastKeptSeq: number
}

/**
 * One write of the pipeline: the operations of every turn since the previous write started. Whoever queued a record
 * in it can wait for its outcome.
 */
class Write implements PendingWrite {
  ops: Op[] = []
  sync = false
  /** Set when the batch is handed to LevelDB: from then on its operations can no longer be cancelled. */
  started = false
  /** For each queue that put records in this write: the seq past its last one, readable from disk once written. */
  puts = new Map<LevelQueue, number>()
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
    w.ops = prepare(this.ops)
    w.sync = this.sync
    w.puts = this.puts
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
 * many turns: group commit. A failed batch is retried, together with what came after it, until the disk takes it.
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

  /** @internal */
  op (op: Op, mustSync: boolean): Write {
    if (this.open === undefined || this.open.ops.length >= MAX_WRITE_OPS) {
      this.open = new Write()
      this.steps.push(this.open)
    }
    const w = this.open
    w.ops.push(op)
    if (mustSync) w.sync = true
    this.opCount++
    this.schedule()
    return w
  }

  /** @internal a queued record: readable from disk once its write lands. Returns the write it goes in. */
  putRecord (q: LevelQueue, op: Op, seq: number): Write {
    const w = this.op(op, this.durable)
    w.puts.set(q, seq + 1)
    return w
  }

  /**
   * @internal A record put in `w` was read (default mode) before `w` was written: neither its put nor its removal
   * need reach the disk. False when `w` already started: the caller removes the record instead.
   */
  cancelPut (w: Write, op: Op): boolean {
    if (w.started || op.type !== 'put') return false
    op.cancelled = true
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
    w.started = true
    const ops = prepare(w.ops)
    const sync = w.sync || this.opsSinceSync + ops.length >= this.syncEvery || this.closed
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
      this.opsSinceSync = sync ? 0 : this.opsSinceSync + ops.length
      if (!sync) this.armSyncTimer()
    }
    if (this.failing !== undefined) {
      this.failing = undefined
      this.retryDelay = 0
      this.logger.info(`store: writes to ${this.location} succeed again`)
      this.onHealth(undefined)
    }
    for (const [q, upto] of w.puts) q.written(upto)
    w.settle(null, this.logger)
  }

  private async writeBatch (ops: Op[], sync: boolean): Promise<void> {
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
    for (const q of this.live.values()) q.stopLoading()
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
  if (value.toString() !== FORMAT) throw new Error(`${location} holds format "${value.toString()}", this nsqd reads "${FORMAT}"`)
}

/** Reads every entry, counts every queue's records and loads kept ones; whatever cannot be read is set aside. */
async function scanDb (db: Db, logger: Logger): Promise<{ found: Map<number, FoundQueue>, entriesClean: boolean }> {
  const found = new Map<number, FoundQueue>()
  const get = (id: number): FoundQueue => {
    let q = found.get(id)
    if (q === undefined) {
      q = { name: undefined, paused: false, count: 0, firstSeq: -1, lastSeq: -1, kept: [], lastKeptSeq: -1 }
      found.set(id, q)
    }
    return q
  }
  const aside: Op[] = []
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

  // Keys only: a backlog of millions is counted without reading its bodies.
  for await (const key of db.keys({ gte: kindStart(KIND_QUEUED), lt: kindEnd(KIND_QUEUED) })) {
    if (key.length !== RECORD_KEY_LENGTH) {
      const value = await db.get(key)
      setAside(key, value ?? Buffer.alloc(0), `malformed record key ${key.toString('hex')}`)
      continue
    }
    const q = get(idOfKey(key))
    const seq = seqOfKey(key)
    if (q.firstSeq < 0) q.firstSeq = seq
    q.lastSeq = seq
    q.count++
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
 * One topic's or channel's queue in the store. Records are keyed by a per-queue sequence number; the newest ones stay
 * in memory as a read-ahead while the reader keeps up (then a record is written and read back without touching the
 * disk for the read), otherwise reads stream from LevelDB in order, a chunk at a time, as the read-ahead drains.
 *
 * Default mode: reading a record removes it. Durable mode: a read record stays until ack(), so messages in flight
 * survive a crash; the queue remembers which record holds each such message, to drop it or to replace it on requeue.
 */
export class LevelQueue implements BackendQueue {
  onReadable: (() => void) | undefined
  depth = 0
  paused: boolean
  readonly durable: boolean

  /** Next seq for a queued record, and for a kept one (a key space of its own, so queued seqs have no gaps). */
  private writeSeq: number
  private keepSeq: number
  /** Every queued record below this seq is in the read-ahead or was read. */
  private loadedSeq: number
  /** Every queued record below this seq is on disk, so a read from LevelDB may go that far. */
  private writtenSeq: number
  private readonly aheadSeqs = new Deque<number>()
  private readonly aheadRecords = new Deque<Buffer>()
  /** For records put while the read-ahead reached them: their put and its write, to cancel both if read in time. */
  private readonly aheadOps = new Deque<Op | undefined>()
  private readonly aheadWrites = new Deque<Write | undefined>()
  private aheadBytes = 0
  private loading = false
  private waitingForWrite = false
  private loadFailures = 0
  private loadRetry: NodeJS.Timeout | undefined
  /** Bumped by empty(): a load that started before it must not add what it read. */
  private generation = 0
  private recordSize = 256
  /** Durable: message id -> key of its record, for records read or kept (and so held by the owner). */
  private readonly held = new Map<string, Buffer>()
  private kept: Array<{ key: Buffer, record: Buffer, dueAt: number }>
  private closed = false

  constructor (private readonly store: LevelStore, readonly id: number, readonly name: string, found: FoundQueue | undefined) {
    this.durable = store.durable
    this.paused = found?.paused ?? false
    this.depth = found?.count ?? 0
    this.loadedSeq = found !== undefined && found.count > 0 ? found.firstSeq : 0
    this.writeSeq = found !== undefined && found.count > 0 ? found.lastSeq + 1 : 0
    this.writtenSeq = this.writeSeq
    this.keepSeq = (found?.lastKeptSeq ?? -1) + 1
    this.kept = found?.kept ?? []
  }

  put (record: Buffer): void {
    if (this.closed) return
    if (this.held.size > 0) this.release(messageIdOf(record))
    const seq = this.writeSeq++
    const op: Op = { type: 'put', key: recordKey(KIND_QUEUED, this.id, seq), value: undefined, record }
    const w = this.store.putRecord(this, op, seq)
    this.depth++
    // While the read-ahead reaches the newest record and has room, it takes the new one too: a reader that keeps up
    // never reads from disk.
    if (seq === this.loadedSeq && this.aheadRecords.length < this.store.cacheRecords &&
        this.aheadBytes + record.length <= this.store.cacheBytes) {
      this.aheadSeqs.push(seq)
      this.aheadRecords.push(record)
      this.aheadOps.push(op)
      this.aheadWrites.push(w)
      this.aheadBytes += record.length
      this.loadedSeq = seq + 1
    }
  }

  read (): Buffer | undefined {
    const record = this.aheadRecords.shift()
    if (record === undefined) {
      if (this.depth > 0) this.requestLoad()
      return undefined
    }
    const seq = this.aheadSeqs.shift() as number
    const op = this.aheadOps.shift()
    const w = this.aheadWrites.shift()
    this.aheadBytes -= record.length
    this.depth--
    // Default mode: a record read before its batch was written never needs to reach the disk (a crash would lose it
    // in flight either way, as NSQ loses in-flight messages).
    if (this.durable) this.held.set(messageIdOf(record), recordKey(KIND_QUEUED, this.id, seq))
    else if (op === undefined || w === undefined || !this.store.cancelPut(w, op)) this.store.op({ type: 'del', key: recordKey(KIND_QUEUED, this.id, seq) }, false)
    if (this.loadedSeq < this.writeSeq && this.aheadRecords.length <= this.store.cacheRecords >> 1) this.requestLoad()
    return record
  }

  keep (record: Buffer, dueAt: number): void {
    if (this.closed) return
    const id = messageIdOf(record)
    if (this.held.size > 0) this.release(id)
    const key = recordKey(KIND_KEPT, this.id, this.keepSeq++)
    this.store.op({ type: 'put', key, value: encodeKept(record, dueAt) }, this.durable)
    if (this.durable) this.held.set(id, key)
  }

  ack (id: string): void {
    if (this.durable) this.release(id)
  }

  /** Drops the stored record of a message the owner held, if there is one. */
  private release (id: string): void {
    const key = this.held.get(id)
    if (key === undefined) return
    this.held.delete(id)
    this.store.op({ type: 'del', key }, false)
  }

  takeKept (): KeptRecord[] {
    const kept = this.kept
    this.kept = []
    return kept.map(({ key, record, dueAt }) => {
      // Durable: the record stays until the message is finished. Default: the owner holds it in memory from now on,
      // as it holds every deferred message.
      if (this.durable) this.held.set(messageIdOf(record), key)
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

  /** @internal its records below `upto` are on disk. */
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
    if (this.loadedSeq >= this.writtenSeq) {
      this.waitingForWrite = true
      return
    }
    this.loading = true
    void this.load(this.loadedSeq, this.writtenSeq, this.generation)
  }

  private async load (from: number, upto: number, generation: number): Promise<void> {
    const room = Math.max(1, Math.min(this.store.cacheRecords - this.aheadRecords.length,
      Math.floor((this.store.cacheBytes - this.aheadBytes) / this.recordSize), 4096))
    let entries: Array<[Buffer, Buffer]>
    try {
      entries = await this.store.db.iterator({ gte: recordKey(KIND_QUEUED, this.id, from), lt: recordKey(KIND_QUEUED, this.id, upto), limit: room, fillCache: false }).all()
    } catch (err) {
      this.loading = false
      this.loadFailed(err as Error, from, Math.min(upto, from + room))
      return
    }
    this.loading = false
    this.loadFailures = 0
    if (this.closed || generation !== this.generation) return
    let added = 0
    let bytes = 0
    for (const [key, value] of entries) {
      const seq = seqOfKey(key)
      const record = decodeQueued(value)
      if (record === undefined) {
        this.store.setAside(key, value, `record ${seq} of queue ${this.name} is damaged (${value.length} bytes)`)
        this.depth--
        continue
      }
      this.aheadSeqs.push(seq)
      this.aheadRecords.push(record)
      this.aheadOps.push(undefined)
      this.aheadWrites.push(undefined)
      this.aheadBytes += record.length
      bytes += record.length
      added++
    }
    if (added > 0) this.recordSize = Math.max(64, Math.ceil(bytes / added))
    const last = entries.at(-1)
    this.loadedSeq = entries.length < room || last === undefined ? upto : seqOfKey(last[0]) + 1
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

  /** @internal the store is closing: no more reads. */
  stopLoading (): void {
    this.closed = true
    clearTimeout(this.loadRetry)
  }

  // ---- lifecycle ----

  async empty (): Promise<void> {
    this.generation++
    this.aheadSeqs.clear()
    this.aheadRecords.clear()
    this.aheadOps.clear()
    this.aheadWrites.clear()
    this.aheadBytes = 0
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
    this.closed = true
    clearTimeout(this.loadRetry)
  }

  async delete (): Promise<void> {
    this.generation++
    this.closed = true
    clearTimeout(this.loadRetry)
    this.aheadSeqs.clear()
    this.aheadRecords.clear()
    this.aheadOps.clear()
    this.aheadWrites.clear()
    this.depth = 0
    this.held.clear()
    await this.store.deleteQueue(this)
  }
}
