import { getHeapStatistics } from 'node:v8'
import { PerformanceObserver } from 'node:perf_hooks'
import type { ChannelStats, ClientStats, E2eProcessingLatency, MemoryStats, NsqdStats, TopicStats } from '@nsqts/protocol'
import type { Topic } from './topic.js'
import type { Channel } from './channel.js'
import type { Client } from './tcp/client.js'
import { statsOfClient } from './tcp/client-stats.js'
import { LatencyStats } from './latency.js'

/**
 * The /stats model. Its shapes are the wire's (@nsqts/protocol); each object here is built in the order nsqd 1.3.0
 * writes its keys, because JSON.stringify keeps insertion order.
 */

/** What stats and metrics read of the broker (nsqd.ts implements it). */
export interface StatsSource {
  readonly topics: ReadonlyMap<string, Topic>
  /** Every connected client by id: a channel's clients are found here, not by class. */
  readonly clients: ReadonlyMap<number, Client>
  /** The store's last write error, while writes fail. */
  readonly health: string | undefined
  getExistingTopic (name: string): Topic | undefined
}

/** What GetStats gathers; the /stats route wraps it in the envelope with version, health and memory. */
export type Stats = Pick<NsqdStats, 'topics' | 'producers'>

export interface StatsFilter {
  /** '' for every topic. */
  topic: string
  /** '' for every channel; with no topic filter it applies to every topic and drops those without the channel. */
  channel: string
  includeClients: boolean
}

const byName = <T extends { name: string }>(a: T, b: T): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)

/** A client's stats as seen under a topic filter: pub_counts then only lists that topic. */
function clientStats (client: Client, topic: string): ClientStats {
  const stats = statsOfClient(client)
  if (topic !== '' && stats.pub_counts !== undefined) {
    const count = client.pubCounts.get(topic)
    // Replacing the key keeps its place in the JSON.
    if (count === undefined) delete stats.pub_counts
    else stats.pub_counts = [{ topic, count }]
  }
  return stats
}

type Samples = ReturnType<LatencyStats['samples']>

function latencyOf (percentiles: readonly number[] | undefined, parts: Samples[]): E2eProcessingLatency {
  return percentiles === undefined ? { count: 0, percentiles: null } : LatencyStats.merge(percentiles, parts)
}

type Clients = ReadonlyMap<number, Client>

function channelStats (
  channel: Channel, samples: Samples | undefined, filter: StatsFilter, registry: Clients,
): ChannelStats {
  let clients: ClientStats[] | null = null
  if (filter.includeClients) {
    clients = []
    for (const consumer of channel.clients()) {
      // The channel's consumers are the daemon's TCP clients; the registry gives each one back with its stats.
      const client = registry.get(consumer.id)
      if (client === consumer) clients.push(clientStats(client, filter.topic))
    }
  }
  const stats: ChannelStats = {
    channel_name: channel.name,
    depth: channel.depth,
    backend_depth: channel.backendDepth,
    in_flight_count: channel.inFlightCount,
    deferred_count: channel.deferredCount,
    message_count: channel.messageCount,
    requeue_count: channel.requeueCount,
    timeout_count: channel.timeoutCount,
    client_count: channel.clientCount,
    clients,
    paused: channel.paused,
    e2e_processing_latency: latencyOf(channel.latency?.percentiles, samples === undefined ? [] : [samples]),
  }
  // nsqts delivery policies: new fields only, and only where a policy is in force or counted something, so that an
  // nsqd without policies answers exactly as NSQ 1.3.0.
  if (channel.reportsPolicy) {
    stats.policy = channel.policyJson()
    stats.dead_lettered_count = channel.deadLetteredCount
    stats.expired_count = channel.expiredCount
    stats.dropped_count = channel.droppedCount
  }
  return stats
}

