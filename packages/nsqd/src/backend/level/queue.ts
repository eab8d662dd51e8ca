import type { BackendQueue, KeptRecord, StoredPolicy } from '../types.js'
import { KIND_QUEUED, KIND_KEPT, recordKey, chunkKey, encodeChunk, encodeKept, messageIdOf } from './format.js'
import { Chunk, MAX_CHUNK_BYTES, MAX_CHUNK_RECORDS, type ChunkOwner } from './chunk.js'
import type { WritePipeline } from './write-pipeline.js'
import type { FoundQueue } from './recovery.js'
import type { LevelStore } from './store.js'
import { ReadAhead, type ReadAheadOwner } from './read-ahead.js'

/**
 * One topic's or channel's queue in the store. Records are numbered by a per-queue seq and stored in chunks (see
 * Chunk), and read through the read-ahead (read-ahead.ts), which the newest ones join while the reader keeps up.
 *
 * The records a queue puts in one write form one chunk, removed once all its records are done (see Chunk). Default
 * mode: reading a record consumes it. Durable mode: a read record stays stored until ack() or until the owner stores
 * it again (put, keep), so messages in flight survive a crash; the queue remembers which chunk (or kept key) holds
 * each such message, to count it done there. A clean close stores again what is left of a chunk whose read records
 * are all done.
 */
export class LevelQueue implements BackendQueue, ChunkOwner, ReadAheadOwner {
  onReadable: (() => void) | undefined
  depth = 0
  paused: boolean
  policy: StoredPolicy | undefined
  readonly durable: boolean

  /** Next seq for a queued record (the read-ahead reads it), and for a kept one (a key space of its own). */
  writeSeq: number
  private keepSeq: number
  private readonly readAhead: ReadAhead
  /** The chunk that takes the next record while its write is still open. */
  private filling: Chunk | undefined
  private fillingSerial = 0
  /**
   * Durable: message id -> the chunk of its record (read, so held by the owner) or the key of its kept record. No
   * record bytes: a chunk kept alive by one message in flight costs its small object only.
   */
  private readonly held = new Map<string, Chunk | Buffer>()
  private kept: Array<{ key: Buffer, record: Buffer, dueAt: number }>
  private closed = false
  private readonly pipeline: WritePipeline

  constructor (
    private readonly store: LevelStore,
    readonly id: number,
    readonly name: string,
    found: FoundQueue | undefined,
  ) {
    this.durable = store.durable
    this.pipeline = store.pipeline
    this.paused = found?.paused ?? false
    this.policy = found?.policy
    this.depth = found?.count ?? 0
    this.writeSeq = found?.endSeq ?? 0
    this.keepSeq = (found?.lastKeptSeq ?? -1) + 1
    this.kept = found?.kept ?? []
    this.readAhead = new ReadAhead(this, store, found)
  }

  put (record: Buffer): void {
    if (this.closed) return
    const seq = this.writeSeq++
    this.depth++
    // While the read-ahead reaches the newest record and has room, it takes the new one too: a reader that keeps up
    // never reads from disk.
    const readAhead = this.readAhead
    const ahead = seq === readAhead.loadedSeq && readAhead.records.length < this.store.cacheRecords &&
      readAhead.bytes + record.length <= this.store.cacheBytes
    let c = this.filling
    if (c === undefined || c.ahead !== ahead || c.size >= MAX_CHUNK_RECORDS ||
        c.bytes + record.length > MAX_CHUNK_BYTES || !this.pipeline.canExtend(this.fillingSerial)) {
      const opened = this.pipeline.openChunk(this, seq, ahead)
      c = opened.chunk
      this.filling = c
      this.fillingSerial = opened.serial
    }
    this.pipeline.added(record.length)
    c.add(record)
    c.size++
    c.bytes += record.length
    if (ahead) {
      readAhead.records.push(record)
      readAhead.chunks.push(c)
      readAhead.bytes += record.length
      readAhead.loadedSeq = seq + 1
    }
    // A requeue: the earlier record goes only now, in this write or a later one, so no crash finds neither stored.
    if (this.held.size > 0) this.release(messageIdOf(record))
  }

  read (): Buffer | undefined {
    const readAhead = this.readAhead
    const record = readAhead.records.shift()
    if (record === undefined) {
      if (this.depth > 0) readAhead.requestLoad()
      return undefined
    }
    const c = readAhead.chunks.shift() as Chunk
    c.handed++
    readAhead.bytes -= record.length
    this.depth--
    // Default mode: a chunk whose write has not started is stored without what was read by then (a crash would lose
    // those in flight either way, as NSQ loses in-flight messages); a stored one goes once its last record was read.
    if (this.durable) this.hold(messageIdOf(record), c)
    else this.countDone(c)
    if (readAhead.loadedSeq < this.writeSeq && readAhead.records.length <= this.store.cacheRecords >> 1) {
      readAhead.requestLoad()
    }
    return record
  }

  head (): Buffer | undefined {
    const record = this.readAhead.records.peek()
    if (record === undefined && this.depth > 0) this.readAhead.requestLoad()
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
    if (++c.done !== c.size || c.key === undefined) return
    const write = this.pipeline.op({ type: 'del', key: c.key }, false, c.size - c.storedFrom)
    if (c.loadedBytes === 0) return
    this.store.reclaimer.chunkRemoved(this.id, c.key, c.loadedBytes, write, this.depth === 0, this.readAhead)
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

  /** See ReadAhead.peek: nothing changes. */
  peek (n: number): Promise<Buffer[]> {
    return this.readAhead.peek(n)
  }

  /** @internal its records below `upto` are on disk, or (upto 0) the writes caught up. */
  written (upto: number): void {
    this.readAhead.written(upto)
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
    const readAhead = this.readAhead
    readAhead.close()
    let chunk: Chunk | undefined
    let rest: Buffer[] = []
    for (let record = readAhead.records.shift(); record !== undefined; record = readAhead.records.shift()) {
      const c = readAhead.chunks.shift()
      if (c !== chunk) {
        this.storeRest(chunk, rest)
        chunk = c
        rest = []
      }
      rest.push(record)
    }
    this.storeRest(chunk, rest)
    readAhead.bytes = 0
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
    const queuedEnd = this.writeSeq
    const keptEnd = this.keepSeq
    this.readAhead.clear(queuedEnd)
    this.filling = undefined
    this.depth = 0
    this.held.clear()
    this.kept = []
    await Promise.all([
      this.pipeline.clear(recordKey(KIND_QUEUED, this.id, 0), recordKey(KIND_QUEUED, this.id, queuedEnd)),
      this.pipeline.clear(recordKey(KIND_KEPT, this.id, 0), recordKey(KIND_KEPT, this.id, keptEnd)),
    ])
  }

  async close (): Promise<void> {
    this.closeReads()
  }

  async delete (): Promise<void> {
    this.closed = true
    this.readAhead.clear(this.writeSeq)
    this.readAhead.close()
    this.filling = undefined
    this.depth = 0
    this.held.clear()
    await this.store.deleteQueue(this)
  }
}
