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
  /** While it still takes records (its write has not started): them, and their bytes. */
  records: Buffer[] | undefined
  bytes = 0

  /**
   * @param ahead the read-ahead holds its records: a chunk never mixes such records with others, so that a load from
   *   disk always starts at a chunk's first record.
   */
  constructor (readonly queue: ChunkOwner, readonly first: number, public size: number, readonly ahead: boolean) {}

  /**
   * Its put, now that its write starts: the records not read yet, or nothing when all were. A durable chunk leaves
   * out its read records only when all are done and `last` says that no write follows this one: a record done because
   * its message was stored again (handed from a topic to its channels, requeued) may otherwise have that copy in a
   * later write, and this one's publishers would be answered before it is stored. Else it stores every record.
   */
  seal (last: boolean): WriteOp | undefined {
    const records = this.records as Buffer[]
    this.records = undefined
    this.storedFrom = !this.queue.durable || (last && this.done === this.handed) ? this.handed : 0
    this.removeOnceWritten = this.queue.durable && this.done === this.size && this.storedFrom < this.size
    if (this.storedFrom === records.length) return undefined
    this.key = chunkKey(this.queue.id, this.first + this.storedFrom, records.length - this.storedFrom)
    return { type: 'records', key: this.key, records, from: this.storedFrom }
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
