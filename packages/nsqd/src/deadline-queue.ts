import type { Message } from './message.js'
import { MessageHeap } from './pqueue.js'
import { IdIndex } from './id-index.js'

/**
 * Messages waiting for a deadline (in flight until their timeout, deferred until their due time), by id and in a
 * min-heap by deadline (their `priority`, ms since the epoch), with one timer armed for the earliest deadline: no
 * timer per message. When it fires, every message whose deadline has passed leaves, earliest first, through `onDue`.
 */
export class DeadlineQueue {
  private readonly byId = new IdIndex()
  private readonly heap = new MessageHeap()
  private timer: NodeJS.Timeout | undefined
  private timerAt = Infinity
  private stopped = false

  constructor (private readonly onDue: (msg: Message) => void) {}

  get size (): number {
    return this.byId.size
  }

  get (id: string): Message | undefined {
    return this.byId.get(id)
  }

  /** The message whose id is the 16 bytes of `buf` at `at` (a FIN line read in place). */
  getBytes (buf: Buffer, at: number): Message | undefined {
    return this.byId.getBytes(buf, at)
  }

  /** Adds a message due at `deadline` and arms the timer for it if it is the earliest. */
  add (msg: Message, deadline: number): void {
    this.addBatched(msg, deadline)
    this.arm()
  }

  /** Adds a message without arming the timer: the caller calls arm() once after a batch (the pump's round). */
  addBatched (msg: Message, deadline: number): void {
    msg.priority = deadline
    this.byId.set(msg)
    this.heap.push(msg)
  }

  /** A message left before its deadline (FIN, REQ). */
  remove (msg: Message): void {
    this.byId.delete(msg)
    this.heap.remove(msg)
  }

  /** A new deadline for a message in the queue (TOUCH). */
  reschedule (msg: Message, deadline: number): void {
    msg.priority = deadline
    this.heap.update(msg)
    this.arm()
  }

  /** Every message, in no particular order. */
  values (): readonly Message[] {
    return this.heap.values()
  }

  /** Drops every message; an armed timer finds nothing when it fires. */
  clear (): void {
    this.byId.clear()
    this.heap.clear()
  }

  /** No timer fires any more, nor is armed again. */
  stop (): void {
    this.stopped = true
    clearTimeout(this.timer)
    this.timer = undefined
  }

  /** Arms the timer for the earliest deadline, unless one is armed for that time or sooner. */
  arm (): void {
    const top = this.heap.peek()
    if (top === undefined || this.stopped) return
    if (this.timer !== undefined && this.timerAt <= top.priority) return
    clearTimeout(this.timer)
    this.timerAt = top.priority
    this.timer = setTimeout(this.fire, Math.max(0, top.priority - Date.now()))
    this.timer.unref()
  }

  private readonly fire = (): void => {
    this.timer = undefined
    this.timerAt = Infinity
    const now = Date.now()
    for (let top = this.heap.peek(); top !== undefined && top.priority <= now; top = this.heap.peek()) {
      this.heap.pop()
      this.byId.delete(top)
      this.onDue(top)
    }
    this.arm()
  }
}
