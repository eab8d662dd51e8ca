import { maskedCrc32c } from './crc32c.js'

/**
 * The snappy framing (stream) format that nsqd speaks after a snappy upgrade, in both directions:
 *
 *   stream identifier:  ff 06 00 00 "sNaPpY"
 *   every chunk:        [ 1-byte type ][ 3-byte LE length ][ length bytes ]
 *     0x00 compressed:    [ 4-byte LE masked CRC-32C of the uncompressed data ][ snappy block ]
 *     0x01 uncompressed:  [ 4-byte LE masked CRC-32C ][ data ]
 *     0xfe padding, 0x80-0xfd reserved skippable; 0x02-0x7f reserved unskippable (an error)
 *
 * A chunk holds at most 65536 bytes of uncompressed data. The block codec is injected so that this module stays
 * free of native code and the `snappy` package loads only where snappy is used.
 */
export const STREAM_IDENTIFIER = Buffer.from([0xff, 0x06, 0x00, 0x00, 0x73, 0x4e, 0x61, 0x50, 0x70, 0x59])
export const MAX_SNAPPY_CHUNK_DATA = 65536
/** The largest snappy block 65536 bytes can compress to (32 + n + n/6): anything longer is not a valid chunk. */
const MAX_COMPRESSED_BLOCK = 32 + MAX_SNAPPY_CHUNK_DATA + Math.floor(MAX_SNAPPY_CHUNK_DATA / 6)
const CHECKSUM_SIZE = 4
/** Below this, compressing cannot pay for itself; such pieces go out uncompressed (as golang/snappy does). */
const MIN_COMPRESSIBLE = 17
const CHUNK_COMPRESSED = 0x00
const CHUNK_UNCOMPRESSED = 0x01
const CHUNK_PADDING = 0xfe
const CHUNK_STREAM_ID = 0xff

/** The two raw-block functions of the `snappy` package. */
export interface SnappyBlockCodec {
  compressSync (input: Uint8Array): Buffer
  uncompressSync (input: Uint8Array, options: { asBuffer: true }): Buffer | string
}

/** Encodes one write batch as framed chunks. The stream identifier goes in front of the first batch. */
export class SnappyFrameEncoder {
  private started = false
  constructor (private readonly block: SnappyBlockCodec) {}

  encode (data: Buffer): Buffer {
    const parts: Buffer[] = []
    if (!this.started) {
      parts.push(STREAM_IDENTIFIER)
      this.started = true
    }
    for (let pos = 0; pos < data.length; pos += MAX_SNAPPY_CHUNK_DATA) {
      const piece = data.subarray(pos, pos + MAX_SNAPPY_CHUNK_DATA)
      let payload = piece
      let type = CHUNK_UNCOMPRESSED
      if (piece.length >= MIN_COMPRESSIBLE) {
        const compressed = this.block.compressSync(piece)
        // Only a real saving (an eighth) is worth the receiver's decompression.
        if (compressed.length < piece.length - (piece.length >>> 3)) {
          payload = compressed
          type = CHUNK_COMPRESSED
        }
      }
      const header = Buffer.allocUnsafe(8)
      header[0] = type
      header.writeUIntLE(payload.length + CHECKSUM_SIZE, 1, 3)
      header.writeUInt32LE(maskedCrc32c(piece), 4)
      parts.push(header, payload)
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts)
  }
}

/** The uncompressed length a snappy block declares (its leading varint), or -1 when the varint is malformed. */
function declaredLength (block: Buffer): number {
  let result = 0
  for (let i = 0, shift = 0; i < block.length && i < 5; i++, shift += 7) {
    const b = block[i]!
    result += (b & 0x7f) * 2 ** shift
    if ((b & 0x80) === 0) return result
  }
  return -1
}

/**
 * Incremental decoder: push network chunks, get plaintext through `onData` (a view, valid during the call). A chunk
 * that lies whole in one push is read in place; one that spans pushes is gathered into a buffer of its exact size,
 * which is bounded: chunk lengths beyond what the format allows, and blocks that declare more than 64 KiB, are errors
 * before anything is buffered or decompressed. Skippable chunks are skipped without being buffered.
 */
export class SnappyFrameDecoder {
  private readonly header = Buffer.alloc(4)
  private headerFill = 0
  private body: Buffer | null = null
  private bodyType = 0
  private bodyFill = 0
  private skip = 0
  private sawIdentifier = false
  private failed = false

