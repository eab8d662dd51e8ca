import type { Message } from './message.js'

/**
 * A binary min-heap of messages keyed by `priority` (a deadline in ms). Each message records its own index, so
 * removing an arbitrary one (FIN of an in-flight message) costs O(log n) without a search.
 */
export class MessageHeap {
  private readonly items: Message[] = []

  get size (): number {
    return this.items.length
  }

  peek (): Message | undefined {
    return this.items[0]
  }

  push (msg: Message): void {
    msg.heapIndex = this.items.length
    this.items.push(msg)
    this.up(msg.heapIndex)
  }

  pop (): Message | undefined {
    const top = this.items[0]
    if (top === undefined) return undefined
    this.removeAt(0)
    return top
  }

  remove (msg: Message): void {
    const i = msg.heapIndex
    if (i < 0 || this.items[i] !== msg) return
    this.removeAt(i)
  }

  /** Re-sorts one message after its priority changed (TOUCH). */
  update (msg: Message): void {
    const i = msg.heapIndex
    if (i < 0 || this.items[i] !== msg) return
    this.down(i)
    this.up(msg.heapIndex)
  }

  /** Every message, in no particular order. */
  values (): readonly Message[] {
    return this.items
  }

  clear (): void {
    for (const m of this.items) m.heapIndex = -1
    this.items.length = 0
  }

  private removeAt (i: number): void {
    const items = this.items
    const removed = items[i] as Message
    const last = items.pop() as Message
    removed.heapIndex = -1
    if (i === items.length) return
    items[i] = last
    last.heapIndex = i
    this.down(i)
    this.up(last.heapIndex)
  }

  private up (i: number): void {
    const items = this.items
    const msg = items[i] as Message
    while (i > 0) {
      const parentIndex = (i - 1) >> 1
      const parent = items[parentIndex] as Message
      if (parent.priority <= msg.priority) break
      items[i] = parent
      parent.heapIndex = i
      i = parentIndex
    }
    items[i] = msg
    msg.heapIndex = i
  }

  private down (i: number): void {
    const items = this.items
    const n = items.length
    const msg = items[i] as Message
    for (;;) {
      let child = 2 * i + 1
      if (child >= n) break
      const right = child + 1
      if (right < n && (items[right] as Message).priority < (items[child] as Message).priority) child = right
      const c = items[child] as Message
      if (c.priority >= msg.priority) break
      items[i] = c
      c.heapIndex = i
      i = child
    }
    items[i] = msg
    msg.heapIndex = i
  }
}
