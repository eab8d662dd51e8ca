import type { Consumer, Message, MessageHandler } from '@nsqts/client'

/**
 * Stops consumers without leaving messages stranded in flight on nsqd: once stop() begins, the wrapped handler gives
 * every message straight back (REQ 0) while handlers already running finish as usual, and the consumers' close()
 * (CLS, then CLOSE_WAIT, which nsqd sends after any message frames it still had buffered) requeues whatever else
 * arrives before it disconnects.
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
  async stop (consumers: readonly Consumer[], whileClosing?: () => Promise<void>): Promise<void> {
    this.stopping = true
    await Promise.all([...consumers.map((c) => c.close()), whileClosing?.()])
  }
}
