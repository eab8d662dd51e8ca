import type { Socket } from 'node:net'
import { FrameType, HEARTBEAT, NsqError, OK, joinHostPort, type BodySpec, type CommandSink } from '@nsqts/protocol'
import type { TcpBroker } from './broker.js'
import type { Channel } from '../channel.js'
import type { ChannelConsumer } from '../channel-consumer.js'
import type { Message } from '../message.js'
import type { PendingWrite } from '../backend/types.js'
import { dispatch } from './commands.js'
import type { CompressionLayer, CompressionSink } from './compression.js'
import type { TlsState } from './tls.js'
import type { AuthState } from './auth.js'
import { ClientState } from './client-state.js'
import { CommandInput, ReadBlock, type InputOwner } from './command-input.js'
import { OutputBuffer, type OutputOwner } from './output-buffer.js'
import { HeldReplies, type HeldReply } from './held-replies.js'
import type { Upgradable } from './upgrade.js'

/**
 * One V2 connection: its negotiated settings, its place in a channel, its commands' answers, its lifecycle. Its input
 * (magic, parser, read pauses) is in command-input.ts, its output buffer and back-pressure in output-buffer.ts,
 * answers held behind the disk in held-replies.ts, TLS and compression upgrades in upgrade.ts, its /stats entry in
 * client-stats.ts, what it tells the auth server in auth.ts.
 */
export class Client implements ChannelConsumer, CommandSink, InputOwner, OutputOwner, Upgradable {
  readonly id: number
  readonly remoteAddress: string
  readonly remoteIp: string
  readonly connectTs = Math.floor(Date.now() / 1000)

  clientId: string
  hostname: string
  userAgent = ''
  state: ClientState = ClientState.Init
  heartbeatIntervalMs: number
  outputBufferSize = 16 * 1024
  outputBufferTimeoutMs: number
  msgTimeoutMs: number
  sampleRate = 0
  snappy = false
  deflate = false
  deflateLevel = 6
  identified = false

  channel: Channel | undefined
  readyCount = 0
  inFlightCount = 0
  messageCount = 0
  finishCount = 0
  requeueCount = 0
  /** Messages published per topic; a client that ever published shows in /stats "producers". */
  readonly pubCounts = new Map<string, number>()
  /** Set once the TLS upgrade completed. */
  tls: TlsState | undefined
  /** What the auth server granted at AUTH (refreshed when it expires). */
  auth: AuthState | undefined
  authSecret = ''

  private closed = false
  private heartbeatTimer: NodeJS.Timeout | undefined
  private readonly input: CommandInput
  private readonly output: OutputBuffer
  private readonly held: HeldReplies
  /** Where bytes are read and written: the socket, or TLS over it after the upgrade. */
  stream: Socket
  compression: CompressionLayer | undefined

  constructor (readonly nsqd: TcpBroker, readonly socket: Socket) {
    this.id = nsqd.newClientId()
    this.remoteIp = socket.remoteAddress ?? ''
    this.remoteAddress = joinHostPort(this.remoteIp, socket.remotePort ?? 0)
    this.clientId = this.remoteIp
    this.hostname = this.remoteIp
    const o = nsqd.options
    this.heartbeatIntervalMs = o.clientTimeout / 2
    this.outputBufferTimeoutMs = o.outputBufferTimeout
    this.msgTimeoutMs = o.msgTimeout
    this.stream = socket
    this.input = new CommandInput(this, this)
    this.output = new OutputBuffer(this)
    this.held = new HeldReplies(this.releaseHeld)

    socket.setNoDelay(true)
    this.attach(socket)
    this.startHeartbeat()
  }

  private attach (stream: Socket): void {
    this.input.readFrom(stream, stream === this.socket)
    stream.on('drain', this.output.onDrain)
    stream.on('error', (err) => { this.nsqd.logger.debug(`client(${this.remoteAddress}) - ${err.message}`) })
    stream.on('close', () => {
      this.compression?.destroy()
      this.cleanup()
    })
  }

  // ---- InputOwner (command-input.ts) ----

  magicAccepted (): void {
    this.nsqd.addClient(this)
  }

  magicRefused (magic: string): void {
    this.nsqd.logger.error(`client(${this.remoteAddress}) bad protocol magic '${magic}'`)
    this.fatal(new NsqError('E_BAD_PROTOCOL', ''))
  }

