import { hostname } from 'node:os'
import type { Logger } from '@nsqts/protocol'

/** What nsqadmin POSTs to --notification-http-endpoint after each admin action (NSQ's field names). */
export interface AdminAction {
  action: string
  topic: string
  channel?: string
  node?: string
  /** Unix seconds. */
  timestamp: number
  user?: string
  remote_ip: string
  user_agent: string
  url: string
  via: string
}

export interface ActionContext {
  user: string | undefined
  remoteIp: string
  userAgent: string
  url: string
}

/**
 * Sends notices without holding up the answer to the operator (as NSQ does); a failed notice is logged, and close()
 * waits for those still in flight.
 */
export class Notifier {
  private readonly pending = new Set<Promise<void>>()
  private readonly via = hostname()

  constructor (
    private readonly endpoint: () => string,
    private readonly timeoutMs: number,
    private readonly logger: Logger,
  ) {}

  notify (action: string, target: { topic: string, channel?: string, node?: string }, ctx: ActionContext): void {
    const endpoint = this.endpoint()
    if (endpoint === '') return
    const body: AdminAction = {
      action,
      topic: target.topic,
      ...(target.channel ? { channel: target.channel } : {}),
      ...(target.node ? { node: target.node } : {}),
      timestamp: Math.floor(Date.now() / 1000),
      ...(ctx.user ? { user: ctx.user } : {}),
      remote_ip: ctx.remoteIp,
      user_agent: ctx.userAgent,
      url: ctx.url,
      via: this.via,
    }
    const url = endpoint.includes('://') ? endpoint : `http://${endpoint}`
    const sent = fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(this.timeoutMs),
    }).then(async (res) => {
      await res.arrayBuffer()
      if (!res.ok) this.logger.error(`notification ${action} to ${url}: HTTP ${res.status}`)
    }, (err: unknown) => {
      this.logger.error(`notification ${action} to ${url}: ${(err as Error).message}`)
    })
    this.pending.add(sent)
    sent.finally(() => this.pending.delete(sent)).catch(() => {})
  }

  async drain (): Promise<void> {
    await Promise.all(this.pending)
  }
}
