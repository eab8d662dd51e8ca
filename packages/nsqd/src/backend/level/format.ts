import { crc32 } from 'node:zlib'
import { MESSAGE_HEADER_SIZE } from '@nsqts/protocol'
import type { StoredPolicy } from '../types.js'

/**
 * What the level store keeps, one key space per kind, each key starting with one byte that names it:
 *
 *   'v'                             format of the database: utf8 FORMAT
 *   'i' <name, utf8>                a topic (`t`) or channel (`t:c`): JSON {"id":<queue id>,"paused":<bool>}
 *   'q' <u32 id> <u64 seq> <u32 n>  a chunk: n queued records, seqs seq..seq+n-1
 *                                   value: [u32 crc32(rest)] then per record [u32 length][record]
 *   'k' <u32 id> <u64 seq>          a kept record     value: [u32 crc32(rest)][f64 due time, ms][record]
 *   'x' <original key>              a value set aside because it could not be read; its bytes as found
 *   's'                             written by a sync-timeout flush before any record was, so that there is something
 *                                   to sync; after one was, the flush removes a key that no record has, right after
 *                                   the last record key queued (markerKeyAfter)
 *
 * All integers are big-endian, so LevelDB's byte order is the numeric order: a queue's records sort by seq, and one
 * queue's records sit together. A record is a message in its stored form ([8 ts][2 attempts][16 id][body]).
 * The checksum lets a read tell a damaged value from messages; LevelDB checks its blocks only when told to. One
 * checksum covers a whole chunk: a damaged chunk is set aside whole.
 *
 * Queued records travel in chunks: what one queue stores in one write is one value, so a message costs a share of
 * one put, one read and one removal rather than one of each. The count sits in the key so that a start counts a
 * backlog from its keys alone (and a damaged value still says how many records it held); the first seq keeps chunks
 * in order. A chunk is removed whole, once none of its records is needed any more. Format 1 stored
 * one record per key ('q' <u32 id> <u64 seq>, value [u32 crc32][record]); this format refuses such a database
 * rather than guess at it: drain it with the nsqd that wrote it, or move it away.
 */
export const FORMAT = 'nsqts-level/2'

export const KIND_VERSION = 0x76 // v
export const KIND_ENTRY = 0x69 // i
export const KIND_QUEUED = 0x71 // q
export const KIND_KEPT = 0x6b // k
export const KIND_ASIDE = 0x78 // x
export const KIND_SYNC = 0x73 // s

/** Length of a kept record's key; a chunk's key has a u32 count more. */
export const RECORD_KEY_LENGTH = 13
export const CHUNK_KEY_LENGTH = 17
const TWO_32 = 2 ** 32

export function recordKey (kind: number, id: number, seq: number): Buffer {
  const key = Buffer.allocUnsafe(RECORD_KEY_LENGTH)
  key[0] = kind
  key.writeUInt32BE(id, 1)
  key.writeUInt32BE(Math.floor(seq / TWO_32), 5)
  key.writeUInt32BE(seq >>> 0, 9)
  return key
}

export function chunkKey (id: number, seq: number, count: number): Buffer {
  const key = Buffer.allocUnsafe(CHUNK_KEY_LENGTH)
  key[0] = KIND_QUEUED
  key.writeUInt32BE(id, 1)
  key.writeUInt32BE(Math.floor(seq / TWO_32), 5)
  key.writeUInt32BE(seq >>> 0, 9)
  key.writeUInt32BE(count, 13)
  return key
}

export function countOfKey (key: Buffer): number {
  return key.readUInt32BE(13)
}

/** The first key past every record of queue `id` of this kind. */
export function recordRangeEnd (kind: number, id: number): Buffer {
  return id === 0xffffffff ? Buffer.from([kind + 1]) : recordKey(kind, id + 1, 0)
}

const PAST_KEY = Buffer.from([0])
const PAST_CHUNK_START = Buffer.from([0xff])

/**
 * A key that no record has, right after `after` in LevelDB's order: what a sync marker removes (write-pipeline.ts).
 * After a chunk's or a kept record's key: that key and a 0 byte. After the 13-byte start of a chunk's key (its first
 * seq; the count follows, under 2^24): that start and 0xff, past the chunk whatever its count and before the next one.
 * Either is 14 or 18 bytes long, which no record's key is.
 */
