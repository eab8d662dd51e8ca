/** Writes are coalesced until this many bytes are queued, or until the current tick ends. */
const FLUSH_THRESHOLD = 64 * 1024
/** Commands up to this size are copied into a slab, so a tick's FINs, RDYs and PUBs leave as one buffer. */
const SMALL_WRITE = 1024
const SLAB_SIZE = 64 * 1024

/**
 * A connection's outgoing commands, coalesced: everything written in one tick goes to the socket together. Small
 * commands are appended to a slab (a FIN is written straight into it from the message's id bytes), larger ones are
 * queued as they are. A slab is never written to behind what was handed out, so the socket may still be sending an
 * earlier part of it while later commands are appended.
 */
export class OutputBuffer {
  private chunks: Buffer[] = []
  private bytes = 0
  private slab: Buffer | undefined
  /** slab[runStart, runEnd) is queued but not yet in `chunks`. */
  private runStart = 0
  private runEnd = 0
  private flushScheduled = false
  private readonly flushLater = (): void => { this.flush() }

  /** @param flushTo receives every chunk queued since the last flush, in order, at least one. */
  constructor (private readonly flushTo: (chunks: Buffer[]) => void) {}

  write (bytes: Buffer): void {
    if (bytes.length <= SMALL_WRITE) {
      const at = this.reserve(bytes.length)
      bytes.copy(this.slab!, at)
    } else {
      this.endRun()
      this.chunks.push(bytes)
      this.bytes += bytes.length
    }
    this.queued()
  }

  /**
   * Writes `head`, the 16-byte message id at `source[idStart...]` and a newline: FIN without an id string. Byte
   * loops, as Buffer#copy costs more than these few bytes.
   */
  writeWithId (head: Buffer, source: Buffer, idStart: number): void {
    const length = head.length + 16 + 1
    let at = this.reserve(length)
    const slab = this.slab!
    for (let i = 0; i < head.length; i++) slab[at++] = head[i]!
    for (let i = idStart; i < idStart + 16; i++) slab[at++] = source[i]!
    slab[at] = 0x0a
    this.queued()
  }

  /** Hands everything queued to `flushTo` now. */
  flush (): void {
    this.flushScheduled = false
    if (this.bytes === 0) return
    this.endRun()
    const chunks = this.chunks
    this.chunks = []
    this.bytes = 0
    this.flushTo(chunks)
  }

  /** Room for `length` bytes at the end of the current run; returns where they go in this.slab. */
  private reserve (length: number): number {
    if (this.slab === undefined || this.runEnd + length > this.slab.length) {
      this.endRun()
      this.slab = Buffer.allocUnsafeSlow(Math.max(SLAB_SIZE, length))
      this.runStart = 0
      this.runEnd = 0
    }
    const at = this.runEnd
    this.runEnd += length
    this.bytes += length
    return at
  }

  private endRun (): void {
    if (this.runEnd === this.runStart) return
    this.chunks.push(this.slab!.subarray(this.runStart, this.runEnd))
    this.runStart = this.runEnd
  }

  private queued (): void {
    if (this.bytes >= FLUSH_THRESHOLD) {
      this.flush()
    } else if (!this.flushScheduled) {
      this.flushScheduled = true
      process.nextTick(this.flushLater)
    }
  }
}
