/** A FIFO ring buffer that grows by doubling; shift and push are O(1) without Array#shift's copying. */
export class Deque<T> {
  private buf: Array<T | undefined>
  private head = 0
  private count = 0

  constructor (initialCapacity = 16) {
    let cap = 16
    while (cap < initialCapacity) cap *= 2
    this.buf = new Array<T | undefined>(cap)
  }

  get length (): number {
    return this.count
  }

  push (item: T): void {
    if (this.count === this.buf.length) this.grow()
    this.buf[(this.head + this.count) & (this.buf.length - 1)] = item
    this.count++
  }

  /** The oldest item, left in place. */
  peek (): T | undefined {
    return this.count === 0 ? undefined : this.buf[this.head]
  }

  /** The item `index` places after the oldest, left in place. */
  at (index: number): T | undefined {
    return index < 0 || index >= this.count ? undefined : this.buf[(this.head + index) & (this.buf.length - 1)]
  }

  shift (): T | undefined {
    if (this.count === 0) return undefined
    const item = this.buf[this.head]
    this.buf[this.head] = undefined
    this.head = (this.head + 1) & (this.buf.length - 1)
    this.count--
    return item
  }

  /** Removes and returns every item, oldest first. */
  drain (): T[] {
    const out: T[] = []
    for (let item = this.shift(); item !== undefined; item = this.shift()) out.push(item)
    return out
  }

  clear (): void {
    this.buf = new Array<T | undefined>(16)
    this.head = 0
    this.count = 0
  }

  private grow (): void {
    const old = this.buf
    const next = new Array<T | undefined>(old.length * 2)
    for (let i = 0; i < this.count; i++) next[i] = old[(this.head + i) & (old.length - 1)]
    this.buf = next
    this.head = 0
  }
}
