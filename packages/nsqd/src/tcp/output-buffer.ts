import type { Socket } from 'node:net'
import { ATTEMPTS_OFFSET, FRAME_HEADER_SIZE, FrameType } from '@nsqts/protocol'
import type { Message } from '../message.js'
import type { CompressionLayer } from './compression.js'

/**
 * Past this many bytes written but not yet taken by the peer, the connection stops reading commands: a client that
 * pipelines commands and never reads their answers cannot grow nsqd's memory (Go's blocking writes do the same).
 */
const MAX_UNSENT_OUTPUT = 1024 * 1024
/** Compressed output waiting for zlib past this counts as a full socket: no more messages until it drains. */
const MAX_COMPRESSION_BACKLOG = 64 * 1024

/** What the output buffer needs of its connection. */
export interface OutputOwner {
  /** Where bytes are written: the socket, or TLS over it after the upgrade. */
  readonly stream: Socket
  readonly compression: CompressionLayer | undefined
  readonly isClosed: boolean
  /** The size of a fresh buffer (IDENTIFY's output_buffer_size). */
  readonly outputBufferSize: number
  /** How long the peer may take to drain what was written (nsqd's write deadline); 0 for no deadline. */
  readonly heartbeatIntervalMs: number
  /** Too much is unsent (true): stop reading commands; or it drained (false). */
  outputFull (full: boolean): void
  /** The peer did not drain within the write deadline. */
  writeTimedOut (): void
  /** Everything written was taken: messages may flow again. */
  outputDrained (): void
}

const NO_OUTPUT = Buffer.alloc(0)
// Room for the answers to a connection's first commands (IDENTIFY's JSON, OK), from Node's shared buffer pool.
const FIRST_BUFFER_SIZE = 1024

/**
 * One connection's output: frames collect in a buffer and go out in one write when the RDY window fills, when
 * output_buffer_timeout passes or when the buffer is full; responses go out at the end of the chunk of commands that
 * caused them, so pipelined PUBs cost one write. It also tracks back-pressure: while the peer is not taking what is
 * written, the connection takes no messages (`writable`).
 */
export class OutputBuffer {
  /** False while the peer is not taking what is written. */
  writable = true
  /** A response or error frame waits in the buffer for the end of the current chunk of commands. */
  responsePending = false
  /**
   * Frames are appended to `out` at `outLength`; those from `outStart` on are not flushed yet. A flush hands the
   * socket a view of them and the next frames follow in the same buffer (the socket may still hold that view, so
   * nothing flushed is written over): a new buffer only when this one is full, not one per flush, which with one
   * small answer per flush (a PUB at a time) cost an allocation per command. The first buffer is small and comes
   * with the first frame: a crowd of connecting clients (a reconnect storm, a thousand consumers waiting for
   * messages) would otherwise each hold output_buffer_size for one OK.
   */
  private out: Buffer = NO_OUTPUT
  private outLength = 0
  private outStart = 0
  /**
   * output_buffer_timeout: frames wait until `flushAt` at the latest. The timer is not cleared by a flush: it finds
   * nothing due and ends, or is moved to the next deadline, so a flush per pump round costs no timer of its own (a
   * reader whose window fills every round armed and cleared one each round).
   */
  private flushTimer: NodeJS.Timeout | undefined
  private flushAt = 0
  private flushTimerAt = 0
  private flushDue = false
  private writeDeadline: NodeJS.Timeout | undefined

  constructor (private readonly owner: OutputOwner) {}

  appendFrame (type: number, data: Buffer): void {
    const size = FRAME_HEADER_SIZE + data.length
    const target = this.reserve(size)
    target.writeUInt32BE(size - 4, this.outLength)
    target.writeUInt32BE(type, this.outLength + 4)
    data.copy(target, this.outLength + FRAME_HEADER_SIZE)
    this.outLength += size
  }

  /** A message frame, with this delivery's attempts. */
  appendMessage (msg: Message): void {
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
  }

  /**
   * Room for `size` more bytes in the output buffer: flushed first when output_buffer_size would be passed, and a
   * new buffer when this one has no room left.
   */
  private reserve (size: number): Buffer {
    const bufferSize = Math.max(this.owner.outputBufferSize, 64)
    if (this.outLength + size <= this.out.length && this.outLength - this.outStart + size <= bufferSize) return this.out
    this.flush()
    if (this.outLength + size > this.out.length) {
      const wanted = this.out === NO_OUTPUT ? Math.min(bufferSize, FIRST_BUFFER_SIZE) : bufferSize
      this.out = Buffer.allocUnsafe(Math.max(wanted, size))
      this.outStart = this.outLength = 0
    }
    return this.out
  }

  /** Flushes in `ms` unless something flushes sooner (output_buffer_timeout). */
  flushWithin (ms: number): void {
    if (this.flushDue) return
    this.flushDue = true
    const at = this.flushAt = Date.now() + ms
    // A timer still running for an earlier deadline moves itself on when it fires.
    if (this.flushTimer !== undefined && this.flushTimerAt <= at) return
    clearTimeout(this.flushTimer)
    this.armFlushTimer(at, ms)
  }

  private armFlushTimer (at: number, ms: number): void {
    this.flushTimerAt = at
    this.flushTimer = setTimeout(this.onFlushTimer, ms)
  }

  private readonly onFlushTimer = (): void => {
    this.flushTimer = undefined
    if (!this.flushDue) return
    const left = this.flushAt - Date.now()
    if (left > 0) this.armFlushTimer(this.flushAt, left)
    else this.flush()
  }

  flush (): void {
    this.responsePending = false
    this.flushDue = false
    if (this.outLength === this.outStart || this.owner.isClosed) return
    const chunk = this.out.subarray(this.outStart, this.outLength)
    this.outStart = this.outLength
    const compression = this.owner.compression
    if (compression === undefined) {
      this.writeWire(chunk)
      return
    }
    compression.write(chunk)
    if (compression.backlog >= MAX_COMPRESSION_BACKLOG) this.blockOutput()
  }

  /** Bytes for the stream, compressed if they are to be. */
  readonly writeWire = (data: Buffer): void => {
    const stream = this.owner.stream
    if (stream.destroyed) return
    if (!stream.write(data)) this.blockOutput()
  }

  /**
   * The peer is not taking what is written: no more messages until it does, no more commands read past
   * MAX_UNSENT_OUTPUT, and, as nsqd's write deadline (one heartbeat interval), the connection is dropped if it does not
   * drain in time.
   */
  private blockOutput (): void {
    this.writable = false
    const owner = this.owner
    if (owner.stream.writableLength + (owner.compression?.backlog ?? 0) > MAX_UNSENT_OUTPUT) owner.outputFull(true)
    if (this.writeDeadline === undefined && owner.heartbeatIntervalMs > 0) {
      this.writeDeadline = setTimeout(() => { owner.writeTimedOut() }, owner.heartbeatIntervalMs)
    }
  }

  /** The stream or the compression layer drained. */
  readonly onDrain = (): void => {
    const owner = this.owner
    if (owner.stream.writableNeedDrain || (owner.compression?.backlog ?? 0) >= MAX_COMPRESSION_BACKLOG) return
    this.writable = true
    clearTimeout(this.writeDeadline)
    this.writeDeadline = undefined
    owner.outputFull(false)
    owner.outputDrained()
  }

  /** The connection closed: no timer may fire for it. */
  stopTimers (): void {
    clearTimeout(this.flushTimer)
    clearTimeout(this.writeDeadline)
    this.flushTimer = this.writeDeadline = undefined
    this.flushDue = false
  }
}