  constructor (
    private readonly block: SnappyBlockCodec,
    private readonly onData: (data: Buffer) => void,
    private readonly onError: (err: Error) => void
  ) {}

  push (chunk: Buffer): void {
    let pos = 0
    while (pos < chunk.length && !this.failed) {
      if (this.skip > 0) {
        const take = Math.min(this.skip, chunk.length - pos)
        this.skip -= take
        pos += take
        continue
      }
      if (this.body === null) {
        if (this.headerFill === 0 && chunk.length - pos >= 4) {
          this.bodyType = chunk[pos]!
          const length = chunk.readUIntLE(pos + 1, 3)
          pos += 4
          if (!this.accept(length)) continue
          // The whole chunk is here: decode it in place.
          if (chunk.length - pos >= length) {
            const body = chunk.subarray(pos, pos + length)
            pos += length
            this.finishChunk(this.bodyType, body)
            continue
          }
          this.body = Buffer.allocUnsafe(length)
          this.bodyFill = 0
          continue
        }
        const take = Math.min(4 - this.headerFill, chunk.length - pos)
        chunk.copy(this.header, this.headerFill, pos, pos + take)
        this.headerFill += take
        pos += take
        if (this.headerFill < 4) return
        this.headerFill = 0
        this.bodyType = this.header[0]!
        const length = this.header.readUIntLE(1, 3)
        if (!this.accept(length)) continue
        if (length === 0) {
          this.finishChunk(this.bodyType, Buffer.alloc(0))
          continue
        }
        this.body = Buffer.allocUnsafe(length)
        this.bodyFill = 0
        continue
      }
      const take = Math.min(this.body.length - this.bodyFill, chunk.length - pos)
      chunk.copy(this.body, this.bodyFill, pos, pos + take)
      this.bodyFill += take
      pos += take
      if (this.bodyFill === this.body.length) {
        const body = this.body
        this.body = null
        this.finishChunk(this.bodyType, body)
      }
    }
  }

  /**
   * Checks a chunk's declared length against its type before anything of it is buffered. Returns false when the
   * chunk is not to be read: it is skipped (this.skip is set) or the stream failed.
   */
  private accept (length: number): boolean {
    const type = this.bodyType
    if (type === CHUNK_STREAM_ID) {
      if (length !== STREAM_IDENTIFIER.length - 4) return this.fail('bad stream identifier')
      return true
    }
    if (type === CHUNK_COMPRESSED || type === CHUNK_UNCOMPRESSED) {
      const max = CHECKSUM_SIZE + (type === CHUNK_COMPRESSED ? MAX_COMPRESSED_BLOCK : MAX_SNAPPY_CHUNK_DATA)
      if (length < CHECKSUM_SIZE) return this.fail('chunk too short')
      if (length > max) return this.fail('chunk too long')
      return true
    }
    if (type === CHUNK_PADDING || type >= 0x80) {
      this.skip = length
      return false
    }
    return this.fail(`reserved unskippable chunk type 0x${type.toString(16)}`)
  }

  private fail (message: string, cause?: unknown): false {
    this.failed = true
    this.body = null
    this.onError(new Error(`snappy stream: ${message}`, { cause }))
    return false
  }

  private finishChunk (type: number, body: Buffer): void {
    if (type === CHUNK_STREAM_ID) {
      if (!body.equals(STREAM_IDENTIFIER.subarray(4))) { this.fail('bad stream identifier'); return }
      this.sawIdentifier = true
      return
    }
    if (!this.sawIdentifier) { this.fail('data before the stream identifier'); return }
    let data = body.subarray(CHECKSUM_SIZE)
    if (type === CHUNK_COMPRESSED) {
      const n = declaredLength(data)
      if (n < 0 || n > MAX_SNAPPY_CHUNK_DATA) { this.fail('corrupt compressed chunk'); return }
      try {
        data = this.block.uncompressSync(data, { asBuffer: true }) as Buffer
      } catch (err) {
        this.fail('corrupt compressed chunk', err)
        return
      }
    }
    if (maskedCrc32c(data) !== body.readUInt32LE(0)) { this.fail('checksum mismatch'); return }
    this.onData(data)
  }
}
