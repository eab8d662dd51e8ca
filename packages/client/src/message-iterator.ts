import type { Fifo } from './fifo.js'
import type { Message } from './message.js'

type Waiter = (result: IteratorResult<Message, undefined>) => void

/**
 * `for await (const msg of consumer)`: next() takes a queued message or waits for the next one; leaving the loop
 * (return) closes the consumer. One iterator per consumer, whatever the number of loops reading it.
 */
export class MessageIterator implements AsyncIterableIterator<Message> {
  private readonly waiters: Array<Waiter> = []

  constructor (
    private readonly queued: Fifo<Message>,
    private readonly isRunning: () => boolean,
    private readonly close: () => Promise<void>
  ) {}

  next (): Promise<IteratorResult<Message, undefined>> {
    const message = this.queued.shift()
    if (message !== undefined) return Promise.resolve({ value: message, done: false })
    if (!this.isRunning()) return Promise.resolve({ value: undefined, done: true })
    return new Promise((resolve) => { this.waiters.push(resolve) })
  }

  async return (): Promise<IteratorResult<Message, undefined>> {
    await this.close()
    return { value: undefined, done: true }
  }

  [Symbol.asyncIterator] (): this {
    return this
  }

  /** Hands `message` to a next() that waits for one; false when none does. */
  offer (message: Message): boolean {
    const waiter = this.waiters.shift()
    if (waiter === undefined) return false
    waiter({ value: message, done: false })
    return true
  }

  /** The consumer is closing: every waiting next() ends the loop. */
  end (): void {
    for (const waiter of this.waiters.splice(0)) waiter({ value: undefined, done: true })
  }
}
