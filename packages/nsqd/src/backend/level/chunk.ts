import { crc32 } from 'node:zlib'
import { chunkKey } from './format.js'

/**
 * A LevelDB batch operation, or a chunk of queued records that becomes one put when its batch is written: until
 * then it takes every record its queue puts in the same write, and what was read meanwhile is left out of it.
 */
export type Op = WriteOp | { type: 'chunk', chunk: Chunk }
export type LevelOp = { type: 'put', key: Buffer, value: Buffer } | { type: 'del', key: Buffer }
/**
 * What a write hands to LevelDB: a sealed chunk stays as its records (`from` on) until the batch is built, then is
 * encoded into one scratch buffer that the native batch copies: no value of its own to allocate and collect per chunk.
 */
export type WriteOp = LevelOp | { type: 'records', key: Buffer, records: Buffer[], from: number }

/**
 * A chunk takes at most this many records and bytes (or one record of any size): that bounds what a crash may deliver
 * twice (a chunk partly read when nsqd died comes back whole) and how far a load may overshoot the read-ahead.
 */
export const MAX_CHUNK_RECORDS = 2048
export const MAX_CHUNK_BYTES = 256 * 1024

/**
 * A chunk the read-ahead does not hold gets its records copied into its value as they come (format.ts: a checksum,
 * then each record with its length), so that a publish's record and message die young instead of waiting for the
 * write in V8's old generation. Its buffer starts at FIRST_BUFFER_BYTES and doubles; buffers of a full chunk's size
 * are kept (SPARE_BUFFERS at most) once their write landed, for the next chunks.
 */
const FIRST_BUFFER_BYTES = 16 * 1024
const SPARE_BUFFERS = 4
const spareBuffers: Buffer[] = []

/** What a chunk and the write pipeline need of the queue whose records it holds. */
export interface ChunkOwner {
  readonly id: number
  readonly durable: boolean
  /** Its records below `upto` are on disk, or (upto 0) the writes caught up. */
  written (upto: number): void
}

/**
 * Consecutive records of one queue stored as one value (format.ts). The read-ahead hands its records out in
 * order, so what was read is always a prefix. A record is done once nothing needs it stored any more: at its read in
 * the default mode; in durable mode once its message is finished, or stored again elsewhere (requeued, deferred).
 * The chunk's key is removed once every record is done, so a chunk partly done when nsqd dies comes back whole.
 */
export class Chunk {
  /** Records handed out by read(), and records done (never more than handed). */
  handed = 0
  done = 0
  /** Set once stored (or being stored): the value holds records[storedFrom..size). */
  key: Buffer | undefined
  storedFrom = 0
  /** Durable: every record was done before the chunk was stored, so its removal waits for its write to land. */
  removeOnceWritten = false
  /** While it still takes records (its write has not started): them (read-ahead chunks), and their bytes. */
  records: Buffer[] | undefined
  bytes = 0
  /** The size of its value as read back from disk; 0 for a chunk never read back (see Reclaimer). */
  loadedBytes = 0
  /** Other chunks: the value being encoded (see FIRST_BUFFER_BYTES) and its length so far. */
  private encoded: Buffer | undefined
  private encodedLength = 4

  /**
   * @param ahead the read-ahead holds its records: a chunk never mixes such records with others, so that a load from
   *   disk always starts at a chunk's first record.
   */
  constructor (readonly queue: ChunkOwner, readonly first: number, public size: number, readonly ahead: boolean) {}

  /** Takes one more record while its write is open (the caller counts it). */
  add (record: Buffer): void {
    if (this.ahead) {
      (this.records as Buffer[]).push(record)
      return
    }
    const at = this.encodedLength
    const end = at + 4 + record.length
    const buf = this.encoded !== undefined && end <= this.encoded.length ? this.encoded : this.grow(end)
    buf.writeUInt32BE(record.length, at)
    record.copy(buf, at + 4)
    this.encodedLength = end
  }

  private grow (need: number): Buffer {
    const old = this.encoded
    let buf = old === undefined && need <= MAX_CHUNK_BYTES ? spareBuffers.pop() : undefined
    if (buf === undefined) {
      let size = old === undefined ? FIRST_BUFFER_BYTES : old.length * 2
      while (size < need) size *= 2
      buf = Buffer.allocUnsafeSlow(size)
      if (old !== undefined) old.copy(buf, 0, 0, this.encodedLength)
    }
    this.encoded = buf
    return buf
  }

  /** Its write landed: the value's buffer may serve another chunk. */
  written (): void {
    const buf = this.encoded
    this.encoded = undefined
    if (buf !== undefined && buf.length >= MAX_CHUNK_BYTES && buf.length <= 4 * MAX_CHUNK_BYTES &&
        spareBuffers.length < SPARE_BUFFERS) spareBuffers.push(buf)
  }

  /**
   * Its put, now that its write starts: the records not read yet, or nothing when all were. A durable chunk leaves
   * out its read records only when all are done and `last` says that no write follows this one: a record done because
   * its message was stored again (handed from a topic to its channels, requeued) may otherwise have that copy in a
   * later write, and this one's publishers would be answered before it is stored. Else it stores every record.
   */
  seal (last: boolean): WriteOp | undefined {
    const records = this.records
    this.records = undefined
    this.storedFrom = !this.queue.durable || (last && this.done === this.handed) ? this.handed : 0
    this.removeOnceWritten = this.queue.durable && this.done === this.size && this.storedFrom < this.size
    if (this.storedFrom === this.size) return undefined
    this.key = chunkKey(this.queue.id, this.first + this.storedFrom, this.size - this.storedFrom)
    if (records !== undefined) return { type: 'records', key: this.key, records, from: this.storedFrom }
    return { type: 'put', key: this.key, value: this.encodedValue() }
  }

  /**
   * The encoded value, its checksum written. Only read-ahead records can be read before their write, so storedFrom
   * is 0 here; were it not, the records read are cut off the front.
   */
  private encodedValue (): Buffer {
    const buf = this.encoded as Buffer
    let from = 4
    for (let i = 0; i < this.storedFrom; i++) from += 4 + buf.readUInt32BE(from)
    const end = this.encodedLength
    const value = from === 4 ? buf.subarray(0, end) : Buffer.from(buf.subarray(from - 4, end))
    value.writeUInt32BE(crc32(value.subarray(4)), 0)
    return value
  }
}

/**
 * The operations to hand to LevelDB: chunks sealed into puts, those read entirely left out. `last`: no write is
 * queued after this one (see Chunk.seal).
 */
export function prepare (ops: Op[], last: boolean): WriteOp[] {
  const out: WriteOp[] = []
  for (const op of ops) {
    if (op.type !== 'chunk') out.push(op)
    else {
      const put = op.chunk.seal(last)
      if (put !== undefined) out.push(put)
    }
  }
  return out
}
