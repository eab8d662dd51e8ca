import type { Message } from './message.js'

export interface ConsumerStats {
  messagesReceived: number
  messagesFinished: number
  messagesRequeued: number
  messagesDiscarded: number
  /** Open nsqd connections. */
  connections: number
  /** Messages received and not yet finished or requeued. */
  inFlight: number
  /** 0 when not backing off. */
  backoffLevel: number
}

export interface ConsumerEvents {
  /** Subscribed on the nsqd at `address`. */
  connected: [address: string]
  /** The connection to `address` closed; `error` says why, unless the consumer was closing. */
  disconnected: [address: string, error: Error | undefined]
  /** A message exceeded maxAttempts. */
  discard: [message: Message]
  /** A backoff window of `durationMs` started at `level`. */
  backoff: [level: number, durationMs: number]
  /** Backoff ended; normal RDY again. */
  resume: []
  /**
   * Something went wrong that the consumer handles itself (a lookupd or nsqd unreachable, a handler that threw, a
   * FIN for a message that had timed out). Only emitted when a listener is attached, so an unobserved problem never
   * crashes the process; it is logged either way.
   */
  error: [error: Error]
}
