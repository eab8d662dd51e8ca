import type { NsqError } from './errors.js'

/**
 * Server-side parser of the V2 command stream (after the 4-byte magic):
 *
 *   NAME[ SP param]*\n                                     (a trailing \r is dropped; params split on single spaces)
 *   NAME ...\n[4-byte BE int32 size][size bytes]           IDENTIFY, AUTH, PUB, DPUB
 *   MPUB topic\n[4 body size][4 count]([4 size][bytes])*   parsed by count; the body size is only checked
 *
 * It is a push state machine: feed it chunks as they arrive. The sink decides, line by line, whether a body follows
 * and how its sizes are checked, so that nsqd's order of checks (names before body, auth before an MPUB body...) and
 * its error texts stay in the server. Bodies that lie whole in one chunk are views of it, valid only during the
 * callback; bodies split across chunks are gathered into one buffer of their exact size.
 *
 * A chunk pushed as transient is overwritten once push() returns (a read buffer used again for the next read): the
 * parser then keeps nothing that points into it, copying what it must keep (a partial line, an unfinished MPUB's
 * bodies, the rest handed off).
 */

/** What follows a command line. Return one from CommandSink.line, or null when the command has no body. */
export type BodySpec = SizedBodySpec | MultiBodySpec

export interface SizedBodySpec {
  readonly kind: 'sized'
  /** Checks the declared int32 size (it may be negative); an error stops the parser. */
  checkSize (size: number): NsqError | null
}

export interface MultiBodySpec {
  readonly kind: 'multi'
  checkBodySize (size: number): NsqError | null
  checkCount (count: number): NsqError | null
  checkMessageSize (index: number, size: number): NsqError | null
}

export interface CommandSink {
  /**
   * A complete command line. Return null when the command is complete (it was handled), a BodySpec to read its
   * body, or an NsqError to stop parsing (the connection's fate is the sink's).
   */
  line (params: readonly string[]): BodySpec | NsqError | null
  /**
   * Optional: each whole line (bytes start..end of `raw`, a trailing \r dropped) before it is split into params.
   * Return true when it was handled, a command without a body: `line` is then not called. For the commands a busy
   * connection sends per message (FIN), read in place: no string and no params array made of them.
   */
  rawLine? (raw: Buffer, start: number, end: number): boolean
  /** The body of the last line that asked for a sized body. */
  body (params: readonly string[], body: Buffer): void
  /** The messages of the last line that asked for a multi body. */
  bodies (params: readonly string[], bodies: Buffer[]): void
  /** A body size or count failed its check. Parsing has stopped. */
  error (err: NsqError): void
  /** A line longer than maxLineLength without a newline: nsqd drops such a connection without an answer. */
  overflow (): void
}

const enum State {
  Line,
  Size,
  Body,
  MultiBodySize,
  MultiCount,
  MultiMessageSize,
  MultiMessage,
  Stopped,
}

const NEWLINE = 0x0a
const CR = 0x0d

/** nsqd reads lines through a 16 KiB bufio.Reader; a longer line is a read error. */
export const DEFAULT_MAX_LINE_LENGTH = 16 * 1024

/**
 * Lines up to this long are remembered with their params: a publisher sends the same `PUB topic` line before every
 * message, and splitting it anew made two strings and an array per message.
 */
const REMEMBERED_LINE_LENGTH = 64

export class CommandParser {
  private state = State.Line
  private lineParts: Buffer[] = []
  private lineLength = 0
  private params: readonly string[] = []
  /** The last line split (its first lastLineLength bytes) and its params, shared while the same line repeats. */
  private lastLine: Buffer | null = null
  private lastLineLength = -1
  private lastParams: readonly string[] = []
  private sized: SizedBodySpec | null = null
  private multi: MultiBodySpec | null = null
  private readonly word = Buffer.alloc(4)
  private wordFill = 0
  /** The buffer a body split across chunks is gathered in; null while none is started. */
  private body: Buffer | null = null
  private bodySize = 0
  private bodyFill = 0
  private count = 0
  private bodies: Buffer[] = []
  private handOffTo: ((rest: Buffer) => void) | null = null
  /** The chunk being pushed is transient (see the class comment). */
  private transient = false

  constructor (private readonly sink: CommandSink, private readonly maxLineLength = DEFAULT_MAX_LINE_LENGTH) {}

