import type { Socket } from 'node:net'
import {
  CommandParser, FrameType, FRAME_HEADER_SIZE, HEARTBEAT, NsqError, OK, ATTEMPTS_OFFSET,
  type BodySpec, type ClientStats, type CommandSink,
} from '@nsqts/protocol'
import type { NSQD } from '../nsqd.js'
import type { Channel, ChannelConsumer } from '../channel.js'
import type { Message } from '../message.js'
import type { PendingWrite } from '../backend/types.js'
import { Deque } from '../deque.js'
import { dispatch } from './commands.js'
import { deflateLayer, snappyLayer, EMPTY_STORED_BLOCK, type CompressionLayer, type CompressionSink } from './compression.js'
import type { TlsState } from './tls.js'
import type { AuthQuery, AuthState } from './auth.js'
import { ClientState } from './client-state.js'

const MAGIC = '  V2'

/** Past this many answers waiting for the disk, the connection stops reading commands until they drain. */
const MAX_HELD_REPLIES = 1024
/**
 * Past this many bytes written but not yet taken by the peer, the connection stops reading commands: a client that
 * pipelines commands and never reads their answers cannot grow nsqd's memory (Go's blocking writes do the same).
 */
const MAX_UNSENT_OUTPUT = 1024 * 1024
/** Compressed output waiting for zlib past this counts as a full socket: no more messages until it drains. */
const MAX_COMPRESSION_BACKLOG = 64 * 1024

/** Why reading is paused; reading resumes when no reason is left. */
const ReadBlock = { HeldReplies: 1, Output: 2, Inflate: 4, Suspended: 8, Upgrade: 16 } as const

/**
 * An answer that waits for a store write, or queued behind one that does: a connection's answers leave in command
 * order even when a later command (on an ephemeral topic, or an error) could answer at once.
 */
interface HeldReply {
  write: PendingWrite | undefined
  response: Buffer | undefined
  /** The error to send; or, for a write, what to send if it fails. */
  error: NsqError | ((err: Error) => NsqError) | undefined
  /** Errors from sendError are logged when they leave; parse errors never were. */
  log: boolean
}

/**
 * One V2 connection: its negotiated settings, its place in a channel, and its output buffer. Message frames collect
 * in the buffer and go out in one write when the RDY window fills, when output_buffer_timeout passes or when the
 * buffer is full; responses go out at the end of the chunk that caused them, so pipelined PUBs cost one write.
 */
export class Client implements ChannelConsumer, CommandSink {
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

  private readonly parser: CommandParser
  private magic = ''
  private out: Buffer
  private outLength = 0
  private responsePending = false
  private writable = true
  private closed = false
  private heartbeatTimer: NodeJS.Timeout | undefined
  private readDeadline: NodeJS.Timeout | undefined
  private flushTimer: NodeJS.Timeout | undefined
  /** Set while a chunk is being parsed: responses wait for its end to go out together. */
  private inChunk = false
  private readonly held = new Deque<HeldReply>()
  /** The last write this connection asked to hear about: one callback per write, not one per publish. */
  private awaitedWrite: PendingWrite | undefined
  private readBlocks = 0
  /** Where bytes are read and written: the socket, or TLS over it after the upgrade. */
  private stream: Socket
  private compression: CompressionLayer | undefined
  /** Plaintext that arrived while a command waits (for the auth server): parsed once it is done. */
  private suspended = false
  private stash: Buffer[] = []
  private writeDeadline: NodeJS.Timeout | undefined

  constructor (readonly nsqd: NSQD, readonly socket: Socket) {
    this.id = nsqd.newClientId()
    this.remoteIp = socket.remoteAddress ?? ''
    this.remoteAddress = `${this.remoteIp.includes(':') ? `[${this.remoteIp}]` : this.remoteIp}:${socket.remotePort ?? 0}`
    this.clientId = this.remoteIp
    this.hostname = this.remoteIp
    const o = nsqd.options
    this.heartbeatIntervalMs = o.clientTimeout / 2
    this.outputBufferTimeoutMs = o.outputBufferTimeout
    this.msgTimeoutMs = o.msgTimeout
    this.out = Buffer.allocUnsafe(this.outputBufferSize)
    this.parser = new CommandParser(this)
    this.stream = socket

    socket.setNoDelay(true)
    this.attach(socket)
    this.startHeartbeat()
  }

