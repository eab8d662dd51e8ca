import { formatAddress } from './address.js'
import type { Address } from './address.js'
import type { LookupdPollSettings } from './consumer-options.js'
import { LookupdHttpClient, lookupTopicProducers } from './http/lookupd.js'
import { HttpError } from './http/request.js'

export interface LookupdPollerHandlers {
  /** The nsqd nodes that have the topic, over all lookupds, each once; the poll is over when this settles. */
  found (addresses: Address[]): Promise<void>
  /** A lookupd that could not be asked (other than a 404 for a topic it does not know yet). */
  report (err: Error): void
}

/** Asks every nsqlookupd for the topic's producers now and then, with jitter, and hands on what they list. */
export class LookupdPoller {
  private readonly lookupds: LookupdHttpClient[]
  private timer: NodeJS.Timeout | undefined
  private polling: Promise<void> | undefined
  private stopped = false

  constructor (
    private readonly topic: string,
    private readonly settings: LookupdPollSettings,
    private readonly handlers: LookupdPollerHandlers
  ) {
    this.lookupds = settings.addresses.map((a) => new LookupdHttpClient(a, {
      timeoutMs: settings.timeoutMs, headers: settings.headers, bearerToken: settings.bearerToken,
    }))
  }

  get hasLookupds (): boolean {
    return this.lookupds.length > 0
  }

  /** Polls every lookupdPollIntervalMs (less up to the jitter) until stop(). */
  schedule (): void {
    if (this.stopped) return
    const delay = this.settings.intervalMs * (1 - this.settings.jitter * Math.random())
    this.timer = setTimeout(() => {
      this.poll().finally(() => { this.schedule() }).catch(() => {})
    }, delay)
  }

  stop (): void {
    this.stopped = true
    clearTimeout(this.timer)
  }

  /** Queries every lookupd at once and hands on the nodes found. One poll at a time: a second call joins the first. */
  poll (): Promise<void> {
    this.polling ??= (async () => {
      const { producers, failures } = await lookupTopicProducers(this.lookupds, this.topic)
      for (const { error } of failures) {
        // 404: lookupd does not know the topic yet, which is normal before the first publish.
        if (!(error instanceof HttpError && error.status === 404)) this.handlers.report(error as Error)
      }
      const found = new Map<string, Address>()
      for (const p of producers) {
        const address = { host: p.broadcast_address, port: p.tcp_port }
        found.set(formatAddress(address), address)
      }
      await this.handlers.found([...found.values()])
    })().finally(() => { this.polling = undefined })
    return this.polling
  }
}
