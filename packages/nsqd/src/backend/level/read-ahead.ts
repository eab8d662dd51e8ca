import { Deque } from '../../deque.js'
import { KIND_QUEUED, recordKey, seqOfKey, countOfKey, decodeChunk } from './format.js'
import { Chunk, type ChunkOwner } from './chunk.js'
import type { FoundQueue } from './recovery.js'
import type { LevelStore } from './store.js'

/** A load reads about this much at most, in one go (native memory grows with it). */
const MAX_LOAD_BYTES = 1024 * 1024
/**
 * A queue reads through one LevelDB iterator for this many loads at most, then opens a fresh one. classic-level's
 * iterator keeps (in native memory, unseen by V8) a copy of the entries of its last read until the garbage collector
 * finalizes it, long after it was closed: an iterator per load held some 130 MB of dead copies while a backlog of
 * 150 MB was read. Reusing one keeps one copy alive. An iterator sees the database as it was when opened (and keeps
 * that version's files and memtables alive), so it is also replaced once it has read all it can see.
 */
const LOADS_PER_ITERATOR = 64

/** What a load needs of a LevelDB iterator. */
interface LevelIterator {
  nextv (size: number): Promise<Array<[Buffer, Buffer]>>
  close (): Promise<void>
}

/** The iterator a queue reads from disk with, while it can go on where the last load stopped. */
interface DiskReader {
  it: LevelIterator
  /** The seq its next entry starts at, as far as the queue knows: loads reuse it only when they start there. */
  next: number
  /** Its range ends here: everything below was on disk when it was opened, nothing above is visible to it. */
  upto: number
  generation: number
  loads: number
}

/** What the read-ahead needs of its queue. */
export interface ReadAheadOwner extends ChunkOwner {
  readonly name: string
  /** The seq of the next record put. */
  readonly writeSeq: number
  /** Records stored and not yet read: a load that finds some damaged or missing takes them off. */
  depth: number
  readonly onReadable: (() => void) | undefined
}

/**
 * The records of a level queue held in memory ahead of its reader, in order, with the chunk of each. The queue puts
 * its newest records here itself while the reader keeps up (then a record is written and read back without touching
 * the disk for the read); otherwise the read-ahead loads them from LevelDB in order, some chunks at a time, as it
 * drains. Loads wait for the records' write to land, and for the pipeline when too much waits to be written.
 */
export class ReadAhead {
  readonly records = new Deque<Buffer>()
  readonly chunks = new Deque<Chunk>()
  bytes = 0
  /** Every queued record below this seq is here or was read; always a chunk's first seq. */
  loadedSeq: number
  /** Every queued record below this seq is on disk (or was read before it had to be), so a load may go that far. */
  private writtenSeq: number
  private loading = false
  private waitingForWrite = false
  private loadFailures = 0
  private loadRetry: NodeJS.Timeout | undefined
  /** Bumped by clear(): a load that started before it must not add what it read. */
  private generation = 0
  /** Records per chunk lately, to ask LevelDB for about as many chunks as the read-ahead has room for. */
  private chunkRecords: number
  private reader: DiskReader | undefined
  private closed = false

  constructor (
    private readonly queue: ReadAheadOwner,
    private readonly store: LevelStore,
    found: FoundQueue | undefined,
  ) {
    this.loadedSeq = found !== undefined && found.count > 0 ? found.firstSeq : 0
    this.writtenSeq = queue.writeSeq
    this.chunkRecords = found !== undefined && found.chunks > 0 ? found.count / found.chunks : 1
  }

  /**
   * The records here, then the chunks on disk past them, read beside the read-ahead (a second iterator): nothing
   * changes. Records put but not yet written are waited for (peek is rare; a record is readable from disk once its
   * write landed).
   */
  async peek (n: number): Promise<Buffer[]> {
    const out: Buffer[] = []
    for (let i = 0; i < this.records.length && out.length < n; i++) out.push(this.records.at(i) as Buffer)
    const from = this.loadedSeq
    const upto = this.queue.writeSeq
    if (out.length >= n || from >= upto || this.closed) return out
    const pipeline = this.store.pipeline
    if (this.writtenSeq < upto) {
      const write = pipeline.lastWrite()
      // Not put off (a default-mode write nobody waits for may be): this one is waited for.
      pipeline.hurry()
      if (write !== undefined) await new Promise<void>((resolve) => write.onSettled(resolve))
    }
    const generation = this.generation
    const id = this.queue.id
    const it = this.store.db.iterator({
      gte: recordKey(KIND_QUEUED, id, from),
      lt: recordKey(KIND_QUEUED, id, upto),
      fillCache: false,
    })
    try {
      while (out.length < n && generation === this.generation && !this.closed) {
        const entries = await it.nextv(16)
        if (entries.length === 0) break
        for (const [key, value] of entries) {
          // A damaged chunk is the reader's to set aside; a peek just shows what it can.
          const records = decodeChunk(value, countOfKey(key))
          for (const view of records ?? []) {
            if (out.length < n) out.push(Buffer.from(view))
          }
        }
      }
    } finally {
      await it.close().catch(() => {})
    }
    return out
  }

  /** The queue's records below `upto` are on disk, or (upto 0) the writes caught up. */
  written (upto: number): void {
    if (upto > this.writtenSeq) this.writtenSeq = upto
    if (this.waitingForWrite) {
      this.waitingForWrite = false
      this.requestLoad()
    }
  }

