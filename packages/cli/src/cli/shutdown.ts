import type { Consumer, ConsumerOptions, Message, MessageHandler } from '@nsqts/client'
import { setTimeout as sleep } from 'node:timers/promises'

/** nsqd's default output_buffer_timeout, used when the consumer options leave it to nsqd. */
const NSQD_OUTPUT_BUFFER_TIMEOUT_MS = 250
/** Network and scheduling slack on top of it. */
const SLACK_MS = 100

/**
 * Stops consumers without leaving messages stranded in flight on nsqd.
 *
 * nsqd holds message frames in its output buffer for up to output_buffer_timeout before writing them. The client's
 * close() sends CLS but judges a connection drained without waiting for nsqd's CLOSE_WAIT, so messages still in that
 * buffer would arrive after the socket closed and stay in flight on nsqd until their timeout. So stop() first sets
 * RDY 0 (nsqd sends nothing new) and waits that long with the connections open: what arrives meanwhile, and what
 * the consumer had queued, reaches the wrapped handler, which gives it straight back (REQ 0). Handlers already
 * running finish as usual. Then close().
 */
export class GracefulStop {
  private stopping = false

  /** The handler to give the consumer: `handler` until stop() begins, then an immediate requeue. */
  wrap (handler: MessageHandler): MessageHandler {
    return (message: Message) => {
      if (!this.stopping) return handler(message)
      message.requeue(0, { backoff: false })
      return undefined
    }
  }

  /**
   * `whileClosing` runs once no message can reach the real handler any more: the place to flush work the running
   * handlers are waiting for (nsq_to_file's last sync).
   */
  async stop (consumers: readonly Consumer[], options: ConsumerOptions, whileClosing?: () => Promise<void>): Promise<void> {
    this.stopping = true
    const active = consumers.filter((c) => c.stats().connections > 0)
    for (const c of active) c.setMaxInFlight(0)
    const flushing = whileClosing?.()
    if (active.length > 0) {
      const buffered = options.outputBufferTimeoutMs ?? 0
      await sleep((buffered === 0 ? NSQD_OUTPUT_BUFFER_TIMEOUT_MS : Math.max(buffered, 0)) + SLACK_MS)
    }
    await Promise.all([...consumers.map((c) => c.close()), flushing])
  }
}
