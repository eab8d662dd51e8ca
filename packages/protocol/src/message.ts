/**
 * A message as nsqd sends it in a message frame and stores it on disk:
 *
 *   [ 8-byte BE int64 timestamp (ns) ][ 2-byte BE uint16 attempts ][ 16-byte ASCII hex id ][ body ... ]
 */
export const MESSAGE_ID_LENGTH = 16
export const MESSAGE_HEADER_SIZE = 8 + 2 + MESSAGE_ID_LENGTH
export const ATTEMPTS_OFFSET = 8
export const ID_OFFSET = 10

export interface DecodedMessage {
  /** Publish time in nanoseconds since the epoch. */
  timestamp: bigint
  attempts: number
  /** 16 ASCII hex characters; clients echo it back in FIN, REQ and TOUCH. */
  id: string
  body: Buffer
}

let cachedMs = -1
const cachedStamp = Buffer.alloc(8)

/** Writes `ms` since the epoch as int64 nanoseconds. One BigInt a millisecond, not one a message. */
export function writeTimestampMs (target: Buffer, offset: number, ms: number): void {
  if (ms !== cachedMs) {
    cachedStamp.writeBigInt64BE(BigInt(ms) * 1_000_000n, 0)
    cachedMs = ms
  }
  cachedStamp.copy(target, offset)
}

/** Builds the stored form of a message: header then a copy of the body, in one allocation. */
export function encodeMessage (id: string, timestampMs: number, attempts: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(MESSAGE_HEADER_SIZE + body.length)
  writeTimestampMs(out, 0, timestampMs)
  out.writeUInt16BE(attempts, ATTEMPTS_OFFSET)
  out.write(id, ID_OFFSET, MESSAGE_ID_LENGTH, 'latin1')
  body.copy(out, MESSAGE_HEADER_SIZE)
  return out
}

export function decodeMessage (data: Buffer): DecodedMessage {
  if (data.length < MESSAGE_HEADER_SIZE) {
    throw new RangeError(`message too short: ${data.length} bytes < ${MESSAGE_HEADER_SIZE}`)
  }
  return {
    timestamp: data.readBigInt64BE(0),
    attempts: data.readUInt16BE(ATTEMPTS_OFFSET),
    id: data.toString('latin1', ID_OFFSET, ID_OFFSET + MESSAGE_ID_LENGTH),
    body: data.subarray(MESSAGE_HEADER_SIZE),
  }
}
