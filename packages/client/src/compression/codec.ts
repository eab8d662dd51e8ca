import zlib from 'node:zlib'
import { SnappyFrameDecoder, SnappyFrameEncoder } from '@nsqts/protocol'
import type { SnappyBlockCodec } from '@nsqts/protocol'

/**
 * A compression layer between the socket and the frame decoder, installed after IDENTIFY negotiated it. Output comes
 * out through the callbacks given at creation, in order, possibly later than the call that produced it (zlib works
 * off the main thread).
 */
export interface WireCodec {
  /** Network bytes in; plaintext out through `onPlain`. */
  decode (chunk: Buffer): void
  /** One write batch of plaintext in; compressed bytes out through `onWire`, flushed so nsqd can decode all of it. */
  encode (data: Buffer): void
  destroy (): void
}

export interface CodecSinks {
  onPlain (data: Buffer): void
  onWire (data: Buffer): void
  onError (err: Error): void
}

let snappyModule: Promise<SnappyBlockCodec> | undefined

/** Loads the native `snappy` package on first use, so clients that never ask for snappy never load it. */
export function loadSnappy (): Promise<SnappyBlockCodec> {
  snappyModule ??= import('snappy').then((m) => ({ compressSync: m.compressSync, uncompressSync: m.uncompressSync }))
  return snappyModule
}

export function createSnappyCodec (block: SnappyBlockCodec, sinks: CodecSinks): WireCodec {
  const encoder = new SnappyFrameEncoder(block)
  const decoder = new SnappyFrameDecoder(block, sinks.onPlain, sinks.onError)
  return {
    decode: (chunk) => { decoder.push(chunk) },
    encode: (data) => { sinks.onWire(encoder.encode(data)) },
    destroy: () => {},
  }
}

/**
 * Raw DEFLATE (no zlib header) in both directions, as nsqd's flate reader/writer. Every write batch ends with a sync
 * flush so that nsqd can decode the commands without waiting for more input; the inflater sync-flushes too so that a
 * frame is handed on as soon as its bytes have arrived.
 */
export function createDeflateCodec (level: number, sinks: CodecSinks): WireCodec {
  const inflate = zlib.createInflateRaw({ flush: zlib.constants.Z_SYNC_FLUSH })
  const deflate = zlib.createDeflateRaw({ level })
  inflate.on('data', sinks.onPlain)
  inflate.on('error', sinks.onError)
  deflate.on('data', sinks.onWire)
  deflate.on('error', sinks.onError)
  return {
    decode: (chunk) => { inflate.write(chunk) },
    encode: (data) => {
      deflate.write(data)
      deflate.flush(zlib.constants.Z_SYNC_FLUSH)
    },
    destroy: () => {
      inflate.destroy()
      deflate.destroy()
    },
  }
}
