import type { Level } from 'level'
import type { Logger } from '@nsqts/protocol'
import type { PendingWrite } from '../types.js'
import { KIND_KEPT, KIND_QUEUED } from './format.js'
import { Chunk, prepare, type ChunkOwner, type Op } from './chunk.js'
import { Clear, Write } from './write.js'
import { NativeBatchWriter } from './native-batch.js'
import { WriteFaults } from './write-faults.js'
import { LogSync, syncMarker } from './log-sync.js'

export type Db = Level<Buffer, Buffer>

/**
 * A write takes at most this many operations; more go into the next one. It bounds the memory of one batch, which
 * the native batch keeps as capacity once it was used.
 */
const MAX_WRITE_OPS = 16384
const MAX_WRITE_BYTES = 4 * 1024 * 1024
/**
 * Default mode: a publish is answered once its messages are queued for the disk, as NSQ answers once its disk queue
 * took them, while at most this many bytes of records wait to be written; past it, publishes wait for their write.
 * That slows publishers to the disk's pace and bounds the memory of writes under way (the records, their copy in the
 * native batch, LevelDB's memtable) whatever the disk's speed. Durable mode always waits.
 */
export const MAX_UNWRITTEN_BYTES = 1024 * 1024
/**
 * Default mode: a write that nobody waits for is put off until this many bytes of records are queued, or for
 * WRITE_DELAY_MS, so that a stream of small publishes makes a few large writes rather than one a turn (each costs the
 * main thread a native call, a hand-off to a thread and its completion, and one chunk per queue). A write someone
 * waits for (a publish held back, a queue that must read records from disk, a sync, a removal) starts at once.
 * Durable mode never waits: its publishers wait for every write.
 */
const EAGER_WRITE_BYTES = 256 * 1024
const WRITE_DELAY_MS = 5
/**
 * While more operations than this (records put, removals) wait to be written, queues load nothing more from disk.
 * Nothing else slows a topic that moves its stored backlog to its channels, and a durable channel stores each message
 * again (synced) and removes the topic's: without it, loads outrun the writes and the backlog piles up in memory.
 */
const MAX_PENDING_OPS = MAX_WRITE_OPS

export interface WritePipelineOptions {
  /** Every write that stores a record is synced. */
  durable: boolean
  /** Default mode: sync after this many records written or removed (NSQ's --sync-every). */
  syncEvery: number
  /** Default mode: sync this long (ms) after an unsynced write (NSQ's --sync-timeout). */
  syncTimeout: number
  logger: Logger
  /** A write failed (with its error) or, after one failed, succeeded again (undefined). */
  onHealth: (error: Error | undefined) => void
}

/**
 * The store's writes. They are synchronous for the caller: queues append operations to the open write, and the
 * pipeline writes one LevelDB batch per turn (setImmediate), one batch at a time, in order. Operations queued while a
 * batch is being written go into the next one, so under load one batch (and, when durable, one fsync) covers every
 * publish of many turns: group commit. A queue's records of one write go in one chunk (one value), so a batch carries
 * a put per queue rather than per message. A failed batch is retried, together with what came after it, until the
 * disk takes it. While too much waits to be written, loads from disk wait for it (MAX_PENDING_OPS).
 */
export class WritePipeline {
  private readonly durable: boolean
  private readonly syncEvery: number
  private readonly syncTimeout: number
  private readonly logger: Logger
  private readonly batch: NativeBatchWriter
  /** Failed writes, their retries and the drills' seams. */
  readonly faults: WriteFaults

  /** Writes and clears in the order they must run; short, since each write takes every operation of its turns. */
  private readonly steps: Array<Write | Clear> = []
  private open: Write | undefined
  private scheduled = false
  /** Default mode: a write put off (EAGER_WRITE_BYTES), and whether someone waits for what is queued. */
  private delayTimer: NodeJS.Timeout | undefined
  private hurried = false
  private running = false
  private retryTimer: NodeJS.Timeout | undefined
  private opsSinceSync = 0
  /** Operations and records queued and not yet written, and the queues whose loads wait for them (mustWait). */
  private pending = 0
  private readonly waiting = new Set<ChunkOwner>()
  private syncTimer: NodeJS.Timeout | undefined
  private readonly logSync: LogSync
  /** Where the next sync marker goes (log-sync.ts): right after the last record key queued, or chunk opened. */
  private markerAfter: Buffer | Chunk | undefined
  /** Called after every step, successful or not: what drain() waits on. */
  private stepWaiters: Array<() => void> = []
  /** Operations queued since the store opened: a publisher compares it before and after to know if it wrote. */
  private opCount = 0
  /** Set once the store closes: every write from then on is synced, and no sync timer is armed. */
  private closing = false
  /** Bytes of records queued and not yet written. */
  private unwrittenBytes = 0
  /**
   * Batches written, how many of them were synced, and failed attempts; publishes made to wait for their write in the
   * default mode (the writes had fallen behind, or were failing); the most bytes of records that waited to be written
   * at once. All since the store opened.
   */
  readonly counters = { writes: 0, syncs: 0, failures: 0, throttled: 0, maxUnwrittenBytes: 0 }