/** One topic's stats, or undefined when a channel filter names none of its channels. */
function topicStats (topic: Topic, filter: StatsFilter, registry: Clients): TopicStats | undefined {
  let selected: Channel[]
  if (filter.channel === '') {
    selected = [...topic.channels.values()].sort(byName)
  } else {
    const channel = topic.channels.get(filter.channel)
    if (channel === undefined) return undefined
    selected = [channel]
  }
  // The topic's latency merges every channel's, whatever the filter.
  const samples = new Map<Channel, Samples>()
  let percentiles: readonly number[] | undefined
  for (const channel of topic.channels.values()) {
    if (channel.latency === undefined) continue
    samples.set(channel, channel.latency.samples())
    percentiles = channel.latency.percentiles
  }
  const stats: TopicStats = {
    topic_name: topic.name,
    channels: selected.map((c) => channelStats(c, samples.get(c), filter, registry)),
    depth: topic.depth,
    backend_depth: topic.backendDepth,
    message_count: topic.messageCount,
    message_bytes: topic.messageBytes,
    paused: topic.paused,
    e2e_processing_latency: latencyOf(percentiles, [...samples.values()]),
  }
  if (topic.reportsPolicy) {
    stats.policy = topic.policyJson()
    stats.rejected_count = topic.rejectedCount
    stats.expired_count = topic.expiredCount
    stats.dropped_count = topic.droppedCount
  }
  return stats
}

/** nsqd's GetStats: topics and their channels sorted by name, and the producers. */
export function collectStats (nsqd: StatsSource, filter: StatsFilter): Stats {
  let topics: Topic[]
  if (filter.topic === '') {
    topics = [...nsqd.topics.values()].sort(byName)
  } else {
    const topic = nsqd.getExistingTopic(filter.topic)
    if (topic === undefined) return { topics: null, producers: null }
    topics = [topic]
  }
  const topicList: TopicStats[] = []
  for (const topic of topics) {
    const stats = topicStats(topic, filter, nsqd.clients)
    if (stats !== undefined) topicList.push(stats)
  }
  let producers: ClientStats[] | null = null
  if (filter.includeClients) {
    for (const client of nsqd.clients.values()) {
      if (client.pubCounts.size > 0) (producers ??= []).push(clientStats(client, filter.topic))
    }
  }
  return { topics: topicList, producers }
}

/** "OK", or "NOK - <last storage error>", as /stats and /ping report health. */
export function healthText (nsqd: StatsSource): string {
  return nsqd.health === undefined ? 'OK' : `NOK - ${nsqd.health}`
}

// ---- memory ----

/** Like Go's MemStats.PauseNs: the most recent pauses, in a ring. */
const GC_PAUSE_HISTORY = 256
const gcPausesNs: number[] = []
let gcRuns = 0
let gcObserver: PerformanceObserver | undefined

/** Starts recording GC pauses for the memory stats; once per process, for as long as it lives. */
export function observeGc (): void {
  if (gcObserver !== undefined) return
  gcObserver = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gcPausesNs[gcRuns % GC_PAUSE_HISTORY] = entry.duration * 1e6
      gcRuns++
    }
  })
  gcObserver.observe({ entryTypes: ['gc'] })
}

/** nsqd's pick from sorted pauses: index round(p * n), clamped. */
function percentileUs (sorted: number[], p: number): number {
  if (sorted.length === 0) return 0
  const i = Math.min(sorted.length - 1, Math.floor(p * sorted.length + 0.5))
  return Math.floor((sorted[i] as number) / 1000)
}

/** /stats "memory": Go's MemStats filled from V8's heap statistics and the observed GC pauses. */
export function memStats (): MemoryStats {
  const heap = getHeapStatistics()
  const pauses = [...gcPausesNs].sort((a, b) => a - b)
  return {
    // Node exposes no live-object count short of a heap snapshot.
    heap_objects: 0,
    // Committed but not in use.
    heap_idle_bytes: heap.total_heap_size - heap.used_heap_size,
    heap_in_use_bytes: heap.used_heap_size,
    // Reserved but not backed by physical memory.
    heap_released_bytes: Math.max(0, heap.total_heap_size - heap.total_physical_size),
    gc_pause_usec_100: percentileUs(pauses, 1),
    gc_pause_usec_99: percentileUs(pauses, 0.99),
    gc_pause_usec_95: percentileUs(pauses, 0.95),
    // V8 collects or grows the heap when allocation reaches its committed size.
    next_gc_bytes: heap.total_heap_size,
    gc_total_runs: gcRuns,
  }
}