  requestLoad (): void {
    if (this.loading || this.closed || this.loadRetry !== undefined) return
    const queue = this.queue
    if (this.loadedSeq >= queue.writeSeq) {
      if (this.records.length === 0 && queue.depth > 0) {
        // Everything put was read, yet records are counted: some went missing on disk. Say so and count true.
        this.store.logger.error(`store: queue ${queue.name} lost ${queue.depth} record(s) on disk`)
        queue.depth = 0
      }
      return
    }
    const pipeline = this.store.pipeline
    if (this.loadedSeq >= this.writtenSeq || pipeline.mustWait(queue)) {
      this.waitingForWrite = true
      // The records to read are still in the pipeline: their write must not be put off.
      if (this.loadedSeq >= this.writtenSeq) pipeline.hurry()
      return
    }
    this.loading = true
    void this.load(this.loadedSeq, this.writtenSeq, this.generation)
  }

  private async load (from: number, upto: number, generation: number): Promise<void> {
    const roomRecords = Math.max(1, this.store.cacheRecords - this.records.length)
    const limit = Math.max(1, Math.min(4096, Math.ceil(roomRecords / this.chunkRecords)))
    let entries: Array<[Buffer, Buffer]>
    let reader: DiskReader
    try {
      // A new iterator throws at once, not through a rejection, while the database is closed (reopened after a
      // failed write).
      reader = this.readerFrom(from, upto, generation)
      entries = await reader.it.nextv(limit)
    } catch (err) {
      this.loading = false
      this.dropReader()
      this.loadFailed(err as Error, from, Math.min(upto, from + roomRecords))
      return
    }
    this.loading = false
    this.loadFailures = 0
    if (this.closed || generation !== this.generation) {
      this.dropReader()
      return
    }
    let added = 0
    let counted = 0
    for (const [key, value] of entries) {
      const first = seqOfKey(key)
      const count = countOfKey(key)
      counted += count
      // Records copied out of the value (but a chunk of one): a message held long, deferred say, must not keep its
      // whole chunk.
      const records = decodeChunk(value, count, count > 1)
      if (records === undefined) {
        this.store.setAside(key, value, `chunk of records ${first}..${first + count - 1} of queue ${this.queue.name} is damaged (${value.length} bytes)`)
        this.queue.depth -= count
        continue
      }
      const c = new Chunk(this.queue, first, count, false)
      c.key = key
      c.loadedBytes = value.length
      for (const record of records) {
        this.records.push(record)
        this.chunks.push(c)
        this.bytes += record.length
      }
      added += count
    }
    if (entries.length > 0) this.chunkRecords = counted / entries.length
    // nextv may stop short of `limit` on bytes: only an empty answer says the iterator has nothing more to show.
    const last = entries.at(-1)
    this.loadedSeq = last === undefined ? reader.upto : seqOfKey(last[0]) + countOfKey(last[0])
    reader.next = this.loadedSeq
    // An iterator that has read all it sees is of no more use, and would keep the tables it sees from being deleted.
    if (last === undefined || reader.next >= reader.upto || reader.loads >= LOADS_PER_ITERATOR) this.dropReader()
    if (added > 0) this.queue.onReadable?.()
    else this.requestLoad()
  }

  /** The iterator of the last load when this one starts where it stopped; else a fresh one over [from, upto). */
  private readerFrom (from: number, upto: number, generation: number): DiskReader {
    let r = this.reader
    if (r === undefined || r.next !== from || r.next >= r.upto || r.generation !== generation) {
      this.dropReader()
      // highWaterMarkBytes (classic-level's own option, unknown to abstract-level's typings) ends a nextv once it read
      // that much: the read-ahead overshoots its bound by one chunk at most, however big the chunks.
      const options = {
        gte: recordKey(KIND_QUEUED, this.queue.id, from),
        lt: recordKey(KIND_QUEUED, this.queue.id, upto),
        fillCache: false,
        highWaterMarkBytes: Math.min(MAX_LOAD_BYTES, Math.max(1, this.store.cacheBytes >> 1)),
      }
      const it: LevelIterator = this.store.db.iterator(options)
      r = this.reader = { it, next: from, upto, generation, loads: 0 }
    }
    r.loads++
    return r
  }

  private dropReader (): void {
    void this.releaseReader()
  }

  /** Closes the iterator of the last load, if any; the next load opens another (reclaim.ts says why it is asked). */
  releaseReader (): Promise<void> {
    const r = this.reader
    if (r === undefined) return Promise.resolve()
    this.reader = undefined
    return r.it.close().catch(() => {})
  }

  /**
   * A read failed. Retry a few times (a reopen or a passing error); then the range is unreadable: skip it, say so,
   * and go on with what follows, rather than stall the queue or the daemon on it.
   */
  private loadFailed (err: Error, from: number, skipTo: number): void {
    if (this.closed) return
    this.store.logger.error(`store: failed to read queue ${this.queue.name} - ${err.message}`)
    // Reads fail too while the database is being reopened after a failed write; only count the ones that are not.
    if (!this.store.pipeline.isFailing && ++this.loadFailures >= 3) {
      this.store.logger.error(`store: skipping unreadable records ${from}..${skipTo - 1} of queue ${this.queue.name}`)
      if (this.loadedSeq === from) this.store.damage.skippedRecords += skipTo - from
      this.loadFailures = 0
      if (this.loadedSeq === from) this.loadedSeq = skipTo
    }
    this.loadRetry = setTimeout(() => {
      this.loadRetry = undefined
      this.requestLoad()
    }, 100 * (this.loadFailures + 1))
  }

  /** Drops what it holds and what it was loading; it loads on from `loadedSeq`. */
  clear (loadedSeq: number): void {
    this.generation++
    if (!this.loading) this.dropReader()
    this.records.clear()
    this.chunks.clear()
    this.bytes = 0
    this.loadedSeq = loadedSeq
  }

  /** No more loads; a load under way drops what it read when it comes back. */
  close (): void {
    this.closed = true
    clearTimeout(this.loadRetry)
    if (!this.loading) this.dropReader()
  }
}