  /** Stops parsing; later chunks are ignored. */
  stop (): void {
    this.state = State.Stopped
    this.lineParts = []
    this.bodies = []
    this.body = null
  }

  /**
   * Ends the current push after the command being handled: the rest of its chunk goes to `take` instead (possibly
   * empty). For a stream whose encoding changes after this command (IDENTIFY's TLS and compression upgrades); the
   * parser then takes the next command from whatever the new layer pushes.
   */
  handOff (take: (rest: Buffer) => void): void {
    this.handOffTo = take
  }

  get stopped (): boolean {
    return this.state === State.Stopped
  }

  /** What a stream that ends now was cut short in: a body's size word, a body, or nothing (between commands). */
  get awaiting (): 'size' | 'body' | undefined {
    switch (this.state) {
      case State.Size:
      case State.MultiBodySize:
      case State.MultiCount:
      case State.MultiMessageSize:
        return 'size'
      case State.Body:
      case State.MultiMessage:
        return 'body'
      default:
        return undefined
    }
  }

  /** Parses `chunk`. A transient chunk may be overwritten after this returns: nothing is kept that points into it. */
  push (chunk: Buffer, transient = false): void {
    this.transient = transient
    this.parse(chunk)
    if (transient && this.bodies.length > 0) this.keepPendingBodies(chunk)
  }

  private parse (chunk: Buffer): void {
    let pos = 0
    const len = chunk.length
    while (pos < len) {
      switch (this.state) {
        case State.Stopped:
          return
        case State.Line: {
          const nl = chunk.indexOf(NEWLINE, pos)
          if (nl === -1) {
            this.lineLength += len - pos
            if (this.lineLength >= this.maxLineLength) {
              this.stop()
              this.sink.overflow()
              return
            }
            this.lineParts.push(this.kept(chunk.subarray(pos)))
            return
          }
          if (this.lineLength + (nl - pos) + 1 > this.maxLineLength) {
            this.stop()
            this.sink.overflow()
            return
          }
          this.lineLength = 0
          const start = pos
          pos = nl + 1
          if (this.lineParts.length === 0) {
            // The usual case, a whole line in the chunk: read in place, no view made of it.
            this.onLine(chunk, start, nl)
          } else {
            this.lineParts.push(chunk.subarray(start, nl))
            const line = Buffer.concat(this.lineParts)
            this.lineParts = []
            this.onLine(line, 0, line.length)
          }
          break
        }
        case State.Size:
        case State.MultiBodySize:
        case State.MultiCount:
        case State.MultiMessageSize: {
          let value: number
          if (this.wordFill === 0 && len - pos >= 4) {
            value = chunk.readInt32BE(pos)
            pos += 4
          } else {
            const take = Math.min(4 - this.wordFill, len - pos)
            chunk.copy(this.word, this.wordFill, pos, pos + take)
            this.wordFill += take
            pos += take
            if (this.wordFill < 4) return
            this.wordFill = 0
            value = this.word.readInt32BE(0)
          }
          this.onWord(value)
          break
        }
        case State.Body:
        case State.MultiMessage: {
          let body = this.body
          if (body === null) {
            const size = this.bodySize
            if (len - pos >= size) {
              // A body that lies whole in the rest of this chunk is handed out as a view, without a copy.
              const view = chunk.subarray(pos, pos + size)
              pos += size
              this.onBodyComplete(view)
              break
            }
            body = this.body = Buffer.allocUnsafe(size)
            this.bodyFill = 0
          }
          const take = Math.min(body.length - this.bodyFill, len - pos)
          chunk.copy(body, this.bodyFill, pos, pos + take)
          this.bodyFill += take
          pos += take
          if (this.bodyFill === body.length) {
            this.body = null
            this.onBodyComplete(body)
          }
          break
        }
      }
      if (this.handOffTo !== null) {
        const take = this.handOffTo
        this.handOffTo = null
        take(this.kept(chunk.subarray(pos)))
        return
      }
    }
  }