  constructor (private readonly db: Db, location: string, opts: WritePipelineOptions) {
    this.durable = opts.durable
    this.syncEvery = opts.syncEvery
    this.syncTimeout = opts.syncTimeout
    this.logger = opts.logger
    this.batch = new NativeBatchWriter(db)
    this.faults = new WriteFaults(db, location, this.batch, opts.logger, opts.onHealth)
    this.logSync = new LogSync(location, opts.logger, () => { this.counters.syncs++ },
      () => this.op(syncMarker(this.markerAfter), true))
  }

  /** A position in the stream of operations, to learn later whether a publish wrote anything. */
  mark (): number {
    return this.opCount
  }

  /** The write that stores what was queued since `mark`, or undefined when nothing was. */
  writeSince (mark: number): PendingWrite | undefined {
    const write = this.writeAfter(mark)
    // Whoever asks is about to wait for it.
    if (write !== undefined) this.hurry()
    return write
  }

  private writeAfter (mark: number): Write | undefined {
    if (this.opCount === mark) return undefined
    // Operations queued since the mark are in the open write, or in the one being written if a batch just started.
    return this.open ?? this.lastWrite()
  }

  /**
   * The write a publish that queued what came after `mark` must wait for before it answers, or undefined when it may
   * answer now. Durable: its write, always. Default mode: its write only while the writes fail (no OK while the disk
   * refuses records) or more than MAX_UNWRITTEN_BYTES wait to be written (back-pressure); otherwise its messages are
   * handed to the pipeline and the publish is answered at once.
   */
  publishWait (mark: number): PendingWrite | undefined {
    const write = this.writeAfter(mark)
    if (write === undefined) return undefined
    if (!this.durable) {
      if (this.faults.failing === undefined && this.unwrittenBytes <= MAX_UNWRITTEN_BYTES) return undefined
      this.counters.throttled++
    }
    this.hurry()
    return write
  }

  /** The last write queued (all earlier ones land before it), or undefined when none is under way. */
  lastWrite (): Write | undefined {
    for (let i = this.steps.length - 1; i >= 0; i--) {
      const step = this.steps[i]
      if (step instanceof Write) return step
    }
    return undefined
  }

