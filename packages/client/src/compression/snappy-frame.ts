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
 * A chunk holds at most 65536 bytes of uncompressed data.
 */
export const STREAM_IDENTIFIER = Buffer.from([0xff, 0x06, 0x00, 0x00, 0x73, 0x4e, 0x61, 0x50, 0x70, 0x59])
const MAX_UNCOMPRESSED_CHUNK = 65536
const CHUNK_COMPRESSED = 0x00
const CHUNK_UNCOMPRESSED = 0x01
const CHUNK_PADDING = 0xfe
const CHUNK_STREAM_ID = 0xff

/** The two raw-block functions of the `snappy` package, injected so that the native module loads only when used. */
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
    for (let pos = 0; pos < data.length; pos += MAX_UNCOMPRESSED_CHUNK) {
      const piece = data.subarray(pos, pos + MAX_UNCOMPRESSED_CHUNK)
      const compressed = this.block.compressSync(piece)
      // Incompressible data is sent as is: the format allows it and it saves the receiver a decompression.
      const useCompressed = compressed.length < piece.length
      const payload = useCompressed ? compressed : piece
      const header = Buffer.allocUnsafe(8)
      header[0] = useCompressed ? CHUNK_COMPRESSED : CHUNK_UNCOMPRESSED
      header.writeUIntLE(payload.length + 4, 1, 3)
      header.writeUInt32LE(maskedCrc32c(piece), 4)
      parts.push(header, payload)
    }
    return Buffer.concat(parts)
  }
}

/**
 * Incremental decoder: push network chunks, get plaintext through `onData`. A chunk that spans reads is gathered into
 * one buffer of its exact size.
 */
export class SnappyFrameDecoder {
  private readonly header = Buffer.alloc(4)
  private headerFill = 0
  private body: Buffer | null = null
  private bodyType = 0
  private bodyFill = 0
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
      if (this.body === null) {
        const take = Math.min(4 - this.headerFill, chunk.length - pos)
        chunk.copy(this.header, this.headerFill, pos, pos + take)
        this.headerFill += take
        pos += take
        if (this.headerFill < 4) return
        this.headerFill = 0
        this.bodyType = this.header[0]!
        this.body = Buffer.allocUnsafe(this.header.readUIntLE(1, 3))
        this.bodyFill = 0
        if (this.body.length === 0) this.finishChunk()
        continue
      }
      const take = Math.min(this.body.length - this.bodyFill, chunk.length - pos)
      chunk.copy(this.body, this.bodyFill, pos, pos + take)
      this.bodyFill += take
      pos += take
      if (this.bodyFill === this.body.length) this.finishChunk()
    }
  }

  private fail (message: string): void {
    this.failed = true
    this.onError(new Error(`snappy stream: ${message}`))
  }

  private finishChunk (): void {
    const body = this.body as Buffer
    const type = this.bodyType
    this.body = null
    if (type === CHUNK_STREAM_ID) {
      if (!body.equals(STREAM_IDENTIFIER.subarray(4))) return this.fail('bad stream identifier')
      this.sawIdentifier = true
      return
    }
    if (!this.sawIdentifier) return this.fail('data before the stream identifier')
    if (type === CHUNK_COMPRESSED || type === CHUNK_UNCOMPRESSED) {
      if (body.length < 4) return this.fail('chunk too short')
      let data: Buffer
      if (type === CHUNK_COMPRESSED) {
        try {
          data = this.block.uncompressSync(body.subarray(4), { asBuffer: true }) as Buffer
        } catch (err) {
          this.failed = true
          this.onError(new Error('snappy stream: corrupt compressed chunk', { cause: err }))
          return
        }
      } else {
        data = body.subarray(4)
      }
      if (data.length > MAX_UNCOMPRESSED_CHUNK) return this.fail('chunk larger than 65536 bytes')
      if (maskedCrc32c(data) !== body.readUInt32LE(0)) return this.fail('checksum mismatch')
      this.onData(data)
      return
    }
    if (type === CHUNK_PADDING || type >= 0x80) return
    this.fail(`reserved unskippable chunk type 0x${type.toString(16)}`)
  }
}
