/**
 * Splits a byte stream on a one-byte delimiter. Lines are views of the chunks (or one copy when a line spans chunks),
 * without the delimiter.
 */
export class LineSplitter {
  private pending: Buffer[] = []

  constructor (private readonly delimiter: number) {}

  push (chunk: Buffer): Buffer[] {
    const lines: Buffer[] = []
    let start = 0
    for (let at = chunk.indexOf(this.delimiter); at !== -1; at = chunk.indexOf(this.delimiter, start)) {
      const piece = chunk.subarray(start, at)
      if (this.pending.length > 0) {
        this.pending.push(piece)
        lines.push(Buffer.concat(this.pending))
        this.pending = []
      } else {
        lines.push(piece)
      }
      start = at + 1
    }
    if (start < chunk.length) this.pending.push(chunk.subarray(start))
    return lines
  }

  /** What followed the last delimiter. */
  end (): Buffer {
    const rest = Buffer.concat(this.pending)
    this.pending = []
    return rest
  }
}
