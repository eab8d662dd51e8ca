import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client'
import type { StatsSource } from './stats.js'
import type { Topic } from './topic.js'
import type { Channel } from './channel.js'
import { LatencyStats } from './latency.js'

/**
 * Prometheus metrics for GET /metrics. Values are read from the live topics and channels when scraped, so the
 * publish path carries no metric updates; topics and channels that are gone simply stop being reported. Only
 * http/metrics.ts imports this file, on the first scrape, so prom-client stays unloaded in a daemon never scraped.
 */

let processRegistry: Registry | undefined

/**
 * Node's process metrics, in one registry shared by every NSQD of the process: they describe the process, and
 * collectDefaultMetrics starts observers (GC, event loop delay) that are never stopped, so it runs once.
 */
function processMetrics (): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry()
    collectDefaultMetrics({ register: processRegistry })
  }
  return processRegistry
}

type Setter<L extends string> = (labels: Record<L, string>, value: number) => void
/** Sets a metric's values when it is scraped. */
type Filler<L extends string> = (set: Setter<L>) => void

/** Builds this daemon's registry: its own nsqd_* metrics plus the process metrics. */
export function createMetricsRegistry (nsqd: StatsSource): Registry {
  const registry = new Registry()

  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[], fill: Filler<L>): void => {
    // eslint-disable-next-line no-new -- registered in `registry`
    new Gauge<L>({
      name,
      help,
      labelNames,
      registers: [registry],
      collect (this: Gauge<L>) {
        this.reset()
        fill((labels, value) => this.set(labels, value))
      },
    })
  }
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[], fill: Filler<L>): void => {
    // eslint-disable-next-line no-new -- registered in `registry`
    new Counter<L>({
      name,
      help,
      labelNames,
      registers: [registry],
      collect (this: Counter<L>) {
        this.reset()
        fill((labels, value) => this.inc(labels, value))
      },
    })
  }
  const eachTopic = (fn: (t: Topic) => void): void => { for (const t of nsqd.topics.values()) fn(t) }
  const eachChannel = (fn: (t: Topic, c: Channel) => void): void => {
    for (const t of nsqd.topics.values()) for (const c of t.channels.values()) fn(t, c)
  }
  const perTopic = (name: string, help: string, value: (t: Topic) => number, kind = gauge): void =>
    kind(name, help, ['topic'], (set) => eachTopic((t) => set({ topic: t.name }, value(t))))
  const perChannel = (name: string, help: string, value: (c: Channel) => number, kind = gauge): void =>
    kind(name, help, ['topic', 'channel'], (set) => eachChannel((t, c) => set({ topic: t.name, channel: c.name }, value(c))))

  gauge('nsqd_healthy', '1 while nsqd is healthy, 0 after a storage error.', [], (set) => set({}, nsqd.health === undefined ? 1 : 0))
  gauge('nsqd_clients', 'Connected TCP clients, publishers and consumers.', [], (set) => set({}, nsqd.clients.size))

  perTopic('nsqd_topic_depth', 'Messages held by the topic itself (memory and backend).', (t) => t.depth)
  perTopic('nsqd_topic_backend_depth', 'Messages of the topic in its backend.', (t) => t.backendDepth)
  perTopic('nsqd_topic_paused', '1 while the topic is paused.', (t) => (t.paused ? 1 : 0))
  perTopic('nsqd_topic_messages_total', 'Messages published to the topic.', (t) => t.messageCount, counter)
  perTopic('nsqd_topic_message_bytes_total', 'Body bytes published to the topic.', (t) => t.messageBytes, counter)
  perTopic('nsqd_topic_rejected_total', 'Messages refused because the topic was at its max_depth (overflow=reject).', (t) => t.rejectedCount, counter)
  perTopic('nsqd_topic_expired_total', 'Messages the topic held longer than its ttl, dropped.', (t) => t.expiredCount, counter)
  perTopic('nsqd_topic_dropped_total', 'Messages dropped because the topic was at its max_depth (overflow=drop-oldest).', (t) => t.droppedCount, counter)

  perChannel('nsqd_channel_depth', 'Queued messages of the channel (memory and backend), not counting in flight or deferred.', (c) => c.depth)
  perChannel('nsqd_channel_backend_depth', 'Queued messages of the channel in its backend.', (c) => c.backendDepth)
  perChannel('nsqd_channel_in_flight', 'Messages delivered and not yet finished, requeued or timed out.', (c) => c.inFlightCount)
  perChannel('nsqd_channel_deferred', 'Deferred messages waiting for their time.', (c) => c.deferredCount)
  perChannel('nsqd_channel_clients', 'Subscribed clients.', (c) => c.clientCount)
  perChannel('nsqd_channel_paused', '1 while the channel is paused.', (c) => (c.paused ? 1 : 0))
  perChannel('nsqd_channel_messages_total', 'Messages the channel received from its topic.', (c) => c.messageCount, counter)
  perChannel('nsqd_channel_requeues_total', 'Messages requeued by clients (REQ).', (c) => c.requeueCount, counter)
  perChannel('nsqd_channel_timeouts_total', 'In-flight messages that timed out.', (c) => c.timeoutCount, counter)
  // nsqts delivery policies (docs/policies.md); 0 where no policy is set.
  perChannel('nsqd_channel_dead_lettered_total', 'Messages moved to the channel\'s dead-letter topic (attempts, ttl or overflow).', (c) => c.deadLetteredCount, counter)
  perChannel('nsqd_channel_expired_total', 'Messages dropped because they were older than the channel\'s ttl.', (c) => c.expiredCount, counter)
  perChannel('nsqd_channel_dropped_total', 'Messages dropped because the channel was at its max_depth.', (c) => c.droppedCount, counter)

  gauge('nsqd_channel_e2e_processing_latency_seconds',
    'Publish-to-FIN latency at each --e2e-processing-latency-percentile, over the latency window.',
    ['topic', 'channel', 'quantile'], (set) => eachChannel((t, c) => {
      if (c.latency === undefined) return
      const { percentiles } = LatencyStats.merge(c.latency.percentiles, [c.latency.samples()])
      for (const p of percentiles) set({ topic: t.name, channel: c.name, quantile: String(p.quantile) }, p.value / 1e9)
    }))

  return Registry.merge([processMetrics(), registry])
}
