import zlib from 'node:zlib'
import { SnappyFrameDecoder, SnappyFrameEncoder, type Logger, type SnappyBlockCodec } from '@nsqts/protocol'

/**
 * A compression layer of one connection, installed by IDENTIFY (snappy or deflate, never both). It sits between the
 * client's output buffer and the stream (the socket, or TLS over it), and between the stream and the command parser.
 */
export interface CompressionLayer {
  /** Compresses one flush of the output buffer and passes it to the stream. */
  write (data: Buffer): void
  /** Network bytes in; plaintext comes out through the sink. */
  read (chunk: Buffer): void
  /** Bytes accepted by write but not yet handed to the stream. */
  readonly backlog: number
  /** Runs `then` once everything written so far has been handed to the stream (before ending it). */
  afterOutput (then: () => void): void
  destroy (): void
}

export interface CompressionSink {
  /** Compressed bytes for the stream. */
  wire (data: Buffer): void
  /** Decompressed bytes for the parser. */
  plain (data: Buffer): void
  /** The peer sent a stream that does not decode: the connection is dropped, as nsqd drops it on a read error. */
  error (err: Error): void
  /** Input waiting to be decompressed passed its limit (true) or was consumed (false): pause or resume reading. */
  inputFull (full: boolean): void
  /** The backlog drained. */
  drained (): void
}

/**
 * A daemon's snappy block codec. Its native binding costs an idle daemon some MB of RSS, so start() only finds the
 * package (resolving a module loads nothing) and the first IDENTIFY that negotiates snappy loads it. Finding the
 * package does not prove its binding loads (there may be no build for this platform): that is learnt at the load,
 * which logs the error and stops snappy being offered, as a failure at start did.
 */
export class SnappyCodec {
  /** The codec, once loaded. */
  block: SnappyBlockCodec | undefined
  /** The package was found at start and has not failed to load: IDENTIFY may offer snappy. */
  available = false
  private loading: Promise<void> | undefined

  /** `specifier` is what is imported: snappy, unless a test names a module that fails to load. */
  constructor (private readonly logger: Logger, private readonly specifier = 'snappy') {}

  /** At start, when --snappy is on. */
  find (): void {
    try {
      import.meta.resolve(this.specifier)
      this.available = true
    } catch (err) {
      this.unavailable(err)
    }
  }

  /** Loads the codec once; concurrent callers share the load. Never rejects: a failure leaves `block` undefined. */
  load (): Promise<void> {
    this.loading ??= (import(this.specifier) as Promise<typeof import('snappy')>).then((m) => {
      this.block = { compressSync: m.compressSync, uncompressSync: m.uncompressSync }
    }, (err: unknown) => { this.unavailable(err) })
    return this.loading
  }

  private unavailable (err: unknown): void {
    this.available = false
    this.logger.error(`snappy unavailable, not negotiated - ${(err as Error).message}`)
  }
}

/** Snappy framing in both directions; synchronous, so every flush is one stream write. */
export function snappyLayer (block: SnappyBlockCodec, sink: CompressionSink): CompressionLayer {
  const encoder = new SnappyFrameEncoder(block)
  const decoder = new SnappyFrameDecoder(block, sink.plain, sink.error)
  return {
    write (data) { sink.wire(encoder.encode(data)) },
    read (chunk) { decoder.push(chunk) },
    backlog: 0,
    afterOutput (then) { then() },
    destroy () {},
  }
}

/**
 * An empty stored block. nsqd 1.3.0 flushes its flate writer twice after the OK of a deflate upgrade, so the OK is
 * followed by one of these; zlib will not emit an empty flush, so it is written as bytes (valid after a sync flush,
 * which leaves the stream byte-aligned).
 */
export const EMPTY_STORED_BLOCK = Buffer.from([0x00, 0x00, 0x00, 0xff, 0xff])

/**
 * Raw DEFLATE (no zlib header) in both directions. Each flush ends with a sync flush so the client can decode it
 * without waiting for more; the inflater hands on what each network chunk completes. zlib runs off the main
 * thread, so output reaches the stream later, in order.
 */
export function deflateLayer (level: number, sink: CompressionSink): CompressionLayer {
  const chunkSize = 64 * 1024
  const deflater = zlib.createDeflateRaw({ level, chunkSize })
  const inflater = zlib.createInflateRaw({ chunkSize })
  deflater.on('data', sink.wire)
  deflater.on('drain', sink.drained)
  deflater.on('error', sink.error)
  inflater.on('data', sink.plain)
  inflater.on('drain', () => { sink.inputFull(false) })
  inflater.on('error', sink.error)
  return {
    write (data) {
      deflater.write(data)
      deflater.flush(zlib.constants.Z_SYNC_FLUSH)
    },
    read (chunk) {
      if (!inflater.write(chunk)) sink.inputFull(true)
    },
    get backlog () {
      return deflater.writableLength
    },
    afterOutput (then) {
      // A flush with nothing new emits nothing; its callback runs once the writes before it are out.
      deflater.flush(zlib.constants.Z_SYNC_FLUSH, then)
    },
    destroy () {
      deflater.destroy()
      inflater.destroy()
    },
  }
}