  /** Queues an operation. `records`: how many records it writes or removes, for --sync-every. */
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
    if (op.type !== 'chunk' && (op.key[0] === KIND_QUEUED || op.key[0] === KIND_KEPT)) this.markerAfter = op.key
    this.opCount++
    this.schedule()
    return w
  }

  /**
   * A new chunk of queue `q` starting with the record of `seq`, in the open write; the caller adds the record. It is
   * readable from disk once its write landed.
   */
  openChunk (q: ChunkOwner, seq: number, ahead: boolean): { chunk: Chunk, serial: number } {
    const chunk = new Chunk(q, seq, 0, ahead)
    if (ahead) chunk.records = []
    this.markerAfter = chunk
    const write = this.op({ type: 'chunk', chunk }, this.durable, 0)
    write.chunks.push(chunk)
    return { chunk, serial: write.serial }
  }

  /** Whether a chunk of write `serial` may take another record: only while that write is open and has room. */
  canExtend (serial: number): boolean {
    return this.open !== undefined && this.open.serial === serial && this.open.bytes < MAX_WRITE_BYTES
  }

  /** A record of `bytes` joined a chunk of the open write (just opened, or canExtend said so). */
  added (bytes: number): void {
    const w = this.open as Write
    w.records++
    w.bytes += bytes
    w.pending++
    this.pending++
    this.opCount++
    this.unwrittenBytes += bytes
    if (this.unwrittenBytes > this.counters.maxUnwrittenBytes) this.counters.maxUnwrittenBytes = this.unwrittenBytes
    if (this.delayTimer !== undefined && w.bytes >= EAGER_WRITE_BYTES) this.schedule()
  }

  /** Whether a load must wait for the writes to catch up; if so, `q` is told when to try again. */
  mustWait (q: ChunkOwner): boolean {
    if (this.pending <= MAX_PENDING_OPS) return false
    this.waiting.add(q)
    this.hurry()
    return true
  }

  /** Someone waits for what is queued (a publish, a queue that must read it from disk): write it without delay. */
  hurry (): void {
    this.hurried = true
    this.schedule()
  }

  /** Removes a key range, after every write queued before it. */
  clear (gte: Buffer, lt: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      this.open = undefined
      this.steps.push(new Clear(gte, lt, (err) => { if (err === undefined) resolve(); else reject(err) }))
      this.schedule()
    })
  }

  private schedule (): void {
    if (this.scheduled || this.running || this.retryTimer !== undefined || this.steps.length === 0) return
    if (!this.urgent()) {
      this.delayTimer ??= setTimeout(this.delayOver, WRITE_DELAY_MS)
      return
    }
    clearTimeout(this.delayTimer)
    this.delayTimer = undefined
    this.scheduled = true
    setImmediate(this.run)
  }

  /** Whether the first step must start now rather than wait for more (see EAGER_WRITE_BYTES). */
  private urgent (): boolean {
    if (this.durable || this.closing || this.hurried) return true
    const step = this.steps[0]
    if (step === undefined || step !== this.open) return true
    return step.sync || step.bytes >= EAGER_WRITE_BYTES
  }

  private readonly delayOver = (): void => {
    this.delayTimer = undefined
    this.hurried = true
    this.schedule()
  }

  private readonly run = (): void => {
    this.scheduled = false
    const step = this.steps[0]
    if (step === undefined) return
    if (step === this.open) {
      this.open = undefined
      // Whoever waited waits for this write, or for one before it.
      this.hurried = false
    }
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
    // Only what must be synced before it counts as written; --sync-every's syncs follow the write (log-sync.ts).
    const sync = w.sync || this.closing
    try {
      await this.faults.beforeWrite()
      if (ops.length > 0) await this.batch.write(ops, sync)
    } catch (err) {
      this.writeFailed(err as Error)
      return
    }
    this.steps.shift()
    if (ops.length > 0) {
      this.counters.writes++
      if (sync) {
        this.counters.syncs++
        this.opsSinceSync = 0
      } else if (this.opsSinceSync + w.records >= this.syncEvery) {
        this.opsSinceSync = 0
        this.logSync.request()
      } else {
        this.opsSinceSync += w.records
        this.armSyncTimer()
      }
    }
    this.faults.succeeded()
    for (const c of w.chunks) {
      if (c.removeOnceWritten) this.op({ type: 'del', key: c.key as Buffer }, false, 0)
      c.written()
      c.queue.written(c.first + c.size)
    }
    this.pending -= w.pending
    this.unwrittenBytes -= w.bytes
    if (this.waiting.size > 0 && this.pending <= MAX_PENDING_OPS) {
      const waiting = [...this.waiting]
      this.waiting.clear()
      for (const q of waiting) q.written(0)
    }
    w.settle(null, this.logger)
  }

  /**
   * Tells everyone waiting that their write failed (no publish may answer OK for a record that is not stored), then
   * retries every queued operation after a backoff, reopening the database first: LevelDB refuses all writes after
   * one failed until it is reopened.
   */
  private writeFailed (err: Error): void {
    this.counters.failures++
    const retryDelay = this.faults.failed(err)
    for (let i = 0; i < this.steps.length; i++) {
      const step = this.steps[i]
      if (!(step instanceof Write)) continue
      const again = step.retry()
      this.steps[i] = again
      if (step === this.open) this.open = again
      step.settle(err, this.logger)
    }
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined
      this.schedule()
    }, retryDelay)
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
      if (this.opsSinceSync > 0 && !this.closing) {
        this.opsSinceSync = 0
        this.logSync.request()
      }
    }, this.syncTimeout)
    this.syncTimer.unref()
  }

  /** True while writes fail: reads that fail then are not the records' fault. */
  get isFailing (): boolean {
    return this.faults.failing !== undefined
  }

  /** Bytes of records queued and not yet written. */
  get unwritten (): number {
    return this.unwrittenBytes
  }

  /** The store is closing: every write from now on is synced, and the sync timer stops. */
  startClosing (): void {
    this.closing = true
    clearTimeout(this.syncTimer)
    this.schedule()
  }

  /** Writes everything queued, with a final sync; a disk that keeps failing gets 10 s more, not forever. */
  async drain (): Promise<void> {
    // First: a sync that finds no log file queues a write, which must be in the steps waited for below.
    await this.logSync.settled()
    if (this.opsSinceSync > 0 || this.steps.length > 0) this.op(syncMarker(this.markerAfter), true)
    // The daemon must still exit.
    const deadline = Date.now() + 10_000
    while (this.steps.length > 0) {
      const failing = this.faults.failing
      if (failing !== undefined && Date.now() > deadline) {
        this.logger.error(`store: giving up on ${this.steps.length} unwritten batch(es) at exit - ${failing.message}`)
        break
      }
      await new Promise<void>((resolve) => this.stepWaiters.push(resolve))
    }
    clearTimeout(this.retryTimer)
    this.retryTimer = undefined
  }
}
