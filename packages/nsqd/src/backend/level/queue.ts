import { Deque } from '../../deque.js'
import type { BackendQueue, KeptRecord, StoredPolicy } from '../types.js'
import { KIND_QUEUED, KIND_KEPT, recordKey, chunkKey, seqOfKey, countOfKey, encodeChunk, decodeChunk, encodeKept, messageIdOf } from './format.js'
import { Chunk, MAX_CHUNK_BYTES, MAX_CHUNK_RECORDS, type ChunkOwner } from './chunk.js'
import type { WritePipeline } from './write-pipeline.js'
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
export class LevelQueue implements BackendQueue, ChunkOwner {
  onReadable: (() => void) | undefined
  depth = 0
  paused: boolean
  policy: StoredPolicy | undefined
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
  private reader: DiskReader | undefined
  /**
   * Durable: message id -> the chunk of its record (read, so held by the owner) or the key of its kept record. No
   * record bytes: a chunk kept alive by one message in flight costs its small object only.
   */
  private readonly held = new Map<string, Chunk | Buffer>()
  private kept: Array<{ key: Buffer, record: Buffer, dueAt: number }>
  private closed = false
  private readonly pipeline: WritePipeline

  constructor (private readonly store: LevelStore, readonly id: number, readonly name: string, found: FoundQueue | undefined) {
    this.durable = store.durable
    this.pipeline = store.pipeline
    this.paused = found?.paused ?? false
    this.policy = found?.policy
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
        !this.pipeline.canExtend(this.fillingSerial)) {
      const opened = this.pipeline.openChunk(this, seq, ahead)
      c = opened.chunk
      this.filling = c
      this.fillingSerial = opened.serial
    }
    this.pipeline.added(record.length)
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
    else this.countDone(c)
    if (this.loadedSeq < this.writeSeq && this.aheadRecords.length <= this.store.cacheRecords >> 1) this.requestLoad()
    return record
  }

  head (): Buffer | undefined {
    const record = this.aheadRecords.peek()
    if (record === undefined && this.depth > 0) this.requestLoad()
    return record
  }

  keep (record: Buffer, dueAt: number): void {
    if (this.closed) return
    const id = messageIdOf(record)
    const key = recordKey(KIND_KEPT, this.id, this.keepSeq++)
    this.pipeline.op({ type: 'put', key, value: encodeKept(record, dueAt) }, this.durable)
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
    if (held instanceof Chunk) this.countDone(held)
    else this.pipeline.op({ type: 'del', key: held }, false)
  }

  /** One more record of `c` is done; a stored chunk goes with its last one. */
  private countDone (c: Chunk): void {
    if (++c.done === c.size && c.key !== undefined) this.pipeline.op({ type: 'del', key: c.key }, false, c.size - c.storedFrom)
  }

  takeKept (): KeptRecord[] {
    const kept = this.kept
    this.kept = []
    return kept.map(({ key, record, dueAt }) => {
      // Durable: the record stays until the message is finished. Default: the owner holds it in memory from now on,
      // as it holds every deferred message.
      if (this.durable) this.hold(messageIdOf(record), key)
      else this.pipeline.op({ type: 'del', key }, false)
      return { record, dueAt }
    })
  }

  setPaused (paused: boolean): void {
    if (this.paused === paused) return
    this.paused = paused
    this.store.putEntry(this)
  }

  setPolicy (policy: StoredPolicy | undefined): void {
    this.policy = policy
    this.store.putEntry(this)
  }

  /**
   * The read-ahead's records, then the chunks on disk past it, read beside the read-ahead (a second iterator): the
   * queue's state is not touched. Records put but not yet written are waited for (peek is rare; a record is readable
   * from disk once its write landed).
   */
  async peek (n: number): Promise<Buffer[]> {
    const out: Buffer[] = []
    for (let i = 0; i < this.aheadRecords.length && out.length < n; i++) out.push(this.aheadRecords.at(i) as Buffer)
    const from = this.loadedSeq
    const upto = this.writeSeq
    if (out.length >= n || from >= upto || this.closed) return out
    if (this.writtenSeq < upto) {
      const write = this.pipeline.lastWrite()
      // Not put off (a default-mode write nobody waits for may be): this one is waited for.
      this.pipeline.hurry()
      if (write !== undefined) await new Promise<void>((resolve) => write.onSettled(resolve))
    }
    const generation = this.generation
    const it = this.store.db.iterator({ gte: recordKey(KIND_QUEUED, this.id, from), lt: recordKey(KIND_QUEUED, this.id, upto), fillCache: false })
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
    if (this.loadedSeq >= this.writtenSeq || this.pipeline.mustWait(this)) {
      this.waitingForWrite = true
      // The records to read are still in the pipeline: their write must not be put off.
      if (this.loadedSeq >= this.writtenSeq) this.pipeline.hurry()
      return
    }
    this.loading = true
    void this.load(this.loadedSeq, this.writtenSeq, this.generation)
  }

  private async load (from: number, upto: number, generation: number): Promise<void> {
    const roomRecords = Math.max(1, this.store.cacheRecords - this.aheadRecords.length)
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
        this.store.setAside(key, value, `chunk of records ${first}..${first + count - 1} of queue ${this.name} is damaged (${value.length} bytes)`)
        this.depth -= count
        continue
      }
      const c = new Chunk(this, first, count, false)
      c.key = key
      for (const record of records) {
        this.aheadRecords.push(record)
        this.aheadChunks.push(c)
        this.aheadBytes += record.length
      }
      added += count
    }
    if (entries.length > 0) this.chunkRecords = counted / entries.length
    // nextv may stop short of `limit` on bytes: only an empty answer says the iterator has nothing more to show.
    const last = entries.at(-1)
    this.loadedSeq = last === undefined ? reader.upto : seqOfKey(last[0]) + countOfKey(last[0])
    reader.next = this.loadedSeq
    if (last === undefined || reader.loads >= LOADS_PER_ITERATOR) this.dropReader()
    if (added > 0) this.onReadable?.()
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
        gte: recordKey(KIND_QUEUED, this.id, from),
        lt: recordKey(KIND_QUEUED, this.id, upto),
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
    const r = this.reader
    if (r === undefined) return
    this.reader = undefined
    r.it.close().catch(() => {})
  }

  /**
   * A read failed. Retry a few times (a reopen or a passing error); then the range is unreadable: skip it, say so,
   * and go on with what follows, rather than stall the queue or the daemon on it.
   */
  private loadFailed (err: Error, from: number, skipTo: number): void {
    if (this.closed) return
    this.store.readFailed(this, err)
    // Reads fail too while the database is being reopened after a failed write; only count the ones that are not.
    if (!this.pipeline.isFailing && ++this.loadFailures >= 3) {
      this.store.logger.error(`store: skipping unreadable records ${from}..${skipTo - 1} of queue ${this.name}`)
      if (this.loadedSeq === from) this.store.damage.skippedRecords += skipTo - from
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
  closeReads (): void {
    if (this.closed) return
    this.closed = true
    clearTimeout(this.loadRetry)
    // A load under way drops it when it comes back.
    if (!this.loading) this.dropReader()
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
    this.pipeline.op({ type: 'put', key: chunkKey(this.id, c.first + c.handed, rest.length), value: encodeChunk(rest, 0) }, false, rest.length)
    this.pipeline.op({ type: 'del', key: c.key }, false, 0)
  }

  // ---- lifecycle ----

  async empty (): Promise<void> {
    this.generation++
    if (!this.loading) this.dropReader()
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
      this.pipeline.clear(recordKey(KIND_QUEUED, this.id, 0), recordKey(KIND_QUEUED, this.id, queuedEnd)),
      this.pipeline.clear(recordKey(KIND_KEPT, this.id, 0), recordKey(KIND_KEPT, this.id, keptEnd)),
    ])
  }

  async close (): Promise<void> {
    this.closeReads()
  }

  async delete (): Promise<void> {
    this.generation++
    this.closed = true
    clearTimeout(this.loadRetry)
    if (!this.loading) this.dropReader()
    this.aheadRecords.clear()
    this.aheadChunks.clear()
    this.filling = undefined
    this.depth = 0
    this.held.clear()
    await this.store.deleteQueue(this)
  }
}