  chunkHandled (): void {
    if (this.output.responsePending) this.flush()
  }

  internalError (err: unknown): void {
    this.nsqd.logger.error(`client(${this.remoteAddress}) - internal error - ${String((err as Error).stack ?? err)}`)
    this.close()
  }

  readTimedOut (): void {
    this.nsqd.logger.error(`client(${this.remoteAddress}) - failed to read command - i/o timeout`)
    this.close()
  }

  /** Parsing waits after the current command, for the auth server; see CommandInput.suspend. */
  suspendParsing (): void {
    this.input.suspend()
  }

  resumeParsing (): void {
    this.input.resume()
  }

  // ---- Upgradable (upgrade.ts, started by IDENTIFY) ----

  handOff (then: (rest: Buffer) => void): void {
    this.input.handOff(then)
  }

  confirm (): void {
    this.output.appendFrame(FrameType.Response, OK)
    this.flush()
  }

  pauseForUpgrade (on: boolean): void {
    this.input.block(ReadBlock.Upgrade, on)
  }

  detachSocket (): void {
    this.input.detach(this.socket)
  }

  useTls (state: TlsState): void {
    this.tls = state
    this.stream = state.socket
    this.attach(state.socket)
  }

  compressionSink (): CompressionSink {
    return {
      wire: this.output.writeWire,
      plain: this.input.pushPlain,
      error: (err) => {
        this.nsqd.logger.error(`client(${this.remoteAddress}) - failed to read command - ${err.message}`)
        this.close()
      },
      inputFull: (full) => { this.input.block(ReadBlock.Inflate, full) },
      drained: this.output.onDrain,
    }
  }

  useCompression (layer: CompressionLayer, kind: 'snappy' | 'deflate', level: number): void {
    this.compression = layer
    if (kind === 'snappy') {
      this.snappy = true
    } else {
      this.deflate = true
      this.deflateLevel = level
    }
  }

  readWire (bytes: Buffer): void {
    this.input.readWire(bytes)
  }

  writeWire (bytes: Buffer): void {
    this.output.writeWire(bytes)
  }

  // ---- commands (commands.ts) ----

  line (params: readonly string[]): BodySpec | NsqError | null {
    return dispatch.line(this, params)
  }

  rawLine (raw: Buffer, start: number, end: number): boolean {
    return dispatch.rawLine(this, raw, start, end)
  }

  body (params: readonly string[], body: Buffer): void {
    dispatch.body(this, params, body)
  }

  bodies (params: readonly string[], bodies: Buffer[]): void {
    dispatch.bodies(this, params, bodies)
  }

  error (err: NsqError): void {
    if (this.held.any) {
      this.input.stopParsing()
      this.held.holdBehind(undefined, err, false)
      return
    }
    this.fatal(err)
  }

  overflow (): void {
    this.nsqd.logger.error(`client(${this.remoteAddress}) - failed to read command - line too long`)
    this.close()
  }

  // ---- writing ----

  /** A response frame; it goes out with the rest of the current chunk's answers. */
  sendResponse (data: Buffer): void {
    if (this.held.any) {
      this.held.holdBehind(data, undefined, false)
      return
    }
    this.writeResponse(data)
  }

  private writeResponse (data: Buffer): void {
    this.output.appendFrame(FrameType.Response, data)
    this.output.responsePending = true
    if (!this.input.inChunk) this.flush()
  }

  /**
   * An error: non-fatal ones leave the connection open; fatal ones are sent, logged, and the connection is closed
   * once the frame is written.
   */
  sendError (err: NsqError): void {
    if (this.held.any) {
      // Nothing after a fatal error is read; the error itself leaves once the answers before it have.
      if (err.fatal) this.input.stopParsing()
      this.held.holdBehind(undefined, err, true)
      return
    }
    this.writeError(err)
  }

  private writeError (err: NsqError): void {
    this.nsqd.logger.error(`[${this.remoteAddress}] - ${err.message}`)
    if (err.fatal) {
      this.fatal(err)
      return
    }
    this.output.appendFrame(FrameType.Error, Buffer.from(err.message))
    this.output.responsePending = true
    if (!this.input.inChunk) this.flush()
  }

