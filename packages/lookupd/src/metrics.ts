import { collectDefaultMetrics, Gauge, Registry, type GaugeConfiguration } from 'prom-client'
import { nowMs } from './clock.js'
import { isActive, WILDCARD, type RegistrationDB } from './registration-db.js'

export interface MetricsSource {
  readonly db: RegistrationDB
  readonly inactiveProducerTimeout: number
  readonly tombstoneLifetime: number
  /** Open TCP connections from peers. */
  tcpConnections (): number
}

let processMetrics: Registry | undefined

/**
 * Process metrics (CPU, memory, event loop, GC) describe the whole process, however many daemons it hosts, and
 * prom-client's collectors install observers that are never removed: they are collected once per process, into a
 * registry of their own (never prom-client's global one), and shared by every daemon's registry.
 */
function sharedProcessMetrics (): Registry {
  if (processMetrics === undefined) {
    processMetrics = new Registry()
    collectDefaultMetrics({ register: processMetrics })
  }
  return processMetrics
}

/**
 * A daemon's own registry for GET /metrics: its registry counts, computed when scraped (nothing is counted on the
 * protocol paths), merged with the process metrics.
 */
export function createLookupdMetrics (source: MetricsSource): Registry {
  const own = new Registry()
  // registers: [] keeps each gauge out of prom-client's global registry.
  const gauge = (config: GaugeConfiguration<string>): void => {
    own.registerMetric(new Gauge({ ...config, registers: [] }))
  }
  const { db } = source
  const activeProducers = (category: 'client' | 'topic', key: string, tombstoneLifetime: number): number => {
    const now = nowMs()
    return db.findProducers(category, key, '').filter((p) => isActive(p, now, source.inactiveProducerTimeout, tombstoneLifetime)).length
  }
  gauge({
    name: 'nsqlookupd_topics',
    help: 'Topics registered (with or without producers).',
    collect () { this.set(db.count('topic')) },
  })
  gauge({
    name: 'nsqlookupd_channels',
    help: 'Channels registered, across all topics.',
    collect () { this.set(db.count('channel')) },
  })
  gauge({
    name: 'nsqlookupd_producers',
    help: 'Identified nsqd peers seen within the inactive producer timeout.',
    collect () { this.set(activeProducers('client', '', 0)) },
  })
  gauge({
    name: 'nsqlookupd_topic_producers',
    help: 'Producers /lookup returns for the topic: active and not tombstoned.',
    labelNames: ['topic'],
    collect () {
      this.reset()
      for (const r of db.findRegistrations('topic', WILDCARD, '')) {
        this.set({ topic: r.key }, activeProducers('topic', r.key, source.tombstoneLifetime))
      }
    },
  })
  gauge({
    name: 'nsqlookupd_tcp_connections',
    help: 'Open TCP connections from peers.',
    collect () { this.set(source.tcpConnections()) },
  })
  return Registry.merge([sharedProcessMetrics(), own])
}
