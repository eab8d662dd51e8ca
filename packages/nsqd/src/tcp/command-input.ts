import type { Socket } from 'node:net'
import { CommandParser, type CommandSink } from '@nsqts/protocol'
import type { CompressionLayer } from './compression.js'
import { readIntoSharedBuffer } from './read-buffer.js'

const MAGIC = '  V2'

/** Why reading is paused; reading resumes when no reason is left. */
export const ReadBlock = { HeldReplies: 1, Output: 2, Inflate: 4, Suspended: 8, Upgrade: 16 } as const

/** What the input side needs of its connection. */
export interface InputOwner {
  /** Where bytes are read: the socket, or TLS over it after the upgrade. */
  readonly stream: Socket
  readonly compression: CompressionLayer | undefined
  readonly isClosed: boolean
  /** The protocol magic arrived and is right. */
  magicAccepted (): void
  /** The protocol magic arrived and is wrong. */
  magicRefused (magic: string): void
  /** The outermost chunk of bytes was handled: the answers it caused may go out together. */
  chunkHandled (): void
  /** Handling the input threw: a bug, which must cost one connection, never the daemon. */
  internalError (err: unknown): void
  /** Nothing was read for the read deadline. */
  readTimedOut (): void
}

/**
 * A connection's input: the protocol magic, decompression, the command parser, and the reasons reading is paused
 * (a full output, answers held behind the disk, a command waiting for the auth server, an upgrade under way).
 */
export class CommandInput {
  /** Set while a chunk is being handled: answers wait for its end to go out together. */
  inChunk = false
  private readonly parser: CommandParser
  private magic = ''
  private blocks = 0
  /** Plaintext that arrived while a command waits (for the auth server): parsed once it is done. */
  private suspended = false
  private stash: Buffer[] = []
  /**
   * The read deadline: no read for readTimeoutMs ends the connection. A read only notes its time; the timer, when it
   * fires, looks at that time and sets itself again for what is left. Moving the timer on every read cost a call into
   * the timer list per chunk, a busy publisher's every message.
   */
  private readDeadline: NodeJS.Timeout | undefined
  private readTimeoutMs = 0
  private lastReadAt = 0
  /** TLS reads the TCP socket now. */
  private detached = false

  constructor (private readonly owner: InputOwner, commands: CommandSink) {
    this.parser = new CommandParser(commands)
  }

  /**
   * Starts reading `stream`. The TCP socket is read into the shared read buffer where this Node allows it
   * (read-buffer.ts); TLS over it, through 'data' events.
   */
  readFrom (stream: Socket, tcp: boolean): void {
    if (tcp && readIntoSharedBuffer(stream, this.onTransientData)) stream.resume()
    else stream.on('data', this.onData)
  }

  /** The TCP socket's bytes go to TLS from now on, not to the parser. */
  detach (socket: Socket): void {
    this.detached = true
    socket.off('data', this.onData)
  }

  /** Bytes read into a buffer of their own. */
  private readonly onData = (chunk: Buffer): void => {
    this.read(chunk, false)
  }

  /** Bytes read into a buffer that is used again for the next read: nothing may keep them. */
  private readonly onTransientData = (chunk: Buffer): void => {
    if (!this.detached) this.read(chunk, true)
  }

  private read (chunk: Buffer, transient: boolean): void {
    this.lastReadAt = Date.now()
    if (this.magic.length < 4) {
      const need = 4 - this.magic.length
      this.magic += chunk.toString('latin1', 0, need)
      if (this.magic.length < 4) return
      if (this.magic !== MAGIC) {
        this.owner.magicRefused(this.magic)
        return
      }
      this.owner.magicAccepted()
      chunk = chunk.subarray(need)
    }
    this.readWire(chunk, transient)
  }

  /**
   * Bytes off the stream, past the magic: decompressed first when a compression layer is installed, which gets a copy
   * of a transient chunk (it may keep what it has not decompressed yet).
   */
  readWire (chunk: Buffer, transient = false): void {
    const compression = this.owner.compression
    if (compression === undefined) {
      this.pushPlain(chunk, transient)
      return
    }
    this.inChunk = true
    try {
      compression.read(transient ? Buffer.from(chunk) : chunk)
    } catch (err) {
      this.internalError(err)
    } finally {
      this.inChunk = false
    }
    this.owner.chunkHandled()
  }

  /**
   * Plaintext for the parser. Answers go out at the end of the outermost chunk being handled. A transient chunk is
   * overwritten after this returns.
   */
  readonly pushPlain = (chunk: Buffer, transient = false): void => {
    if (this.suspended) {
      // Never a transient chunk: suspending pauses the socket, and the rest of the read that suspended is handed off
      // (copied) by the parser.
      this.stash.push(chunk)
      return
    }
    const outer = !this.inChunk
    this.inChunk = true
    try {
      this.parser.push(chunk, transient)
    } catch (err) {
      this.internalError(err)
    } finally {
      if (outer) this.inChunk = false
    }
    if (outer) this.owner.chunkHandled()
  }

  private internalError (err: unknown): void {
    this.parser.stop()
    this.owner.internalError(err)
  }

  /** Nothing after the current command is parsed any more. */
  stopParsing (): void {
    this.parser.stop()
  }

  /**
   * Hands the bytes after the current command to `then`, outside the parser. For a command that suspended parsing
   * (IDENTIFY waiting for the snappy codec), they are what suspend() kept: `then` takes them at once and reading
   * resumes after it, unless it blocked reading itself.
   */
  handOff (then: (rest: Buffer) => void): void {
    if (!this.suspended) {
      this.parser.handOff(then)
      return
    }
    this.suspended = false
    const rest = Buffer.concat(this.stash)
    this.stash = []
    then(rest)
    this.block(ReadBlock.Suspended, false)
  }

  block (reason: number, on: boolean): void {
    const before = this.blocks
    this.blocks = on ? before | reason : before & ~reason
    if (this.owner.isClosed || (before === 0) === (this.blocks === 0)) return
    if (this.blocks === 0) this.owner.stream.resume()
    else this.owner.stream.pause()
  }

  /**
   * Stops parsing after the current command until `resume` is called: for a command that waits for the auth server.
   * The rest of the current chunk and whatever arrives meanwhile is kept, in order, and parsed on resume.
   */
  suspend (): void {
    this.suspended = true
    this.block(ReadBlock.Suspended, true)
    this.parser.handOff((rest) => { if (rest.length > 0) this.stash.unshift(rest) })
  }

  resume (): void {
    if (!this.suspended || this.owner.isClosed) return
    this.suspended = false
    while (!this.suspended && this.stash.length > 0 && !this.owner.isClosed) {
      this.pushPlain(this.stash.shift() as Buffer)
    }
    if (!this.suspended) this.block(ReadBlock.Suspended, false)
  }

  /** (Re)arms the read deadline, counted from now; 0 for none. */
  armReadDeadline (ms: number): void {
    clearTimeout(this.readDeadline)
    this.readDeadline = undefined
    this.readTimeoutMs = ms
    if (ms <= 0 || this.owner.isClosed) return
    this.lastReadAt = Date.now()
    this.readDeadline = setTimeout(this.readDeadlineReached, ms)
  }

  private readonly readDeadlineReached = (): void => {
    const left = this.lastReadAt + this.readTimeoutMs - Date.now()
    if (left > 0) {
      this.readDeadline = setTimeout(this.readDeadlineReached, left)
      return
    }
    this.readDeadline = undefined
    this.owner.readTimedOut()
  }

  /** The connection closed. */
  stop (): void {
    clearTimeout(this.readDeadline)
    this.readDeadline = undefined
    this.stash = []
  }
}
