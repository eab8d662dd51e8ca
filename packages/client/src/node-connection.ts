import type { Address } from './address.js'
import type { Connection } from './connection.js'
import type { MessageResponder } from './message.js'
import type { RdyConnection } from './rdy.js'

/** How the consumer learnt of an nsqd: given directly (reconnected when lost) or listed by a lookupd. */
export type NodeSource = 'nsqd' | 'lookupd'

/** One subscribed nsqd connection of a consumer, with the counters the RDY controller works on. */
export class NodeConnection implements RdyConnection {
  maxRdy = 0
  rdy = 0
  inFlight = 0
  transit = 0
  transitUntil = 0
  /** nsqd's output_buffer_timeout plus a second of network slack; set from the IDENTIFY answer. */
  transitGraceMs = 0
  lastMessageAt: number
  rdyAt: number
  /** False once the socket closed: answers for its messages can no longer be sent. */
  alive = true
  readonly closed: Promise<void>
  readonly notifyClosed: () => void

  constructor (
    readonly address: Address,
    readonly name: string,
    readonly source: NodeSource,
    readonly connection: Connection,
    readonly responder: MessageResponder,
    now: number
  ) {
    this.lastMessageAt = now
    this.rdyAt = now
    let notify = (): void => {}
    this.closed = new Promise((resolve) => { notify = resolve })
    this.notifyClosed = notify
  }
}
