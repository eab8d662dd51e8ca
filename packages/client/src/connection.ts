import net from 'node:net'
import tls from 'node:tls'
import { FrameDecoder, FrameType, MAGIC_V2, NsqError, OK, commands, parseErrorText } from '@nsqts/protocol'
import type { AuthResponse, IdentifyRequest, IdentifyResponse } from '@nsqts/protocol'
import { formatAddress } from './address.js'
import type { Address } from './address.js'
import { createDeflateCodec, createSnappyCodec, loadSnappy } from './compression/codec.js'
import type { WireCodec } from './compression/codec.js'
import { ConnectionClosedError, ConnectionError } from './errors.js'
import { CLIENT_VERSION } from './options.js'
import type { ResolvedConnectionOptions } from './options.js'

/** What nsqd answers to IDENTIFY when it does not negotiate features (a plain `OK`): its documented defaults. */
const PLAIN_OK_IDENTITY: IdentifyResponse = {
  max_rdy_count: 2500,
  version: '',
  max_msg_timeout: 900_000,
  msg_timeout: 60_000,
  tls_v1: false,
  deflate: false,
  deflate_level: 0,
  max_deflate_level: 0,
  snappy: false,
  sample_rate: 0,
  auth_required: false,
  output_buffer_size: 16384,
  output_buffer_timeout: 250,
}

const HEARTBEAT_TEXT = '_heartbeat_'
/** "HTTP" read as a frame size: the peer is an HTTP server, most likely the nsqd HTTP port. */
const HTTP_AS_SIZE = 0x48545450
/** Writes are coalesced until this many bytes are queued, or until the current tick ends. */
const FLUSH_THRESHOLD = 64 * 1024

export interface ConnectionHandlers {
  /** A message frame. `data` is only valid during the call. */
  onMessage? (data: Buffer): void
  /** E_FIN_FAILED / E_REQ_FAILED / E_TOUCH_FAILED: the only error frames after which nsqd keeps the connection. */
  onNonFatalError? (err: NsqError): void
  /** Called once, when the socket is gone; `err` is undefined after a close() we asked for. */
  onClose (err: Error | undefined): void
}

interface Pending {
  resolve: (data: Buffer) => void
  reject: (err: Error) => void
}

type Phase = 'connecting' | 'handshake' | 'open' | 'closed'

/**
 * One V2 protocol connection to an nsqd: dial, magic, IDENTIFY with feature negotiation, the TLS / snappy / deflate
 * upgrades in nsqd's order, AUTH, then a frame loop that answers heartbeats. Commands that nsqd answers (PUB, SUB,
 * CLS, ...) go through {@link command} and are matched to responses in order, so they can be pipelined; the others
 * (RDY, FIN, REQ, TOUCH, NOP) through {@link send}. All writes of one tick are coalesced into one socket write.
 */
export class Connection {
  readonly address: Address
  /** host:port, for logs and errors. */
  readonly name: string
  /** nsqd's IDENTIFY answer (its defaults if it did not negotiate). Valid once connect() resolved. */
  identity: IdentifyResponse = PLAIN_OK_IDENTITY
  /** nsqd's AUTH answer, when AUTH was sent. */
  auth: AuthResponse | undefined
  /** Heartbeats received (and answered with NOP), for diagnostics. */
  heartbeats = 0

  private phase: Phase = 'connecting'
  private socket!: net.Socket
  /** The stream commands are written to and frames read from: the socket, or the TLS socket wrapping it. */
  private stream!: net.Socket
  private codec: WireCodec | undefined
  private decoder: FrameDecoder | undefined
  private readonly pending: Pending[] = []
  private outQueue: Buffer[] = []
  private outBytes = 0
  private flushScheduled = false
  private closeError: Error | undefined
  private lastReadAt = 0
  private readTimer: NodeJS.Timeout | undefined
  private writeTimer: NodeJS.Timeout | undefined
  /** Handshake bytes received but not yet consumed as a frame. */
  private handshakeBuf: Buffer = Buffer.alloc(0)
  private handshakeWaiter: (() => void) | undefined
  private idleWaiters: Array<() => void> = []
  /** Only a connection that finished its handshake reports its close; a failed connect() rejects instead. */
  private wasOpen = false

  constructor (
    address: Address,
    private readonly options: ResolvedConnectionOptions,
    private readonly handlers: ConnectionHandlers
  ) {
    this.address = address
    this.name = formatAddress(address)
  }

  get isOpen (): boolean {
    return this.phase === 'open'
  }

  /** Commands written and not yet answered. */
  get pendingCount (): number {
    return this.pending.length
  }

