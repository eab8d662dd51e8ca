import type { Socket } from 'node:net'
import {
  deflateLayer, snappyLayer, EMPTY_STORED_BLOCK, type CompressionLayer, type CompressionSink, type SnappyCodec,
} from './compression.js'
import type { TlsState, TlsUpgrader } from './tls.js'

/** What the upgrades need of a connection. */
export interface Upgradable {
  readonly isClosed: boolean
  /** The TCP socket, which TLS wraps. */
  readonly socket: Socket
  /**
   * Hands the bytes after the current command to `then`, outside the parser: they belong to the upgraded stream. For
   * a command that suspended parsing (IDENTIFY waiting for the snappy codec), `then` takes what was kept at once.
   */
  handOff (then: (rest: Buffer) => void): void
  flush (): void
  close (): void
  /** Sends OK at once, in the stream's current encoding: each upgrade is confirmed in the new one. */
  confirm (): void
  /** Reading pauses while TLS is negotiated. */
  pauseForUpgrade (on: boolean): void
  /** The socket's bytes go to TLS from now on, not to the parser. */
  detachSocket (): void
  /** TLS is up: bytes are read from and written to `state.socket`. */
  useTls (state: TlsState): void
  /** Where a compression layer sends what it decompresses and compresses. */
  compressionSink (): CompressionSink
  /** Every byte read and written goes through `layer` from now on. */
  useCompression (layer: CompressionLayer, kind: 'snappy' | 'deflate', level: number): void
  /** Bytes off the stream, as if just read. */
  readWire (bytes: Buffer): void
  /** Bytes for the stream as they are. */
  writeWire (bytes: Buffer): void
}

/** The daemon's TLS upgrader (undefined when TLS is off) and snappy codec. */
export interface UpgradeServices {
  readonly tlsUpgrader: TlsUpgrader | undefined
  readonly snappy: SnappyCodec
}

/**
 * After the IDENTIFY answer: TLS, then snappy or deflate, each confirmed by an OK frame in the new encoding. The
 * bytes after the IDENTIFY body in the same chunk already belong to the upgraded stream.
 */
export function upgrade (conn: Upgradable, services: UpgradeServices, tls: boolean,
  compression: 'snappy' | 'deflate' | undefined, deflateLevel: number): void {
  conn.handOff((rest) => {
    // The IDENTIFY answer itself leaves as it came: plain.
    conn.flush()
    if (conn.isClosed) return
    if (!tls) {
      startCompression(conn, services, compression, deflateLevel, rest)
      return
    }
    const upgrader = services.tlsUpgrader
    if (upgrader === undefined) return conn.close()
    conn.pauseForUpgrade(true)
    conn.detachSocket()
    upgrader.upgrade(conn.socket, rest, (state) => {
      if (conn.isClosed) {
        state.socket.destroy()
        return
      }
      conn.useTls(state)
      conn.confirm()
      startCompression(conn, services, compression, deflateLevel, Buffer.alloc(0))
      conn.pauseForUpgrade(false)
    })
  })
}

function startCompression (conn: Upgradable, services: UpgradeServices, kind: 'snappy' | 'deflate' | undefined,
  level: number, early: Buffer): void {
  if (kind !== undefined) {
    const sink = conn.compressionSink()
    const block = services.snappy.block
    let layer: CompressionLayer
    if (kind === 'snappy' && block !== undefined) {
      // identify() answers snappy only once the codec has loaded.
      layer = snappyLayer(block, sink)
      conn.useCompression(layer, 'snappy', level)
    } else {
      layer = deflateLayer(level, sink)
      conn.useCompression(layer, 'deflate', level)
    }
    conn.confirm()
    if (kind === 'deflate') layer.afterOutput(() => { conn.writeWire(EMPTY_STORED_BLOCK) })
  }
  if (early.length > 0) conn.readWire(early)
}