  private onLine (raw: Buffer, start: number, end: number): void {
    if (end > start && raw[end - 1] === CR) end--
    if (this.sink.rawLine?.(raw, start, end) === true) return
    const params = this.split(raw, start, end)
    const spec = this.sink.line(params)
    if (this.state === State.Stopped) return
    if (spec === null) return
    if (spec instanceof Error) {
      this.stop()
      return
    }
    this.params = params
    if (spec.kind === 'sized') {
      this.sized = spec
      this.state = State.Size
    } else {
      this.multi = spec
      this.state = State.MultiBodySize
    }
  }

  /** `part` of the chunk being pushed, as something that outlives the push. */
  private kept (part: Buffer): Buffer {
    return this.transient ? Buffer.from(part) : part
  }

  /**
   * The bodies of an MPUB still being read that are views of a transient chunk move to one copy of the part of the
   * chunk they span: one allocation for all of them.
   */
  private keepPendingBodies (chunk: Buffer): void {
    const bodies = this.bodies
    const chunkEnd = chunk.byteOffset + chunk.length
    const inChunk = (b: Buffer): boolean => b.buffer === chunk.buffer && b.byteOffset >= chunk.byteOffset &&
      b.byteOffset + b.length <= chunkEnd
    let from = chunkEnd
    let to = chunk.byteOffset
    for (const b of bodies) {
      if (!inChunk(b)) continue
      from = Math.min(from, b.byteOffset)
      to = Math.max(to, b.byteOffset + b.length)
    }
    if (from >= to) return
    const copy = Buffer.from(chunk.subarray(from - chunk.byteOffset, to - chunk.byteOffset))
    for (let i = 0; i < bodies.length; i++) {
      const b = bodies[i] as Buffer
      if (inChunk(b)) bodies[i] = copy.subarray(b.byteOffset - from, b.byteOffset - from + b.length)
    }
  }

  /** The params of a line: those of the previous line when it has the same bytes, otherwise split anew. */
  private split (raw: Buffer, start: number, end: number): readonly string[] {
    const length = end - start
    const last = this.lastLine
    if (length === this.lastLineLength && last !== null) {
      let i = 0
      while (i < length && raw[start + i] === last[i]) i++
      if (i === length) return this.lastParams
    }
    const params = raw.toString('latin1', start, end).split(' ')
    if (length <= REMEMBERED_LINE_LENGTH) {
      // Its own memory, not a slice of the shared pool: held for the connection's life, a slice would keep 8 KiB alive.
      const into = this.lastLine ??= Buffer.allocUnsafeSlow(REMEMBERED_LINE_LENGTH)
      raw.copy(into, 0, start, end)
      this.lastLineLength = length
      this.lastParams = params
    }
    return params
  }

  private fail (err: NsqError | null): boolean {
    if (err === null) return false
    this.stop()
    this.sink.error(err)
    return true
  }

  private onWord (value: number): void {
    switch (this.state) {
      case State.Size:
        if (this.fail((this.sized as SizedBodySpec).checkSize(value))) return
        this.startBody(State.Body, value)
        return
      case State.MultiBodySize:
        if (this.fail((this.multi as MultiBodySpec).checkBodySize(value))) return
        this.state = State.MultiCount
        return
      case State.MultiCount:
        if (this.fail((this.multi as MultiBodySpec).checkCount(value))) return
        this.count = value
        this.bodies = []
        this.state = State.MultiMessageSize
        return
      case State.MultiMessageSize:
        if (this.fail((this.multi as MultiBodySpec).checkMessageSize(this.bodies.length, value))) return
        this.startBody(State.MultiMessage, value)
        return
      default:
        throw new Error(`unexpected size word in state ${this.state}`)
    }
  }

  /** The body's buffer is made only if it is split across chunks (see push). */
  private startBody (state: State.Body | State.MultiMessage, size: number): void {
    this.state = state
    this.body = null
    this.bodySize = size
    this.bodyFill = 0
    if (size === 0) this.onBodyComplete(Buffer.alloc(0))
  }

  private onBodyComplete (body: Buffer): void {
    if (this.state === State.Body) {
      this.state = State.Line
      const params = this.params
      this.sized = null
      this.sink.body(params, body)
      return
    }
    this.bodies.push(body)
    if (this.bodies.length < this.count) {
      this.state = State.MultiMessageSize
      return
    }
    this.state = State.Line
    const params = this.params
    const bodies = this.bodies
    this.bodies = []
    this.multi = null
    this.sink.bodies(params, bodies)
  }
}
