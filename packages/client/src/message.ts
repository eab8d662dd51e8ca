/** What a Message needs from the consumer that delivered it. */
export interface MessageResponder {
  finish (message: Message): void
  requeue (message: Message, delayMs: number | undefined, backoff: boolean): void
  touch (message: Message): void
}

export interface RequeueOptions {
  /** Treat the requeue as a processing failure and let the consumer back off. Default true (go-nsq's Requeue). */
  backoff?: boolean
}

/**
 * A message delivered by nsqd. Answer it exactly once with finish() or requeue(); until then nsqd counts it in flight
 * and redelivers it after the message timeout. Later answers are ignored.
 */
export class Message {
  /** 16 hex characters, unique per topic on one nsqd. */
  readonly id: string
  readonly body: Buffer
  /** How many times nsqd has delivered this message, this delivery included (the first is 1). */
  readonly attempts: number
  /** When nsqd received the message, in nanoseconds since the epoch. */
  readonly timestamp: bigint
  /** host:port of the nsqd that delivered it. */
  readonly nsqdAddress: string
  #responded = false
  readonly #responder: MessageResponder

  /** @internal messages are created by the Consumer. */
  constructor (id: string, body: Buffer, attempts: number, timestamp: bigint, nsqdAddress: string, responder: MessageResponder) {
    this.id = id
    this.body = body
    this.attempts = attempts
    this.timestamp = timestamp
    this.nsqdAddress = nsqdAddress
    this.#responder = responder
  }

  /** When nsqd received the message, in milliseconds since the epoch. */
  get timestampMs (): number {
    return Number(this.timestamp / 1_000_000n)
  }

  /** True once finish() or requeue() was called (by you, or by the consumer for a handler). */
  get responded (): boolean {
    return this.#responded
  }

  /** The body as UTF-8 text. */
  text (): string {
    return this.body.toString()
  }

  /** The body parsed as JSON. */
  json<T = unknown> (): T {
    return JSON.parse(this.body.toString()) as T
  }

  /** FIN: the message is done and nsqd forgets it. */
  finish (): void {
    if (this.#responded) return
    this.#responded = true
    this.#responder.finish(this)
  }

  /**
   * REQ: nsqd delivers the message again after `delayMs` (nsqd caps it at its --max-req-timeout). Without a delay the
   * consumer's default applies: requeueDelayMs × attempts, at most maxRequeueDelayMs.
   */
  requeue (delayMs?: number, options?: RequeueOptions): void {
    if (this.#responded) return
    if (delayMs !== undefined && (!Number.isFinite(delayMs) || delayMs < 0)) {
      throw new RangeError(`requeue delay must be a non-negative number of milliseconds, got ${delayMs}`)
    }
    this.#responded = true
    this.#responder.requeue(this, delayMs, options?.backoff ?? true)
  }

  /** TOUCH: restarts the message's timeout on nsqd, for work that takes longer than msgTimeoutMs. */
  touch (): void {
    if (this.#responded) return
    this.#responder.touch(this)
  }
}
