import type { RouteTable } from './router.js'
import type { Registry } from 'prom-client'
import type { HttpBroker } from './broker.js'
import { send } from './respond.js'

/**
 * GET /metrics: Prometheus text format. Not an NSQ route, so no V1 header; logged at debug (scrapers poll it).
 *
 * prom-client (~5 MB of RSS) and the registry are loaded by the first scrape, not when the routes are registered,
 * so a daemon nobody scrapes never pays for them; concurrent first scrapes share the one load. Node's default
 * metrics therefore start then too: the GC and event-loop-delay observers see nothing before the first scrape (the
 * CPU, memory and handle figures are read when scraped, so they are whole).
 */
export function metricsRoutes (app: RouteTable, nsqd: HttpBroker): void {
  let registry: Promise<Registry> | undefined
  app.get('/metrics', 'debug', async (call) => {
    const loading = registry ??= import('../metrics.js').then((m) => m.createMetricsRegistry(nsqd))
    let loaded: Registry
    try {
      loaded = await loading
    } catch (err) {
      // A load that failed (EMFILE while a reconnect storm holds every descriptor, say) is tried again by the next
      // scrape: kept, it would answer 500 to every scrape until a restart.
      if (registry === loading) registry = undefined
      throw err
    }
    const text = await loaded.metrics()
    await send(call, 200, ['Content-Type', loaded.contentType], text)
  })
}
