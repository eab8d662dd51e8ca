import type net from 'node:net'
import type tls from 'node:tls'
import { FrameRangeDecoder, FrameType, HEARTBEAT, MAGIC_V2, NsqError, OK, commands } from '@nsqts/protocol'
import type { AuthResponse, IdentifyResponse } from '@nsqts/protocol'
import { formatAddress } from './address.js'
import type { Address } from './address.js'
import { createDeflateCodec, createSnappyCodec, loadSnappy } from './compression/codec.js'
import type { WireCodec } from './compression/codec.js'
import { dial } from './dial.js'
import { ConnectionClosedError, ConnectionError, errorFromText } from './errors.js'
import { HandshakeReader } from './handshake-reader.js'
import { PLAIN_OK_IDENTITY, identifyRequest } from './identify.js'
import type { ResolvedConnectionOptions } from './options.js'
import { OutputBuffer } from './output-buffer.js'
import { startTls } from './tls-upgrade.js'

const FIN_HEAD = Buffer.from('FIN ')
/** A plain connection reads into one buffer of this size, reused for every read. */
const READ_BUFFER_SIZE = 64 * 1024

export interface ConnectionHandlers {
  /** A message frame: its data is `buf[start, end)`, only valid during the call. */
  onMessage? (buf: Buffer, start: number, end: number): void
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
  private decoder: FrameRangeDecoder | undefined
  private readonly pending: Pending[] = []
  private readonly output = new OutputBuffer((chunks) => { this.writeChunks(chunks) })
  private closeError: Error | undefined
  private lastReadAt = 0
  private readTimer: NodeJS.Timeout | undefined
  private writeTimer: NodeJS.Timeout | undefined
  private readonly handshake: HandshakeReader
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
    this.handshake = new HandshakeReader(this.name, () => this.phase === 'closed'
      ? this.closeError ?? new ConnectionClosedError(this.name)
      : undefined)
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
      this.socket.write(commands.identify(identifyRequest(this.options)))
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
    this.decoder = new FrameRangeDecoder(
      (type, buf, start, end) => { this.onFrame(type, buf, start, end) },
      (err) => { this.destroy(new ConnectionError(this.name, err.message)) },
      this.options.maxMsgSize === 0 ? undefined : this.options.maxMsgSize
    )
    const rest = this.handshake.takeRest()
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
    this.output.write(bytes)
  }

  /** FIN for the message whose 16-byte id starts at `source[idStart]`, without making the id a string. */
  sendFin (source: Buffer, idStart: number): void {
    if (this.phase === 'closed' || this.phase === 'connecting') return
    this.output.writeWithId(FIN_HEAD, source, idStart)
  }

  /** Flushes queued writes and ends the connection; nsqd sees a clean EOF. */
  close (): void {
    if (this.phase === 'closed') return
    if (this.phase === 'connecting') {
      this.destroy()
      return
    }
    this.output.flush()
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

  private async dial (): Promise<void> {
    // Without TLS or compression the socket reads into one reused buffer, with no Buffer and no stream event per
    // read: everything the frame loop keeps (messages, answers, partial frames) is copied out of it. TLS and the
    // codecs read through the stream as usual.
    const reused = this.options.tls === undefined && !this.options.snappy && !this.options.deflate
    const buffer = Buffer.allocUnsafe(reused ? READ_BUFFER_SIZE : 0)
    const { socket, connected } = dial(this.address, {
      name: this.name,
      timeoutMs: this.options.dialTimeoutMs,
      onread: reused ? { buffer, callback: (length) => this.onRead(buffer.subarray(0, length)) } : undefined,
      abortCause: () => this.closeError,
    })
    this.socket = socket
    this.stream = socket
    try {
      await connected
    } catch (err) {
      this.phase = 'closed'
      throw err
    }
    this.attach(socket)
    socket.on('close', () => { this.onSocketClose() })
  }

  /** Routes a readable stream's bytes into the connection and its errors into the close path. */
  private attach (stream: net.Socket): void {
    stream.on('data', (chunk: Buffer) => { this.onRead(chunk) })
    stream.on('error', (err) => { this.closeError ??= new ConnectionError(this.name, err.message, { cause: err }) })
    stream.on('drain', () => {
      clearTimeout(this.writeTimer)
      this.writeTimer = undefined
    })
  }

  /** @returns true: keep reading (the onread contract). */
  private onRead (chunk: Buffer): true {
    this.lastReadAt = performance.now()
    if (this.codec !== undefined) this.codec.decode(chunk)
    else this.onPlain(chunk)
    return true
  }

  private onPlain (chunk: Buffer): void {
    if (this.decoder !== undefined) this.decoder.push(chunk)
    else this.handshake.push(chunk)
  }

  /** Reads the next handshake frame, answering heartbeats; an error frame rejects with the NsqError. */
  private async readHandshakeResponse (): Promise<Buffer> {
    for (;;) {
      const { type, data } = await this.handshake.frame()
      if (type === FrameType.Error) throw errorFromText(data.toString())
      if (type !== FrameType.Response) throw new ConnectionError(this.name, `unexpected frame type ${type} during handshake`)
      if (data.equals(HEARTBEAT)) {
        this.heartbeats++
        this.send(commands.NOP)
        continue
      }
      return data
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
      const early = this.handshake.takeRest()
      if (early.length > 0) this.codec.decode(early)
      await this.expectOk(o.snappy ? 'snappy upgrade' : 'deflate upgrade')
    }
  }

  private async startTls (options: tls.ConnectionOptions): Promise<void> {
    if (this.handshake.pending) throw new ConnectionError(this.name, 'unexpected data before the TLS handshake')
    const secure = await startTls(this.socket, this.address, this.name, options)
    this.stream = secure
    this.attach(secure)
  }

  private async authenticate (): Promise<void> {
    if (this.options.authSecret === undefined) {
      throw new ConnectionError(this.name, 'nsqd requires AUTH but no authSecret is set')
    }
    this.send(commands.auth(this.options.authSecret))
    this.auth = JSON.parse((await this.readHandshakeResponse()).toString()) as AuthResponse
  }

  private onFrame (type: number, buf: Buffer, start: number, end: number): void {
    if (type === FrameType.Message) {
      this.handlers.onMessage?.(buf, start, end)
      return
    }
    if (type === FrameType.Response) {
      // OK (the answer to every PUB) and heartbeats are recognised in place; other answers are copied out.
      const length = end - start
      if (length === 2 && buf[start] === 0x4f && buf[start + 1] === 0x4b) {
        this.answer(OK)
      } else if (length === HEARTBEAT.length && HEARTBEAT.compare(buf, start, end) === 0) {
        this.heartbeats++
        this.send(commands.NOP)
      } else {
        this.answer(Buffer.from(buf.subarray(start, end)))
      }
      return
    }
    if (type === FrameType.Error) {
      const err = errorFromText(buf.toString('utf8', start, end))
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

  private answer (data: Buffer): void {
    const waiter = this.pending.shift()
    if (waiter === undefined) {
      this.options.logger.warn(`${this.name}: unexpected response ${JSON.stringify(data.toString())}`)
      return
    }
    waiter.resolve(data)
    this.settled()
  }

  /** The output buffer's flush: one write, or a writev (cork/uncork) for several chunks. */
  private writeChunks (chunks: Buffer[]): void {
    if (this.phase === 'closed') return
    if (this.codec !== undefined) {
      this.codec.encode(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks))
      return
    }
    if (chunks.length === 1) {
      this.writeWire(chunks[0]!)
      return
    }
    this.stream.cork()
    for (let i = 0; i < chunks.length - 1; i++) this.stream.write(chunks[i]!)
    this.writeWire(chunks[chunks.length - 1]!)
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
    this.handshake.wake()
    const cause = this.closeError
    for (const waiter of this.pending.splice(0)) waiter.reject(new ConnectionClosedError(this.name, { cause }))
    this.settled()
    if (this.wasOpen) this.handlers.onClose(cause)
  }
}
