import type { Message } from './message.js'

/** What a channel needs of a subscribed client. The TCP client implements it. */
export interface ChannelConsumer {
  readonly id: number
  /** RDY window open, socket writable, subscribed and not closing. */
  isReady (): boolean
  /** 0 = every message; otherwise the percentage of messages this consumer samples (NSQ's sample_rate). */
  readonly sampleRate: number
  /** Per-connection in-flight timeout in ms. */
  readonly msgTimeoutMs: number
  /** Takes one message into flight: counts it and buffers its frame. */
  deliver (msg: Message): void
  /** One of its in-flight messages left flight without a FIN or REQ from it (timed out). */
  inFlightTimedOut (): void
  /** The channel was emptied: its in-flight count starts again at 0. */
  inFlightCleared (): void
  /** The pump finished a round that delivered to this consumer: time to flush what it buffered. */
  afterDelivery (): void
}
