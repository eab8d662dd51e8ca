import { ConnectionError } from './errors.js'

/** "HTTP" read as a frame size: the peer is an HTTP server, most likely the nsqd HTTP port. */
const HTTP_AS_SIZE = 0x48545450

/**
 * Frames of the handshake (IDENTIFY, upgrades, AUTH), read one at a time as the handshake awaits them. Bytes past the
 * last frame read stay here until the connection's frame loop takes them over.
 */
export class HandshakeReader {
  private buf: Buffer = Buffer.alloc(0)
  private waiter: (() => void) | undefined

  /** @param closedError the error to fail with once the connection is closed, undefined while it is not. */
  constructor (private readonly name: string, private readonly closedError: () => Error | undefined) {}

  /** Copies `chunk`: the connection may read the next bytes into the same buffer. */
  push (chunk: Buffer): void {
    this.buf = Buffer.concat([this.buf, chunk])
    this.waiter?.()
  }

  /** Wakes a read in progress, to notice that the connection closed. */
  wake (): void {
    this.waiter?.()
  }

  get pending (): boolean {
    return this.buf.length > 0
  }

  /** What arrived after the frames read so far; the reader is empty afterwards. */
  takeRest (): Buffer {
    const rest = this.buf
    this.buf = Buffer.alloc(0)
    return rest
  }

  async frame (): Promise<{ type: number, data: Buffer }> {
    for (;;) {
      const closed = this.closedError()
      if (closed !== undefined) throw closed
      const buf = this.buf
      if (buf.length >= 4) {
        const size = buf.readUInt32BE(0)
        if (size === HTTP_AS_SIZE) throw new ConnectionError(this.name, 'unexpected HTTP response: is this the nsqd HTTP port?')
        if (size < 4) throw new ConnectionError(this.name, `frame too short (${size} bytes)`)
        if (buf.length >= 4 + size) {
          this.buf = buf.subarray(4 + size)
          return { type: buf.readUInt32BE(4), data: Buffer.from(buf.subarray(8, 4 + size)) }
        }
      }
      await new Promise<void>((resolve) => { this.waiter = resolve })
      this.waiter = undefined
    }
  }
}
