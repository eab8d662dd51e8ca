/**
 * nsqd → client frames:
 *
 *   [ 4-byte BE size ][ 4-byte BE frame type ][ data ... ]
 *     size = 4 + data length
 *
 * nsqlookupd → nsqd responses drop the frame type:
 *
 *   [ 4-byte BE size ][ data ... ]
 */
export const FrameType = {
  Response: 0,
  Error: 1,
  Message: 2,
} as const
export type FrameType = (typeof FrameType)[keyof typeof FrameType]

export const FRAME_HEADER_SIZE = 8

export const OK = Buffer.from('OK')
export const CLOSE_WAIT = Buffer.from('CLOSE_WAIT')
export const HEARTBEAT = Buffer.from('_heartbeat_')

/** Encodes one frame into a fresh buffer. */
export function encodeFrame (type: FrameType, data: Buffer | string): Buffer {
  const payload = typeof data === 'string' ? Buffer.from(data) : data
  const out = Buffer.allocUnsafe(FRAME_HEADER_SIZE + payload.length)
  out.writeUInt32BE(4 + payload.length, 0)
  out.writeUInt32BE(type, 4)
  payload.copy(out, FRAME_HEADER_SIZE)
  return out
}

/** Encodes a size-prefixed response without a frame type (nsqlookupd's TCP answers). */
export function encodeSizePrefixed (data: Buffer | string): Buffer {
  const payload = typeof data === 'string' ? Buffer.from(data) : data
  const out = Buffer.allocUnsafe(4 + payload.length)
  out.writeUInt32BE(payload.length, 0)
  payload.copy(out, 4)
  return out
}

/**
 * Reassembles `[4-byte BE size][payload]` records from a byte stream fed chunk by chunk, handing each out as a range
 * of a buffer: `buf[start, end)`. A record that lies whole in one chunk is a range of that chunk (valid only during
 * the callback); a record split across chunks is gathered into one buffer of its exact size, so no chunk is ever
 * concatenated with the rest of the stream. Making no view per record keeps the per-record cost at a few reads.
 */
export class SizePrefixedRangeReader {
  private readonly header = Buffer.alloc(4)
  private headerFill = 0
  private body: Buffer | null = null
  private bodyFill = 0
  private readonly maxSize: number
  private stopped = false

  /** @param maxSize the largest payload accepted; a larger size is reported through onOversize and reading stops. */
  constructor (
    private readonly onRecord: (buf: Buffer, start: number, end: number) => void,
    private readonly onOversize: (size: number) => void,
    maxSize = 0x7fffffff,
  ) {
    this.maxSize = maxSize
  }

  stop (): void {
    this.stopped = true
  }

  push (chunk: Buffer): void {
    let pos = 0
    const len = chunk.length
    while (pos < len && !this.stopped) {
      if (this.body === null) {
        if (this.headerFill === 0 && len - pos >= 4) {
          const size = chunk.readUInt32BE(pos)
          if (size > this.maxSize) {
            this.stopped = true
            this.onOversize(size)
            return
          }
          if (len - pos - 4 >= size) {
            this.onRecord(chunk, pos + 4, pos + 4 + size)
            pos += 4 + size
            continue
          }
          pos += 4
          this.body = Buffer.allocUnsafe(size)
          this.bodyFill = 0
          continue
        }
        const take = Math.min(4 - this.headerFill, len - pos)
        chunk.copy(this.header, this.headerFill, pos, pos + take)
        this.headerFill += take
        pos += take
        if (this.headerFill < 4) return
        this.headerFill = 0
        const size = this.header.readUInt32BE(0)
        if (size > this.maxSize) {
          this.stopped = true
          this.onOversize(size)
          return
        }
        this.body = Buffer.allocUnsafe(size)
        this.bodyFill = 0
        if (size === 0) this.finishBody()
        continue
      }
      const take = Math.min(this.body.length - this.bodyFill, len - pos)
      chunk.copy(this.body, this.bodyFill, pos, pos + take)
      this.bodyFill += take
      pos += take
      if (this.bodyFill === this.body.length) this.finishBody()
    }
  }

  private finishBody (): void {
    const body = this.body as Buffer
    this.body = null
    this.onRecord(body, 0, body.length)
  }
}

/** {@link SizePrefixedRangeReader} handing each record out as a Buffer (a view, valid only during the callback). */
export class SizePrefixedReader {
  private readonly ranges: SizePrefixedRangeReader

  constructor (onRecord: (payload: Buffer) => void, onOversize: (size: number) => void, maxSize?: number) {
    const onRange = (buf: Buffer, start: number, end: number): void => { onRecord(buf.subarray(start, end)) }
    this.ranges = new SizePrefixedRangeReader(onRange, onOversize, maxSize)
  }

  stop (): void {
    this.ranges.stop()
  }

  push (chunk: Buffer): void {
    this.ranges.push(chunk)
  }
}

export interface Frame {
  type: number
  data: Buffer
}

/**
 * Client-side decoder of nsqd frames, handing each frame's data out as a range: `buf[start, end)`, a range of the
 * pushed chunk valid only during the callback unless the frame spanned several chunks; copy it to keep it.
 */
export class FrameRangeDecoder {
  private readonly reader: SizePrefixedRangeReader
  constructor (onFrame: (type: number, buf: Buffer, start: number, end: number) => void, onError: (err: Error) => void,
    maxFrameSize = 0x7fffffff) {
    this.reader = new SizePrefixedRangeReader(
      (buf, start, end) => {
        if (end - start < 4) {
          this.reader.stop()
          onError(new Error(`frame too short (${end - start} bytes)`))
          return
        }
        onFrame(buf.readUInt32BE(start), buf, start + 4, end)
      },
      (size) => { onError(new Error(`frame size ${size} exceeds the limit of ${maxFrameSize}`)) },
      maxFrameSize,
    )
  }

  push (chunk: Buffer): void {
    this.reader.push(chunk)
  }
}

/** {@link FrameRangeDecoder} handing each frame's data out as a Buffer (a view, valid only during the callback). */
export class FrameDecoder {
  private readonly ranges: FrameRangeDecoder
  constructor (onFrame: (type: number, data: Buffer) => void, onError: (err: Error) => void, maxFrameSize?: number) {
    const onRange = (type: number, buf: Buffer, start: number, end: number): void => {
      onFrame(type, buf.subarray(start, end))
    }
    this.ranges = new FrameRangeDecoder(onRange, onError, maxFrameSize)
  }

  push (chunk: Buffer): void {
    this.ranges.push(chunk)
  }
}
