import type { Logger } from '@nsqts/protocol'
import type { PendingWrite } from '../types.js'
import { prepare, type Chunk, type Op } from './chunk.js'

/**
 * One write of the pipeline: the operations of every turn since the previous write started. Whoever queued a record
 * in it can wait for its outcome.
 */
let writeSerial = 0

export class Write implements PendingWrite {
  /** Names the write without holding on to it (and to its values once written). */
  readonly serial = ++writeSerial
  ops: Op[] = []
  sync = false
  /** The chunks it stores: their queues may read them from disk once it landed. */
  chunks: Chunk[] = []
  /** Records written or removed (for --sync-every), bytes queued (to bound a write), operations and records put. */
  records = 0
  bytes = 0
  pending = 0
  outcome: Error | null | undefined = undefined
  private callbacks: Array<() => void> | undefined
  private promise: Promise<void> | undefined

  onSettled (cb: () => void): void {
    if (this.outcome !== undefined) cb()
    else (this.callbacks ??= []).push(cb)
  }

  settled (): Promise<void> {
    this.promise ??= new Promise((resolve, reject) => {
      this.onSettled(() => { if (this.outcome === null) resolve(); else reject(this.outcome) })
    })
    return this.promise
  }

  settle (outcome: Error | null, logger: Logger): void {
    this.outcome = outcome
    const callbacks = this.callbacks
    this.callbacks = undefined
    if (callbacks === undefined) return
    for (const cb of callbacks) {
      try {
        cb()
      } catch (err) {
        logger.error(`store: a write's listener failed - ${String(err)}`)
      }
    }
  }

  /** The same operations, for another attempt, with nobody waiting yet. */
  retry (): Write {
    const w = new Write()
    w.ops = prepare(this.ops, false)
    w.sync = this.sync
    w.chunks = this.chunks
    w.records = this.records
    w.bytes = this.bytes
    w.pending = this.pending
    return w
  }
}

/** A range removal; it runs in pipeline order, so writes queued before it land before it. */
export class Clear {
  constructor (readonly gte: Buffer, readonly lt: Buffer, readonly done: (err?: Error) => void) {}
}