  private attach (stream: Socket): void {
    stream.on('data', this.onData)
    stream.on('drain', this.onDrain)
    stream.on('error', (err) => { this.nsqd.logger.debug(`client(${this.remoteAddress}) - ${err.message}`) })
    stream.on('close', () => {
      this.compression?.destroy()
      this.cleanup()
    })
  }

  // ---- reading ----

  private readonly onData = (chunk: Buffer): void => {
    this.readDeadline?.refresh()
    if (this.magic.length < 4) {
      const need = 4 - this.magic.length
      this.magic += chunk.toString('latin1', 0, need)
      if (this.magic.length < 4) return
      if (this.magic !== MAGIC) {
        this.nsqd.logger.error(`client(${this.remoteAddress}) bad protocol magic '${this.magic}'`)
        this.fatal(new NsqError('E_BAD_PROTOCOL', ''))
        return
      }
      this.nsqd.addClient(this)
      chunk = chunk.subarray(need)
    }
    this.readWire(chunk)
  }

  /** Bytes off the stream, past the magic: decompressed first when a compression layer is installed. */
  private readWire (chunk: Buffer): void {
    if (this.compression === undefined) {
      this.pushPlain(chunk)
      return
    }
    this.inChunk = true
    try {
      this.compression.read(chunk)
    } catch (err) {
      this.internalError(err)
    } finally {
      this.inChunk = false
    }
    if (this.responsePending) this.flush()
  }

  /** Plaintext for the parser. Answers go out at the end of the outermost chunk being handled. */
  private readonly pushPlain = (chunk: Buffer): void => {
    if (this.suspended) {
      this.stash.push(chunk)
      return
    }
    const outer = !this.inChunk
    this.inChunk = true
    try {
      this.parser.push(chunk)
    } catch (err) {
      this.internalError(err)
    } finally {
      if (outer) this.inChunk = false
    }
    if (outer && this.responsePending) this.flush()
  }

  /** A bug must cost one connection, never the daemon. */
  private internalError (err: unknown): void {
    this.nsqd.logger.error(`client(${this.remoteAddress}) - internal error - ${String((err as Error).stack ?? err)}`)
    this.parser.stop()
    this.close()
  }

  private setReadBlock (reason: number, on: boolean): void {
    const before = this.readBlocks
    this.readBlocks = on ? before | reason : before & ~reason
    if (this.closed || (before === 0) === (this.readBlocks === 0)) return
    if (this.readBlocks === 0) this.stream.resume()
    else this.stream.pause()
  }

  /**
   * Stops parsing after the current command until `resume` is called: for a command that waits for the auth server.
   * The rest of the current chunk and whatever arrives meanwhile is kept, in order, and parsed on resume.
   */
  suspendParsing (): void {
    this.suspended = true
    this.setReadBlock(ReadBlock.Suspended, true)
    this.parser.handOff((rest) => { if (rest.length > 0) this.stash.unshift(rest) })
  }

  resumeParsing (): void {
    if (!this.suspended || this.closed) return
    this.suspended = false
    while (!this.suspended && this.stash.length > 0 && !this.closed) this.pushPlain(this.stash.shift() as Buffer)
    if (!this.suspended) this.setReadBlock(ReadBlock.Suspended, false)
  }

  // ---- upgrades ----

