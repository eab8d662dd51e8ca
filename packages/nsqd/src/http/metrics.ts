import type { FastifyInstance } from 'fastify'
import type { HttpBroker } from './broker.js'
import { createMetricsRegistry } from '../metrics.js'
import { send } from './respond.js'

/** GET /metrics: Prometheus text format. Not an NSQ route, so no V1 header; logged at debug (scrapers poll it). */
export async function metricsRoutes (app: FastifyInstance, { nsqd }: { nsqd: HttpBroker }): Promise<void> {
  const registry = createMetricsRegistry(nsqd)
  app.get('/metrics', { config: { accessLog: 'debug' as const } }, async (_request, reply) => {
    const text = await registry.metrics()
    await send(reply, 200, ['Content-Type', registry.contentType], text)
  })
}