  /**
   * Answers `response` once `write` has stored what a publish queued, or the error `failure` makes of the write's
   * error; every later answer of this connection waits behind it.
   */
  replyWhenStored (write: PendingWrite, response: Buffer, failure: (err: Error) => NsqError): void {
    const full = this.held.holdForWrite(write, response, failure)
    // Default mode: a publish waits only when the disk fell behind (or fails). Reading stops too, so that a client
    // that pipelines its publishes is slowed down like one that waits for each answer.
    if (full || !this.nsqd.options.durable) this.input.block(ReadBlock.HeldReplies, true)
  }

  /** Sends every held answer whose write has an outcome, in order, up to the first that is still waiting. */
  private readonly releaseHeld = (): void => {
    const input = this.input
    const wasInChunk = input.inChunk
    input.inChunk = true
    const fewLeft = this.held.release(this.sendHeld)
    input.inChunk = wasInChunk
    if (!input.inChunk && this.output.responsePending) this.flush()
    if (fewLeft) this.input.block(ReadBlock.HeldReplies, false)
  }

  private readonly sendHeld = (r: HeldReply, outcome: Error | null | undefined): void => {
    if (this.closed) return
    if (outcome instanceof Error) {
      this.writeError((r.error as (err: Error) => NsqError)(outcome))
    } else if (r.error instanceof NsqError) {
      if (r.log) this.writeError(r.error)
      else this.fatal(r.error)
    } else {
      this.writeResponse(r.response as Buffer)
    }
  }

  private fatal (err: NsqError): void {
    if (this.closed) return
    this.input.stopParsing()
    this.output.appendFrame(FrameType.Error, Buffer.from(err.message))
    this.flush()
    this.close()
  }

  flush (): void {
    this.output.flush()
  }

  // ---- OutputOwner (output-buffer.ts) ----

  outputFull (full: boolean): void {
    this.input.block(ReadBlock.Output, full)
  }

  writeTimedOut (): void {
    this.nsqd.logger.error(`client(${this.remoteAddress}) - write timed out after ${this.heartbeatIntervalMs}ms`)
    this.close()
    this.stream.destroy()
  }

  outputDrained (): void {
    this.channel?.consumerMayBeReady()
  }

  // ---- ChannelConsumer ----

  isReady (): boolean {
    return this.state === ClientState.Subscribed && this.output.writable && this.inFlightCount < this.readyCount &&
      !this.closed && this.channel !== undefined && !this.channel.paused
  }

  deliver (msg: Message): void {
    this.output.appendMessage(msg)
    this.inFlightCount++
    this.messageCount++
  }

  afterDelivery (): void {
    if (!this.isReady() || this.outputBufferTimeoutMs <= 0 || this.outputBufferSize <= 1) {
      this.flush()
      return
    }
    this.output.flushWithin(this.outputBufferTimeoutMs)
  }

  inFlightTimedOut (): void {
    if (this.inFlightCount > 0) this.inFlightCount--
    this.channel?.consumerMayBeReady()
  }

  inFlightCleared (): void {
    this.inFlightCount = 0
  }

  // ---- heartbeats and deadlines ----

  /** (Re)starts the heartbeat ticker and the read deadline (2 heartbeats) for the current interval. */
  startHeartbeat (): void {
    clearInterval(this.heartbeatTimer)
    this.heartbeatTimer = undefined
    this.input.armReadDeadline(this.heartbeatIntervalMs * 2)
    if (this.heartbeatIntervalMs <= 0 || this.closed) return
    this.heartbeatTimer = setInterval(() => { this.sendResponse(HEARTBEAT) }, this.heartbeatIntervalMs)
  }

  // ---- lifecycle ----

  get isClosed (): boolean {
    return this.closed
  }

  close (): void {
    if (this.closed) return
    this.flush()
    this.closed = true
    const stream = this.stream
    const end = (): void => {
      stream.end()
      stream.once('finish', () => stream.destroy())
    }
    // Compressed output may still be in zlib: end the stream behind it.
    if (this.compression !== undefined) this.compression.afterOutput(end)
    else end()
    this.cleanup()
  }

  private cleanup (): void {
    this.closed = true
    clearInterval(this.heartbeatTimer)
    this.heartbeatTimer = undefined
    this.input.stop()
    this.output.stopTimers()
    if (this.channel !== undefined) {
      const channel = this.channel
      this.channel = undefined
      channel.removeConsumer(this)
    }
    this.nsqd.removeClient(this)
  }
}
