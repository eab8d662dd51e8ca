import {
  MESSAGE_HEADER_SIZE, MESSAGE_ID_LENGTH, ID_OFFSET, ATTEMPTS_OFFSET, encodeMessage, writeTimestampMs,
  type MessageIdGenerator,
} from '@nsqts/protocol'

/**
 * One message in one queue. `data` holds the stored form ([ts][attempts][id][body]) and is shared, never mutated,
 * by the copies a topic hands to each of its channels; `attempts` and the delivery state belong to this copy.
 */
export class Message {
  attempts: number
  /** Deadline (in-flight) or due time (deferred), in ms since the epoch; the key of whichever heap holds it. */
  priority = 0
  /** Position in that heap, -1 when in none. */
  heapIndex = -1
  /** The consumer it is in flight to (0 = none) and when it was delivered. */
  clientId = 0
  deliveredAt = 0
  /** Requested deferral in ms, applied when the topic hands it to a channel (DPUB). */
  deferMs: number

  /** The id as a string, made when first asked for: delivery and FIN read it where it lies, in `data`. */
  private idString: string | undefined

  constructor (readonly data: Buffer, attempts = 0, deferMs = 0, id?: string) {
    this.attempts = attempts
    this.deferMs = deferMs
    this.idString = id
  }

  get id (): string {
    return (this.idString ??= this.data.toString('latin1', ID_OFFSET, ID_OFFSET + MESSAGE_ID_LENGTH))
  }

  static create (id: string, body: Buffer, deferMs = 0, nowMs = Date.now()): Message {
    return new Message(encodeMessage(id, nowMs, 0, body), 0, deferMs, id)
  }

  /** A new message with the next id of `ids`, written straight into its stored form (no id string is made). */
  static publish (ids: MessageIdGenerator, body: Buffer, deferMs: number, nowMs: number): Message {
    const data = Buffer.allocUnsafe(MESSAGE_HEADER_SIZE + body.length)
    writeTimestampMs(data, 0, nowMs)
    data.writeUInt16BE(0, ATTEMPTS_OFFSET)
    ids.writeNext(data, ID_OFFSET, nowMs)
    body.copy(data, MESSAGE_HEADER_SIZE)
    return new Message(data, 0, deferMs)
  }

  /** Rebuilds a message from its stored form (a backend record). */
  static fromStored (data: Buffer): Message {
    return new Message(data, data.readUInt16BE(ATTEMPTS_OFFSET))
  }

  get bodyLength (): number {
    return this.data.length - MESSAGE_HEADER_SIZE
  }

  get body (): Buffer {
    return this.data.subarray(MESSAGE_HEADER_SIZE)
  }

  /** Publish time in ms (the stored timestamp is ns). */
  get timestampMs (): number {
    return timestampMsOf(this.data)
  }

  /** A copy for another channel: same id, timestamp and body, its own attempts and state. */
  copy (): Message {
    return new Message(this.data, this.attempts, this.deferMs, this.idString)
  }

  /** The stored form with this copy's attempts, for writing to a backend. */
  toStored (): Buffer {
    if (this.data.readUInt16BE(ATTEMPTS_OFFSET) === this.attempts) return this.data
    const out = Buffer.from(this.data)
    out.writeUInt16BE(this.attempts, ATTEMPTS_OFFSET)
    return out
  }
}

/**
 * The publish time in ms of a message in stored form. Read as two 32-bit halves in a double, not as a BigInt: it is
 * read per delivery under a ttl, and a double is exact to well under a millisecond at today's nanosecond counts.
 */
export function timestampMsOf (data: Buffer): number {
  return Math.floor((data.readUInt32BE(0) * 4294967296 + data.readUInt32BE(4)) / 1e6)
}
