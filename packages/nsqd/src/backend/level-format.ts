import { crc32 } from 'node:zlib'
import { MESSAGE_HEADER_SIZE } from '@nsqts/protocol'

/**
 * What the level store keeps, one key space per kind, each key starting with one byte that names it:
 *
 *   'v'                          format of the database: utf8 FORMAT
 *   'i' <name, utf8>             a topic (`t`) or channel (`t:c`): JSON {"id":<queue id>,"paused":<bool>}
 *   'q' <u32 id> <u64 seq>       a queued record     value: [u32 crc32(record)][record]
 *   'k' <u32 id> <u64 seq>       a kept record       value: [u32 crc32(rest)][f64 due time, ms][record]
 *   'x' <original key>           a record set aside because it could not be read; its bytes as found
 *   's'                          written by a sync-timeout flush, so that there is something to sync
 *
 * All integers are big-endian, so LevelDB's byte order is the numeric order: a queue's records sort by seq, and one
 * queue's records sit together. A record is a message in its stored form ([8 ts][2 attempts][16 id][body]).
 * The checksum lets a read tell a damaged value from a message; LevelDB checks its blocks only when told to.
 */
export const FORMAT = 'nsqts-level/1'

export const KIND_VERSION = 0x76 // v
export const KIND_ENTRY = 0x69 // i
export const KIND_QUEUED = 0x71 // q
export const KIND_KEPT = 0x6b // k
export const KIND_ASIDE = 0x78 // x
export const KIND_SYNC = 0x73 // s

export const RECORD_KEY_LENGTH = 13
const TWO_32 = 2 ** 32

export function recordKey (kind: number, id: number, seq: number): Buffer {
  const key = Buffer.allocUnsafe(RECORD_KEY_LENGTH)
  key[0] = kind
  key.writeUInt32BE(id, 1)
  key.writeUInt32BE(Math.floor(seq / TWO_32), 5)
  key.writeUInt32BE(seq >>> 0, 9)
  return key
}

/** The first key past every record of queue `id` of this kind. */
export function recordRangeEnd (kind: number, id: number): Buffer {
  return id === 0xffffffff ? Buffer.from([kind + 1]) : recordKey(kind, id + 1, 0)
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

export function encodeQueued (record: Buffer): Buffer {
  const value = Buffer.allocUnsafe(4 + record.length)
  value.writeUInt32BE(crc32(record), 0)
  record.copy(value, 4)
  return value
}

/** The record of a queued value, or undefined when the value is damaged. */
export function decodeQueued (value: Buffer): Buffer | undefined {
  if (value.length < 4 + MESSAGE_HEADER_SIZE) return undefined
  const record = value.subarray(4)
  return crc32(record) === value.readUInt32BE(0) ? record : undefined
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
}

export function encodeEntry (entry: EntryValue): Buffer {
  return Buffer.from(JSON.stringify(entry))
}

export function decodeEntry (value: Buffer): EntryValue | undefined {
  try {
    const parsed = JSON.parse(value.toString('utf8')) as Partial<EntryValue>
    if (!Number.isInteger(parsed.id) || (parsed.id as number) < 0 || (parsed.id as number) > 0xffffffff) return undefined
    return { id: parsed.id as number, paused: parsed.paused === true }
  } catch {
    return undefined
  }
}

/** The message id inside a record, as the broker names it. */
export function messageIdOf (record: Buffer): string {
  return record.toString('latin1', 10, 26)
}