export function markerKeyAfter (after: Buffer): Buffer {
  const chunkStart = after[0] === KIND_QUEUED && after.length === RECORD_KEY_LENGTH
  return Buffer.concat([after, chunkStart ? PAST_CHUNK_START : PAST_KEY])
}

export function idOfKey (key: Buffer): number {
  return key.readUInt32BE(1)
}

export function seqOfKey (key: Buffer): number {
  return key.readUInt32BE(5) * TWO_32 + key.readUInt32BE(9)
}

export function entryKey (name: string): Buffer {
  return Buffer.concat([Buffer.from([KIND_ENTRY]), Buffer.from(name, 'utf8')])
}

export function kindStart (kind: number): Buffer {
  return Buffer.from([kind])
}

export function kindEnd (kind: number): Buffer {
  return Buffer.from([kind + 1])
}

export function asideKey (key: Buffer): Buffer {
  return Buffer.concat([Buffer.from([KIND_ASIDE]), key])
}

/**
 * The value of a chunk holding records[from..]: one copy of each record, one checksum for them all. Written at the
 * start of `into` (and a view of it returned) when it has room, else into a new buffer.
 */
export function encodeChunk (records: Buffer[], from: number, into?: Buffer): Buffer {
  let size = 4
  for (let i = from; i < records.length; i++) size += 4 + (records[i] as Buffer).length
  const value = into !== undefined && into.length >= size ? into.subarray(0, size) : Buffer.allocUnsafe(size)
  let at = 4
  for (let i = from; i < records.length; i++) {
    const record = records[i] as Buffer
    value.writeUInt32BE(record.length, at)
    record.copy(value, at + 4)
    at += 4 + record.length
  }
  value.writeUInt32BE(crc32(value.subarray(4)), 0)
  return value
}

/**
 * The `count` records of a chunk, or undefined when the value is damaged: views into the value, or with `copy` each
 * copied into a buffer of its own (from Node's pool), so that a record held long does not keep the whole value.
 */
export function decodeChunk (value: Buffer, count: number, copy = false): Buffer[] | undefined {
  if (value.length < 4 || crc32(value.subarray(4)) !== value.readUInt32BE(0)) return undefined
  const records: Buffer[] = []
  let at = 4
  while (at + 4 <= value.length) {
    const length = value.readUInt32BE(at)
    if (length < MESSAGE_HEADER_SIZE || at + 4 + length > value.length) return undefined
    if (copy) {
      const record = Buffer.allocUnsafe(length)
      value.copy(record, 0, at + 4, at + 4 + length)
      records.push(record)
    } else {
      records.push(value.subarray(at + 4, at + 4 + length))
    }
    at += 4 + length
  }
  return at === value.length && records.length === count ? records : undefined
}

export function encodeKept (record: Buffer, dueAt: number): Buffer {
  const value = Buffer.allocUnsafe(12 + record.length)
  value.writeDoubleBE(dueAt, 4)
  record.copy(value, 12)
  value.writeUInt32BE(crc32(value.subarray(4)), 0)
  return value
}

export function decodeKept (value: Buffer): { record: Buffer, dueAt: number } | undefined {
  if (value.length < 12 + MESSAGE_HEADER_SIZE) return undefined
  if (crc32(value.subarray(4)) !== value.readUInt32BE(0)) return undefined
  const dueAt = value.readDoubleBE(4)
  return Number.isFinite(dueAt) ? { record: value.subarray(12), dueAt } : undefined
}

export interface EntryValue {
  id: number
  paused: boolean
  /** nsqts delivery policy (policy.ts's stored form), only when one is set; older entries have none. */
  policy?: StoredPolicy
}

export function encodeEntry (entry: EntryValue): Buffer {
  return Buffer.from(JSON.stringify(entry))
}

export function decodeEntry (value: Buffer): EntryValue | undefined {
  try {
    const parsed = JSON.parse(value.toString('utf8')) as Partial<EntryValue>
    const id = parsed.id as number
    if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) return undefined
    const policy = typeof parsed.policy === 'object' && parsed.policy !== null && !Array.isArray(parsed.policy) ? parsed.policy : undefined
    return { id: parsed.id as number, paused: parsed.paused === true, ...(policy === undefined ? {} : { policy }) }
  } catch {
    return undefined
  }
}

/** The message id inside a record, as the broker names it. */
export function messageIdOf (record: Buffer): string {
  return record.toString('latin1', 10, 26)
}
