import type { NsqError } from '@nsqts/protocol'
import type { PendingWrite } from '../backend/types.js'
import { Deque } from '../deque.js'

/** Past this many answers waiting for the disk, the connection stops reading commands until they drain. */
const MAX_HELD_REPLIES = 1024

/**
 * An answer that waits for a store write, or queued behind one that does: a connection's answers leave in command
 * order even when a later command (on an ephemeral topic, or an error) could answer at once.
 */
export interface HeldReply {
  write: PendingWrite | undefined
  response: Buffer | undefined
  /** The error to send; or, for a write, what to send if it fails. */
  error: NsqError | ((err: Error) => NsqError) | undefined
  /** Errors from sendError are logged when they leave; parse errors never were. */
  log: boolean
}

/**
 * A connection's answers held back in order behind a publish that waits for the disk. It asks each write for one
 * callback (`onSettled` of the connection), not one per publish, and says when so many are held that reading
 * commands must pause.
 */
export class HeldReplies {
  private readonly queue = new Deque<HeldReply>()
  /** The last write this connection asked to hear about. */
  private awaitedWrite: PendingWrite | undefined

  constructor (private readonly onSettled: () => void) {}

  /** Answers are held: every new one must queue behind them. */
  get any (): boolean {
    return this.queue.length > 0
  }

  /** An answer that could leave now, held behind the ones before it. */
  holdBehind (response: Buffer | undefined, error: NsqError | undefined, log: boolean): void {
    this.queue.push({ write: undefined, response, error, log })
  }

  /**
   * `response` once `write` has stored what a publish queued, or what `failure` makes of the write's error. True when
   * the connection should stop reading commands until answers drain.
   */
  holdForWrite (write: PendingWrite, response: Buffer, failure: (err: Error) => NsqError): boolean {
    this.queue.push({ write, response, error: failure, log: true })
    if (this.awaitedWrite !== write) {
      this.awaitedWrite = write
      write.onSettled(this.onSettled)
    }
    return this.queue.length >= MAX_HELD_REPLIES
  }

  /**
   * Hands every held answer whose write has an outcome to `send`, in order, up to the first that is still waiting.
   * True when few enough are left for the connection to read commands again.
   */
  release (send: (reply: HeldReply, outcome: Error | null | undefined) => void): boolean {
    for (let r = this.queue.peek(); r !== undefined; r = this.queue.peek()) {
      const outcome = r.write?.outcome
      if (r.write !== undefined && outcome === undefined) break
      this.queue.shift()
      send(r, outcome)
    }
    if (this.awaitedWrite?.outcome !== undefined) this.awaitedWrite = undefined
    return this.queue.length < MAX_HELD_REPLIES / 2
  }
}
