import { Fifo } from './fifo.js'
import type { Message } from './message.js'
import { MessageIterator } from './message-iterator.js'
import { checkInteger } from './options.js'

export interface HandlerOptions {
  /** Messages handled at the same time. Default 1. */
  concurrency?: number
}

/** Resolve (or return) to finish the message; throw (or reject) to requeue it with backoff. */
export type MessageHandler = (message: Message) => void | Promise<void>

/** What delivery needs from its consumer. */
export interface DeliveryHost {
  /** False once close() began: no more handlers start. */
  isRunning (): boolean
  report (err: Error): void
  /** A handler's message was answered: close() may be waiting for that. */
  handlerDone (): void
  close (): Promise<void>
}

/**
 * Hands received messages to the handler (at most `concurrency` at once) or to the iterator, and queues them in
 * between. A handler that resolves finishes its message, one that throws requeues it with backoff, unless the handler
 * answered the message itself.
 */
export class Delivery {
  private readonly queued = new Fifo<Message>()
  private handler: MessageHandler | undefined
  private concurrency = 1
  private iterator: MessageIterator | undefined
  private pumping = false
  /** Handlers running now. */
  running = 0

  constructor (private readonly host: DeliveryHost) {}

  setHandler (handler: MessageHandler, options: HandlerOptions): void {
    if (this.handler !== undefined || this.iterator !== undefined) throw new Error('this consumer already has a handler or an iterator')
    this.concurrency = checkInteger('concurrency', options.concurrency ?? 1, 1, 1_000_000)
    this.handler = handler
    this.pump()
  }

  messages (): MessageIterator {
    if (this.handler !== undefined) throw new Error('this consumer already has a handler')
    this.iterator ??= new MessageIterator(this.queued, () => this.host.isRunning(), () => this.host.close())
    return this.iterator
  }

  deliver (message: Message): void {
    if (this.handler !== undefined) {
      if (this.queued.length === 0 && this.running < this.concurrency && !this.pumping && this.host.isRunning()) {
        this.run(this.handler, message)
        return
      }
      this.queued.push(message)
      this.pump()
    } else if (this.iterator === undefined || !this.iterator.offer(message)) {
      this.queued.push(message)
    }
  }

  /** Close: the messages not handed out yet go back to nsqd at once, and iteration ends. */
  stop (): void {
    for (let m = this.queued.shift(); m !== undefined; m = this.queued.shift()) m.requeue(0, { backoff: false })
    this.iterator?.end()
  }

  /** Starts handlers for queued messages up to the concurrency; a loop, not recursion, for synchronous handlers. */
  private pump (): void {
    if (this.pumping) return
    this.pumping = true
    while (this.handler !== undefined && this.running < this.concurrency && this.host.isRunning()) {
      const message = this.queued.shift()
      if (message === undefined) break
      this.run(this.handler, message)
    }
    this.pumping = false
  }

  private run (handler: MessageHandler, message: Message): void {
    this.running++
    let result: unknown
    try {
      result = handler(message)
    } catch (err) {
      this.done(message, err)
      return
    }
    if (isThenable(result)) result.then(() => { this.done(message, undefined) }, (err: unknown) => { this.done(message, err ?? new Error('handler rejected')) })
    else this.done(message, undefined)
  }

  private done (message: Message, err: unknown): void {
    this.running--
    if (err === undefined) {
      message.finish()
    } else {
      this.host.report(err instanceof Error ? err : new Error(String(err)))
      message.requeue(undefined, { backoff: true })
    }
    this.pump()
    this.host.handlerDone()
  }
}

function isThenable (value: unknown): value is PromiseLike<void> {
  return typeof (value as PromiseLike<void> | undefined)?.then === 'function'
}
