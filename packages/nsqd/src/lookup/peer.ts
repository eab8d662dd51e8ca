import { connect, type Socket } from 'node:net'
import { MAGIC_V1, SizePrefixedReader, hostAndPort, type Logger } from '@nsqts/protocol'

/** What nsqlookupd says about itself in answer to IDENTIFY. */
export interface LookupdInfo {
  tcp_port: number
  http_port: number
  version: string
  broadcast_address: string
  hostname?: string
}

export interface PeerIdentity {
  version: string
  tcp_port: number
  http_port: number
  hostname: string
  broadcast_address: string
  topology_zone: string
  topology_region: string
}

const DIAL_TIMEOUT_MS = 1000
const MAX_RETRY_MS = 15_000

/**
 * One nsqlookupd that this nsqd registers with, over lookupd's TCP protocol V1. After every (re)connect it
 * identifies and registers the whole current state; while connected it sends REGISTER/UNREGISTER as they happen and
 * PING every --lookupd-ping-interval (15 s, as NSQ). Any failure drops the connection and retries with a growing
 * delay: publishers never wait on it.
 */
export class LookupPeer {
  info: LookupdInfo | undefined
  private socket: Socket | undefined
  private connected = false
  private closed = false
  private retryMs = 250
  private retryTimer: NodeJS.Timeout | undefined
  private pingTimer: NodeJS.Timeout | undefined
  private awaitingIdentify = false

  constructor (
    readonly address: string,
    private readonly identity: () => PeerIdentity,
    /** Every REGISTER line that describes the node's current topics and channels. */
    private readonly snapshot: () => string[],
    private readonly logger: Logger,
    private readonly pingIntervalMs: number,
  ) {}

  start (): void {
    this.logger.info(`LOOKUP(${this.address}): adding peer`)
    this.dial()
  }

  /** Sends a REGISTER/UNREGISTER line when connected; when not, the next reconnect sends the full state anyway. */
  command (line: string): void {
    if (this.connected) this.socket?.write(line + '\n')
  }

  private dial (): void {
    if (this.closed) return
    this.logger.info(`LOOKUP connecting to ${this.address}`)
    let target: { host: string, port: number }
    try {
      target = hostAndPort(this.address)
    } catch (err) {
      // As a failed connection in nsqd: logged and tried again later, never thrown from a timer.
      this.logger.error(`LOOKUPD(${this.address}): ${(err as Error).message}`)
      this.retryLater()
      return
    }
    const socket = connect({ ...target, timeout: DIAL_TIMEOUT_MS })
    this.socket = socket
    socket.setNoDelay(true)
    socket.once('connect', () => {
      socket.setTimeout(0)
      this.retryMs = 250
      this.awaitingIdentify = true
      const body = Buffer.from(JSON.stringify(this.identity()))
      const head = Buffer.from('IDENTIFY\n')
      const size = Buffer.alloc(4)
      size.writeUInt32BE(body.length)
      socket.write(Buffer.concat([MAGIC_V1, head, size, body]))
    })
    const reader = new SizePrefixedReader((data) => this.onResponse(data), () => socket.destroy(), 5 * 1024 * 1024)
    socket.on('data', (chunk) => reader.push(chunk))
    socket.once('timeout', () => socket.destroy(new Error('dial timeout')))
    socket.on('error', (err) => this.logger.error(`LOOKUPD(${this.address}): ${err.message}`))
    socket.once('close', () => {
      this.connected = false
      clearInterval(this.pingTimer)
      this.pingTimer = undefined
      this.retryLater()
    })
  }

  private retryLater (): void {
    if (this.closed) return
    this.retryTimer = setTimeout(() => this.dial(), this.retryMs)
    this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS)
  }

  private onResponse (data: Buffer): void {
    const text = data.toString()
    if (this.awaitingIdentify) {
      this.awaitingIdentify = false
      try {
        this.info = JSON.parse(text) as LookupdInfo
      } catch {
        this.logger.error(`LOOKUPD(${this.address}): bad IDENTIFY response ${text}`)
        this.socket?.destroy()
        return
      }
      this.logger.info(`LOOKUPD(${this.address}): peer info ${text}`)
      this.connected = true
      const lines = this.snapshot()
      if (lines.length > 0) this.socket?.write(lines.map((l) => l + '\n').join(''))
      this.pingTimer = setInterval(() => this.socket?.write('PING\n'), this.pingIntervalMs)
      return
    }
    if (text !== 'OK') this.logger.error(`LOOKUPD(${this.address}): ${text}`)
  }

  close (): void {
    this.closed = true
    clearTimeout(this.retryTimer)
    clearInterval(this.pingTimer)
    this.socket?.destroy()
  }
}