  /**
   * After the IDENTIFY answer: TLS, then snappy or deflate, each confirmed by an OK frame in the new encoding. The
   * bytes after the IDENTIFY body in the same chunk already belong to the upgraded stream.
   */
  upgrade (tls: boolean, compression: 'snappy' | 'deflate' | undefined, deflateLevel: number): void {
    this.parser.handOff((rest) => {
      // The IDENTIFY answer itself leaves as it came: plain.
      this.flush()
      if (this.closed) return
      if (!tls) {
        this.startCompression(compression, deflateLevel, rest)
        return
      }
      const upgrader = this.nsqd.tlsUpgrader
      if (upgrader === undefined) return this.close()
      this.setReadBlock(ReadBlock.Upgrade, true)
      this.socket.off('data', this.onData)
      upgrader.upgrade(this.socket, rest, (state) => {
        if (this.closed) {
          state.socket.destroy()
          return
        }
        this.tls = state
        this.stream = state.socket
        this.attach(state.socket)
        this.appendFrame(FrameType.Response, OK)
        this.flush()
        this.startCompression(compression, deflateLevel, Buffer.alloc(0))
        this.setReadBlock(ReadBlock.Upgrade, false)
      })
    })
  }

  private startCompression (kind: 'snappy' | 'deflate' | undefined, level: number, early: Buffer): void {
    if (kind !== undefined) {
      const sink: CompressionSink = {
        wire: this.writeWire,
        plain: this.pushPlain,
        error: (err) => {
          this.nsqd.logger.error(`client(${this.remoteAddress}) - failed to read command - ${err.message}`)
          this.close()
        },
        inputFull: (full) => { this.setReadBlock(ReadBlock.Inflate, full) },
        drained: this.onDrain,
      }
      const block = this.nsqd.snappyBlock
      if (kind === 'snappy' && block !== undefined) {
        // identify() negotiates snappy only when the codec loaded.
        this.compression = snappyLayer(block, sink)
        this.snappy = true
      } else {
        this.compression = deflateLayer(level, sink)
        this.deflate = true
        this.deflateLevel = level
      }
      this.appendFrame(FrameType.Response, OK)
      this.flush()
      if (kind === 'deflate') this.compression.afterOutput(() => { this.writeWire(EMPTY_STORED_BLOCK) })
    }
    if (early.length > 0) this.readWire(early)
  }

  line (params: string[]): BodySpec | NsqError | null {
    return dispatch.line(this, params)
  }

  body (params: string[], body: Buffer): void {
    dispatch.body(this, params, body)
  }

  bodies (params: string[], bodies: Buffer[]): void {
    dispatch.bodies(this, params, bodies)
  }

