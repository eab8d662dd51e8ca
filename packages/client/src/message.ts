import { ATTEMPTS_OFFSET, ID_OFFSET, MESSAGE_HEADER_SIZE, MESSAGE_ID_LENGTH } from '@nsqts/protocol'

/** What a Message needs from the consumer that delivered it. */
export interface MessageResponder {
  /** The message's 16-byte id is at `source[idStart]`: FIN copies it from there without making a string. */
  finish (message: Message, source: Buffer, idStart: number): void
  requeue (message: Message, delayMs: number | undefined, backoff: boolean): void
  touch (message: Message): void
}

export interface RequeueOptions {
  /** Treat the requeue as a processing failure and let the consumer back off. Default true (go-nsq's Requeue). */
  backoff?: boolean
}

/** 2^32 = 4294 × 10^6 + 967296: splits a nanosecond count into milliseconds without BigInt or precision loss. */
const MS_PER_HIGH_WORD = 4294
const NS_REST_PER_HIGH_WORD = 967_296

/**
 * A message delivered by nsqd. Answer it exactly once with finish() or requeue(); until then nsqd counts it in flight
 * and redelivers it after the message timeout. Later answers are ignored.
 *
 * It keeps a copy of the message frame, in a buffer shared with the messages received around it, and reads its
 * fields from there on demand: a consumer that finishes most messages without looking at their id or body makes no
 * string and no Buffer for them.
 */
export class Message {
  /** host:port of the nsqd that delivered it. */
  readonly nsqdAddress: string
  /** #buf[#start, #end) is [8-byte timestamp][2-byte attempts][16-byte id][body] (@nsqts/protocol's message codec). */
  readonly #buf: Buffer
  readonly #start: number
  readonly #end: number
  #id: string | undefined
  #body: Buffer | undefined
  #responded = false
  readonly #responder: MessageResponder

  /** @internal messages are created by the Consumer from a copy of nsqd's message frame: `buf[start, end)`. */
  constructor (buf: Buffer, start: number, end: number, nsqdAddress: string, responder: MessageResponder) {
    if (end - start < MESSAGE_HEADER_SIZE) {
      throw new RangeError(`message too short: ${end - start} bytes < ${MESSAGE_HEADER_SIZE}`)
    }
    this.#buf = buf
    this.#start = start
    this.#end = end
    this.nsqdAddress = nsqdAddress
    this.#responder = responder
  }

  /** 16 hex characters, unique per topic on one nsqd. */
  get id (): string {
    this.#id ??= this.#buf.toString('latin1', this.#start + ID_OFFSET, this.#start + ID_OFFSET + MESSAGE_ID_LENGTH)
    return this.#id
  }

  get body (): Buffer {
    this.#body ??= this.#buf.subarray(this.#start + MESSAGE_HEADER_SIZE, this.#end)
    return this.#body
  }

  /** How many times nsqd has delivered this message, this delivery included (the first is 1). */
  get attempts (): number {
    return this.#buf.readUInt16BE(this.#start + ATTEMPTS_OFFSET)
  }

  /** When nsqd received the message, in nanoseconds since the epoch. */
  get timestamp (): bigint {
    return this.#buf.readBigInt64BE(this.#start)
  }

  /** When nsqd received the message, in milliseconds since the epoch. */
  get timestampMs (): number {
    const high = this.#buf.readInt32BE(this.#start)
    // Before 1970 BigInt's truncation towards zero differs from Math.floor: take the slow, exact way.
    if (high < 0) return Number(this.timestamp / 1_000_000n)
    const low = this.#buf.readUInt32BE(this.#start + 4)
    return high * MS_PER_HIGH_WORD + Math.floor((high * NS_REST_PER_HIGH_WORD + low) / 1_000_000)
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
    this.#responder.finish(this, this.#buf, this.#start + ID_OFFSET)
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
