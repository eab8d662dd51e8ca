import { encodeChunk } from './format.js'
import { MAX_CHUNK_BYTES, type WriteOp } from './chunk.js'
import type { Db } from './write-pipeline.js'

/**
 * classic-level's own chained batch, under abstract-level's public API. The public batch copies, validates and
 * re-encodes every operation in JS (a third of the daemon's CPU in the disk benchmark), and its array form costs
 * twice the main-thread time of adding operations one by one. Ours are Buffers already, and the pipeline only writes
 * while the database is open, which is what the public checks are for. Private methods: package.json pins the
 * versions they were checked against, and test/level-private-api.test.ts fails if they change.
 */
export interface RawChainedBatch {
  _put (key: Buffer, value: Buffer): void
  _del (key: Buffer): void
  _clear (): void
  _write (options: { sync: boolean }): Promise<void>
}

/**
 * Writes the pipeline's batches through one native batch, cleared and reused for every write (writes run one at a
 * time): a native batch is freed only when the garbage collector finalizes it, which V8, blind to its size, does too
 * late.
 */
export class NativeBatchWriter {
  private batch: RawChainedBatch | undefined
  /** Where chunks are encoded for the native batch, which copies them at once (a larger one gets its own buffer). */
  private readonly scratch = Buffer.allocUnsafeSlow(MAX_CHUNK_BYTES + 64 * 1024)

  constructor (private readonly db: Db) {}

  async write (ops: WriteOp[], sync: boolean): Promise<void> {
    const batch = this.batch ??= (this.db as unknown as { _chainedBatch (): RawChainedBatch })._chainedBatch()
    try {
      for (const op of ops) {
        if (op.type === 'records') batch._put(op.key, encodeChunk(op.records, op.from, this.scratch))
        else if (op.type === 'put') batch._put(op.key, op.value)
        else batch._del(op.key)
      }
      await batch._write({ sync })
    } finally {
      batch._clear()
    }
  }

  /** The database is being reopened: its batch goes with the old handle, the next write makes a new one. */
  forget (): void {
    this.batch = undefined
  }
}