  error (err: NsqError): void {
    if (this.held.length > 0) {
      this.parser.stop()
      this.held.push({ write: undefined, response: undefined, error: err, log: false })
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
    if (this.held.length > 0) {
      this.held.push({ write: undefined, response: data, error: undefined, log: false })
      return
    }
    this.writeResponse(data)
  }

  private writeResponse (data: Buffer): void {
    this.appendFrame(FrameType.Response, data)
    this.responsePending = true
    if (!this.inChunk) this.flush()
  }

  /**
   * An error: non-fatal ones leave the connection open; fatal ones are sent, logged, and the connection is closed
   * once the frame is written.
   */
  sendError (err: NsqError): void {
    if (this.held.length > 0) {
      // Nothing after a fatal error is read; the error itself leaves once the answers before it have.
      if (err.fatal) this.parser.stop()
      this.held.push({ write: undefined, response: undefined, error: err, log: true })
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
    this.appendFrame(FrameType.Error, Buffer.from(err.message))
    this.responsePending = true
    if (!this.inChunk) this.flush()
  }

  /**
   * Answers `response` once `write` has stored what a publish queued, or the error `failure` makes of the write's
   * error; every later answer of this connection waits behind it.
   */
  replyWhenStored (write: PendingWrite, response: Buffer, failure: (err: Error) => NsqError): void {
    this.held.push({ write, response, error: failure, log: true })
    if (this.awaitedWrite !== write) {
      this.awaitedWrite = write
      write.onSettled(this.releaseHeld)
    }
    if (this.held.length >= MAX_HELD_REPLIES) this.setReadBlock(ReadBlock.HeldReplies, true)
  }

  /** Sends every held answer whose write has an outcome, in order, up to the first that is still waiting. */
  private readonly releaseHeld = (): void => {
    const wasInChunk = this.inChunk
    this.inChunk = true
    for (let r = this.held.peek(); r !== undefined; r = this.held.peek()) {
      const outcome = r.write?.outcome
      if (r.write !== undefined && outcome === undefined) break
      this.held.shift()
      if (this.closed) continue
      if (outcome instanceof Error) {
        this.writeError((r.error as (err: Error) => NsqError)(outcome))
      } else if (r.error instanceof NsqError) {
        if (r.log) this.writeError(r.error)
        else this.fatal(r.error)
      } else {
        this.writeResponse(r.response as Buffer)
      }
    }
    this.inChunk = wasInChunk
    if (this.awaitedWrite?.outcome !== undefined) this.awaitedWrite = undefined
    if (!this.inChunk && this.responsePending) this.flush()
    if (this.held.length < MAX_HELD_REPLIES / 2) this.setReadBlock(ReadBlock.HeldReplies, false)
  }

  private fatal (err: NsqError): void {
    if (this.closed) return
    this.parser.stop()
    this.appendFrame(FrameType.Error, Buffer.from(err.message))
    this.flush()
    this.close()
  }

  private appendFrame (type: number, data: Buffer): void {
    const size = FRAME_HEADER_SIZE + data.length
    const target = this.reserve(size)
    target.writeUInt32BE(size - 4, this.outLength)
    target.writeUInt32BE(type, this.outLength + 4)
    data.copy(target, this.outLength + FRAME_HEADER_SIZE)
    this.outLength += size
  }

  /** Room for `size` more bytes in the output buffer, flushing or growing it as needed. */
  private reserve (size: number): Buffer {
    if (this.outLength + size <= this.out.length) return this.out
    this.flush()
    if (size > this.out.length) this.out = Buffer.allocUnsafe(size)
    return this.out
  }

  flush (): void {
    this.responsePending = false
    if (this.flushTimer !== undefined) {
      clearTimeout(this.flushTimer)
      this.flushTimer = undefined
    }
    if (this.outLength === 0 || this.closed) return
    const chunk = this.out.subarray(0, this.outLength)
    // The socket keeps the written buffer until it is sent, so the next frames go into a fresh one.
    this.out = Buffer.allocUnsafe(Math.max(this.outputBufferSize, 64))
    this.outLength = 0
    if (this.compression === undefined) {
      this.writeWire(chunk)
      return
    }
    this.compression.write(chunk)
    if (this.compression.backlog >= MAX_COMPRESSION_BACKLOG) this.blockOutput()
  }

  /** Bytes for the stream, compressed if they are to be. */
  private readonly writeWire = (data: Buffer): void => {
    if (this.stream.destroyed) return
    if (!this.stream.write(data)) this.blockOutput()
  }

  /**
   * The peer is not taking what is written: no more messages until it does, no more commands read past
   * MAX_UNSENT_OUTPUT, and, as nsqd's write deadline (one heartbeat interval), the connection is dropped if it does not
   * drain in time.
   */
  private blockOutput (): void {
    this.writable = false
    if (this.stream.writableLength + (this.compression?.backlog ?? 0) > MAX_UNSENT_OUTPUT) this.setReadBlock(ReadBlock.Output, true)
    if (this.writeDeadline === undefined && this.heartbeatIntervalMs > 0) {
      this.writeDeadline = setTimeout(() => {
        this.nsqd.logger.error(`client(${this.remoteAddress}) - write timed out after ${this.heartbeatIntervalMs}ms`)
        this.close()
        this.stream.destroy()
      }, this.heartbeatIntervalMs)
    }
  }

  private readonly onDrain = (): void => {
    if (this.stream.writableNeedDrain || (this.compression?.backlog ?? 0) >= MAX_COMPRESSION_BACKLOG) return
    this.writable = true
    clearTimeout(this.writeDeadline)
    this.writeDeadline = undefined
    this.setReadBlock(ReadBlock.Output, false)
    this.channel?.consumerMayBeReady()
  }

  // ---- ChannelConsumer ----

  isReady (): boolean {
    return this.state === ClientState.Subscribed && this.writable && this.inFlightCount < this.readyCount && !this.closed &&
      this.channel !== undefined && !this.channel.paused
  }

  deliver (msg: Message): void {
    const data = msg.data
    const size = FRAME_HEADER_SIZE + data.length
    const target = this.reserve(size)
    const at = this.outLength
    target.writeUInt32BE(size - 4, at)
    target.writeUInt32BE(FrameType.Message, at + 4)
    data.copy(target, at + FRAME_HEADER_SIZE)
    // The shared stored form keeps the attempts it was created with; each delivery carries its own count.
    target.writeUInt16BE(msg.attempts, at + FRAME_HEADER_SIZE + ATTEMPTS_OFFSET)
    this.outLength += size
    this.inFlightCount++
    this.messageCount++
  }

  afterDelivery (): void {
    if (!this.isReady() || this.outputBufferTimeoutMs <= 0 || this.outputBufferSize <= 1) {
      this.flush()
      return
    }
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined
      this.flush()
    }, this.outputBufferTimeoutMs)
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
    clearTimeout(this.readDeadline)
    this.heartbeatTimer = undefined
    this.readDeadline = undefined
    if (this.heartbeatIntervalMs <= 0 || this.closed) return
    this.heartbeatTimer = setInterval(() => { this.sendResponse(HEARTBEAT) }, this.heartbeatIntervalMs)
    this.readDeadline = setTimeout(() => {
      this.nsqd.logger.error(`client(${this.remoteAddress}) - failed to read command - i/o timeout`)
      this.close()
    }, this.heartbeatIntervalMs * 2)
  }