  /** Dials, negotiates and authenticates. Rejects with a ConnectionError, or an NsqError if nsqd refused. */
  async connect (): Promise<IdentifyResponse> {
    await this.dial()
    this.phase = 'handshake'
    this.armReadTimer()
    try {
      this.socket.write(MAGIC_V2)
      this.socket.write(commands.identify(this.identifyBody()))
      const answer = await this.readHandshakeResponse()
      if (answer[0] === 0x7b /* '{' */) {
        this.identity = { ...PLAIN_OK_IDENTITY, ...JSON.parse(answer.toString()) as Partial<IdentifyResponse> }
      }
      await this.upgrade()
      if (this.identity.auth_required) await this.authenticate()
    } catch (err) {
      this.destroy(err as Error)
      throw err
    }
    this.phase = 'open'
    this.wasOpen = true
    this.decoder = new FrameDecoder(
      (type, data) => { this.onFrame(type, data) },
      (err) => { this.destroy(new ConnectionError(this.name, err.message)) },
      this.options.maxMsgSize === 0 ? undefined : this.options.maxMsgSize
    )
    const rest = this.handshakeBuf
    this.handshakeBuf = Buffer.alloc(0)
    if (rest.length > 0) this.decoder.push(rest)
    return this.identity
  }

  /** Writes a command that nsqd answers with a response or error frame; resolves with the response data. */
  command (bytes: Buffer): Promise<Buffer> {
    if (this.phase !== 'open') return Promise.reject(this.notOpenError())
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject })
      this.send(bytes)
    })
  }

  /** Like {@link command} for commands whose answer is just OK (PUB, MPUB, DPUB). */
  commandOk (bytes: Buffer): Promise<void> {
    if (this.phase !== 'open') return Promise.reject(this.notOpenError())
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve: () => { resolve() }, reject })
      this.send(bytes)
    })
  }

  /** Resolves once every command written so far has been answered (or failed). */
  whenIdle (): Promise<void> {
    if (this.pending.length === 0) return Promise.resolve()
    return new Promise((resolve) => { this.idleWaiters.push(resolve) })
  }

  private settled (): void {
    if (this.pending.length === 0 && this.idleWaiters.length > 0) {
      for (const resolve of this.idleWaiters.splice(0)) resolve()
    }
  }

  /** Writes a command that nsqd does not answer. Dropped silently once the connection is closed. */
  send (bytes: Buffer): void {
    if (this.phase === 'closed' || this.phase === 'connecting') return
    this.outQueue.push(bytes)
    this.outBytes += bytes.length
    if (this.outBytes >= FLUSH_THRESHOLD) {
      this.flush()
    } else if (!this.flushScheduled) {
      this.flushScheduled = true
      process.nextTick(() => { this.flush() })
    }
  }

  /** Flushes queued writes and ends the connection; nsqd sees a clean EOF. */
  close (): void {
    if (this.phase === 'closed') return
    if (this.phase === 'connecting') {
      this.destroy()
      return
    }
    this.flush()
    this.phase = 'closed'
    this.stream.end()
    // A peer that never closes its side must not keep the socket around.
    const timer = setTimeout(() => { this.socket.destroy() }, this.options.writeTimeoutMs)
    timer.unref()
  }

  /** Tears the connection down at once; pending commands fail with `err` as their cause. */
  destroy (err?: Error): void {
    this.closeError ??= err
    if (this.socket === undefined) return
    this.phase = 'closed'
    this.stream.destroy()
    this.socket.destroy()
  }

  private notOpenError (): Error {
    return new ConnectionError(this.name, 'not connected', { cause: this.closeError })
  }

  private identifyBody (): IdentifyRequest {
    const o = this.options
    return {
      client_id: o.clientId,
      hostname: o.hostname,
      user_agent: o.userAgent === '' ? `nsqts/${CLIENT_VERSION}` : o.userAgent,
      feature_negotiation: true,
      heartbeat_interval: o.heartbeatIntervalMs,
      output_buffer_size: o.outputBufferSize,
      output_buffer_timeout: o.outputBufferTimeoutMs,
      tls_v1: o.tls !== undefined,
      snappy: o.snappy,
      deflate: o.deflate,
      deflate_level: o.deflateLevel,
      sample_rate: o.sampleRate,
      msg_timeout: o.msgTimeoutMs,
    }
  }

  private dial (): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: this.address.host, port: this.address.port })
      this.socket = socket
      this.stream = socket
      const timer = setTimeout(() => {
        socket.destroy(new Error(`dial timed out after ${this.options.dialTimeoutMs} ms`))
      }, this.options.dialTimeoutMs)
      let failure: Error | undefined
      const onError = (err: Error): void => { failure = err }
      // 'close' follows 'error', and also comes alone when destroy() aborts the dial.
      const onClose = (): void => {
        clearTimeout(timer)
        this.phase = 'closed'
        const cause = failure ?? this.closeError
        reject(new ConnectionError(this.name, `cannot connect: ${cause?.message ?? 'aborted'}`, { cause }))
      }
      socket.once('error', onError)
      socket.once('close', onClose)
      socket.once('connect', () => {
        clearTimeout(timer)
        socket.off('error', onError)
        socket.off('close', onClose)
        socket.setNoDelay(true)
        this.attach(socket)
        socket.on('close', () => { this.onSocketClose() })
        resolve()
      })
    })
  }

  /** Routes a readable stream's bytes into the connection and its errors into the close path. */
  private attach (stream: net.Socket): void {
    stream.on('data', (chunk: Buffer) => {
      this.lastReadAt = performance.now()
      if (this.codec !== undefined) this.codec.decode(chunk)
      else this.onPlain(chunk)
    })
    stream.on('error', (err) => { this.closeError ??= new ConnectionError(this.name, err.message, { cause: err }) })
    stream.on('drain', () => {
      clearTimeout(this.writeTimer)
      this.writeTimer = undefined
    })
  }

  private onPlain (chunk: Buffer): void {
    if (this.decoder !== undefined) {
      this.decoder.push(chunk)
      return
    }
    this.handshakeBuf = this.handshakeBuf.length === 0 ? chunk : Buffer.concat([this.handshakeBuf, chunk])
    this.handshakeWaiter?.()
  }

  /** Reads the next handshake frame, answering heartbeats; an error frame rejects with the NsqError. */
  private async readHandshakeResponse (): Promise<Buffer> {
    for (;;) {
      const { type, data } = await this.readHandshakeFrame()
      if (type === FrameType.Error) throw errorFromFrame(data)
      if (type !== FrameType.Response) throw new ConnectionError(this.name, `unexpected frame type ${type} during handshake`)
      if (data.toString() === HEARTBEAT_TEXT) {
        this.heartbeats++
        this.send(commands.NOP)
        continue
      }
      return data
    }
  }

  private async readHandshakeFrame (): Promise<{ type: number, data: Buffer }> {
    for (;;) {
      if (this.phase === 'closed') throw this.closeError ?? new ConnectionClosedError(this.name)
      const buf = this.handshakeBuf
      if (buf.length >= 4) {
        const size = buf.readUInt32BE(0)
        if (size === HTTP_AS_SIZE) throw new ConnectionError(this.name, 'unexpected HTTP response: is this the nsqd HTTP port?')
        if (size < 4) throw new ConnectionError(this.name, `frame too short (${size} bytes)`)
        if (buf.length >= 4 + size) {
          this.handshakeBuf = buf.subarray(4 + size)
          return { type: buf.readUInt32BE(4), data: Buffer.from(buf.subarray(8, 4 + size)) }
        }
      }
      await new Promise<void>((resolve) => { this.handshakeWaiter = resolve })
      this.handshakeWaiter = undefined
    }
  }

  private async expectOk (step: string): Promise<void> {
    const data = await this.readHandshakeResponse()
    if (!data.equals(OK)) throw new ConnectionError(this.name, `expected OK after ${step}, got ${JSON.stringify(data.toString())}`)
  }

  /** nsqd's order: TLS, then snappy or deflate, each confirmed by an OK frame in the new encoding. */
  private async upgrade (): Promise<void> {
    const o = this.options
    if (o.tls !== undefined) {
      if (!this.identity.tls_v1) throw new ConnectionError(this.name, 'TLS was requested but nsqd did not enable it')
      await this.startTls(o.tls)
      await this.expectOk('TLS upgrade')
    }
    if (o.snappy || o.deflate) {
      if (o.snappy && !this.identity.snappy) throw new ConnectionError(this.name, 'snappy was requested but nsqd did not enable it')
      if (o.deflate && !this.identity.deflate) throw new ConnectionError(this.name, 'deflate was requested but nsqd did not enable it')
      const sinks = {
        onPlain: (data: Buffer) => { this.onPlain(data) },
        onWire: (data: Buffer) => { this.writeWire(data) },
        onError: (err: Error) => { this.destroy(new ConnectionError(this.name, err.message, { cause: err })) },
      }
      this.codec = o.snappy ? createSnappyCodec(await loadSnappy(), sinks) : createDeflateCodec(o.deflateLevel, sinks)
      // Whatever arrived after the IDENTIFY answer is already compressed.
      const early = this.handshakeBuf
      this.handshakeBuf = Buffer.alloc(0)
      if (early.length > 0) this.codec.decode(early)
      await this.expectOk(o.snappy ? 'snappy upgrade' : 'deflate upgrade')
    }
  }

  private startTls (options: tls.ConnectionOptions): Promise<void> {
    if (this.handshakeBuf.length > 0) {
      return Promise.reject(new ConnectionError(this.name, 'unexpected data before the TLS handshake'))
    }
    return new Promise((resolve, reject) => {
      this.socket.removeAllListeners('data')
      const secure = tls.connect({
        host: this.address.host,
        servername: net.isIP(this.address.host) === 0 ? this.address.host : undefined,
        ...options,
        socket: this.socket,
      })
      this.stream = secure
      const onError = (err: Error): void => {
        reject(new ConnectionError(this.name, `TLS handshake failed: ${err.message}`, { cause: err }))
      }
      secure.once('error', onError)
      secure.once('secureConnect', () => {
        secure.off('error', onError)
        this.attach(secure)
        resolve()
      })
    })
  }

  private async authenticate (): Promise<void> {
    if (this.options.authSecret === undefined) {
      throw new ConnectionError(this.name, 'nsqd requires AUTH but no authSecret is set')
    }
    this.send(commands.auth(this.options.authSecret))
    this.auth = JSON.parse((await this.readHandshakeResponse()).toString()) as AuthResponse
  }

  private onFrame (type: number, data: Buffer): void {
    if (type === FrameType.Message) {
      this.handlers.onMessage?.(data)
      return
    }
    if (type === FrameType.Response) {
      if (data.length === HEARTBEAT_TEXT.length && data.toString() === HEARTBEAT_TEXT) {
        this.heartbeats++
        this.send(commands.NOP)
        return
      }
      const waiter = this.pending.shift()
      if (waiter === undefined) {
        this.options.logger.warn(`${this.name}: unexpected response ${JSON.stringify(data.toString())}`)
        return
      }
      waiter.resolve(data.equals(OK) ? OK : Buffer.from(data))
      this.settled()
      return
    }
    if (type === FrameType.Error) {
      const err = errorFromFrame(data)
      if (err instanceof NsqError && !err.fatal) {
        this.handlers.onNonFatalError?.(err)
        return
      }
      // nsqd closes the connection after a fatal error; keep the error as the reason.
      this.closeError ??= err
      const waiter = this.pending.shift()
      if (waiter !== undefined) waiter.reject(err)
      else this.options.logger.error(`${this.name}: ${err.message}`)
      this.settled()
      return
    }
    this.destroy(new ConnectionError(this.name, `unknown frame type ${type}`))
  }

  private flush (): void {
    this.flushScheduled = false
    if (this.outBytes === 0 || this.phase === 'closed') return
    const queue = this.outQueue
    this.outQueue = []
    this.outBytes = 0
    if (this.codec !== undefined) {
      this.codec.encode(queue.length === 1 ? queue[0]! : Buffer.concat(queue))
      return
    }
    if (queue.length === 1) {
      this.writeWire(queue[0]!)
      return
    }
    // cork/uncork turns the writes into one writev.
    this.stream.cork()
    for (let i = 0; i < queue.length - 1; i++) this.stream.write(queue[i]!)
    this.writeWire(queue[queue.length - 1]!)
    this.stream.uncork()
  }

  private writeWire (bytes: Buffer): void {
    if (this.stream.destroyed) return
    if (!this.stream.write(bytes) && this.writeTimer === undefined) {
      // The socket buffer is full: if it does not drain in time, the peer is gone or stuck.
      this.writeTimer = setTimeout(() => {
        this.destroy(new ConnectionError(this.name, `write timed out after ${this.options.writeTimeoutMs} ms`))
      }, this.options.writeTimeoutMs)
      this.writeTimer.unref()
    }
  }

  /** One timer per connection, re-armed lazily: reads only stamp a time, they never touch the timer. */
  private armReadTimer (): void {
    this.lastReadAt = performance.now()
    const check = (): void => {
      const idle = performance.now() - this.lastReadAt
      if (idle >= this.options.readTimeoutMs) {
        this.destroy(new ConnectionError(this.name, `read timed out: nothing received for ${Math.round(idle)} ms`))
        return
      }
      this.readTimer = setTimeout(check, this.options.readTimeoutMs - idle)
      this.readTimer.unref()
    }
    this.readTimer = setTimeout(check, this.options.readTimeoutMs)
    this.readTimer.unref()
  }

  private onSocketClose (): void {
    this.phase = 'closed'
    clearTimeout(this.readTimer)
    clearTimeout(this.writeTimer)
    this.codec?.destroy()
    this.handshakeWaiter?.()
    const cause = this.closeError
    for (const waiter of this.pending.splice(0)) waiter.reject(new ConnectionClosedError(this.name, { cause }))
    this.settled()
    if (this.wasOpen) this.handlers.onClose(cause)
  }
}

function errorFromFrame (data: Buffer): Error {
  const text = data.toString()
  const parsed = parseErrorText(text)
  if (parsed === undefined) return new Error(`nsqd error: ${text}`)
  return new NsqError(parsed.code, parsed.description)
}