  // ---- lifecycle ----

  get isClosed (): boolean {
    return this.closed
  }

  /** What the auth server is told about this connection. */
  authQuery (): AuthQuery {
    return { remoteIp: this.remoteIp, tls: this.tls !== undefined, commonName: this.tls?.commonName ?? '', secret: this.authSecret }
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
    clearTimeout(this.readDeadline)
    clearTimeout(this.flushTimer)
    clearTimeout(this.writeDeadline)
    this.heartbeatTimer = this.readDeadline = this.flushTimer = this.writeDeadline = undefined
    this.stash = []
    if (this.channel !== undefined) {
      const channel = this.channel
      this.channel = undefined
      channel.removeConsumer(this)
    }
    this.nsqd.removeClient(this)
  }

  stats (): ClientStats {
    const s: ClientStats = {
      client_id: this.clientId,
      hostname: this.hostname,
      version: 'V2',
      remote_address: this.remoteAddress,
      state: this.state,
      ready_count: this.readyCount,
      in_flight_count: this.inFlightCount,
      message_count: this.messageCount,
      finish_count: this.finishCount,
      requeue_count: this.requeueCount,
      connect_ts: this.connectTs,
      sample_rate: this.sampleRate,
      deflate: this.deflate,
      snappy: this.snappy,
      user_agent: this.userAgent,
    } as ClientStats
    if (this.auth !== undefined) {
      s.authed = true
      if (this.auth.identity !== '') s.auth_identity = this.auth.identity
      if (this.auth.identityUrl !== '') s.auth_identity_url = this.auth.identityUrl
    }
    const first = this.pubCounts.entries().next()
    // nsqd 1.3.0 lists at most one topic here (a stray break in its loop); the first is kept to match.
    if (first.done !== true) s.pub_counts = [{ topic: first.value[0], count: first.value[1] }]
    s.tls = this.tls !== undefined
    s.tls_cipher_suite = this.tls?.cipherSuite ?? ''
    s.tls_version = this.tls?.version ?? ''
    s.tls_negotiated_protocol = ''
    // Go has reported this as always true since 1.16 (deprecated there).
    s.tls_negotiated_protocol_is_mutual = this.tls !== undefined
    return s
  }
}
