/**
 * nsqadmin 1.3.0's /api shapes and the aggregation that builds them from nsqd's /stats. Field order follows the
 * captures (JSON.stringify keeps insertion order), so a diff against NSQ's responses stays readable.
 */
import type { ChannelStats, ClientStats, E2eProcessingLatency, LookupdProducer, TopicStats } from '@nsqts/client'

/** One percentile as nsqadmin reports it: nsqd's value spread into min/max/average so nodes can be merged. */
export interface Percentile {
  average: number
  count: number
  max: number
  min: number
  quantile: number
  /** Only on a single node's entry; the cluster-wide aggregate has none (as in NSQ). */
  value?: number
}

export interface E2eAggregate {
  count: number
  percentiles: Percentile[] | null
  topic: string
  channel: string
  host: string
}

/** A client under one node: nsqd's ClientStats with the node, the connected time and the auth fields always set. */
export interface AdminClient extends Omit<ClientStats, 'state' | 'pub_counts' | AuthField>, Required<Pick<ClientStats, AuthField>> {
  node: string
  /** Nanoseconds since connect_ts (a Go Duration), whole seconds. */
  connected: number
}

type AuthField = 'authed' | 'auth_identity' | 'auth_identity_url'

/** A channel on one node (or, with node "*", summed over nodes, each one under nodes[]). */
export interface AdminChannel extends Omit<ChannelStats, 'clients' | 'e2e_processing_latency' | TopologyCount> {
  node: string
  hostname: string
  topic_name: string
  memory_depth: number
  nodes: AdminChannel[] | null
  clients: AdminClient[] | null
  e2e_processing_latency: E2eAggregate
}

/** The topology counters of nsqd builds that send them; nsqadmin 1.3.0 does not pass them on. */
type TopologyCount = 'zone_local_msg_count' | 'region_local_msg_count' | 'global_msg_count'

/** A topic on one node (or, with node "*", summed over nodes, each one under nodes[]). */
export interface AdminTopic extends Omit<TopicStats, 'channels' | 'message_bytes' | 'e2e_processing_latency'> {
  node: string
  hostname: string
  memory_depth: number
  nodes: AdminTopic[] | null
  channels: AdminChannel[] | null
  e2e_processing_latency: E2eAggregate
}

/** An nsqd as /api/nodes lists it. */
export interface AdminProducer extends LookupdProducer {
  /** `<lookupd address>/<nsqd's address as that lookupd saw it>`, one per lookupd that knows the node. */
  remote_addresses: string[]
  topics: Array<{ topic: string, tombstoned: boolean }>
  out_of_date: boolean
}

function nodeE2e (e2e: E2eProcessingLatency): E2eAggregate {
  const percentiles = e2e.percentiles === null
    ? null
    : e2e.percentiles.map((p) => ({
      average: p.value, count: e2e.count, max: p.value, min: p.value, quantile: p.quantile, value: p.value,
    }))
  return { count: e2e.count, percentiles, topic: '', channel: '', host: '' }
}

/** Merges one node's latencies into the cluster-wide figure: counts add, min/max widen, averages weigh by count. */
function addE2e (into: E2eAggregate, from: E2eAggregate): void {
  into.count += from.count
  if (from.percentiles === null) return
  into.percentiles ??= []
  for (const p of from.percentiles) {
    let q = into.percentiles.find((x) => x.quantile === p.quantile)
    if (q === undefined) {
      q = { average: 0, count: 0, max: 0, min: 0, quantile: p.quantile }
      into.percentiles.push(q)
    }
    const count = q.count + p.count
    q.average = count === 0 ? 0 : (q.average * q.count + p.average * p.count) / count
    q.count = count
    if (q.min === 0 || p.min < q.min) q.min = p.min
    if (p.max > q.max) q.max = p.max
  }
  into.percentiles.sort((a, b) => b.quantile - a.quantile)
}

export function toAdminClient (node: string, c: ClientStats, nowMs: number): AdminClient {
  const client: AdminClient = {
    node,
    remote_address: c.remote_address,
    version: c.version,
    client_id: c.client_id,
    hostname: c.hostname,
    user_agent: c.user_agent,
    connect_ts: c.connect_ts,
    connected: Math.max(0, Math.floor(nowMs / 1000) - c.connect_ts) * 1e9,
    in_flight_count: c.in_flight_count,
    ready_count: c.ready_count,
    finish_count: c.finish_count,
    requeue_count: c.requeue_count,
    message_count: c.message_count,
    sample_rate: c.sample_rate,
    deflate: c.deflate,
    snappy: c.snappy,
    authed: c.authed ?? false,
    auth_identity: c.auth_identity ?? '',
    auth_identity_url: c.auth_identity_url ?? '',
    tls: c.tls,
    tls_cipher_suite: c.tls_cipher_suite,
    tls_version: c.tls_version,
    tls_negotiated_protocol: c.tls_negotiated_protocol,
    tls_negotiated_protocol_is_mutual: c.tls_negotiated_protocol_is_mutual,
  }
  if (c.topology_zone) client.topology_zone = c.topology_zone
  if (c.topology_region) client.topology_region = c.topology_region
  return client
}

export function toAdminChannel (
  node: string, hostname: string, topic: string, c: ChannelStats, nowMs: number,
): AdminChannel {
  const channel: AdminChannel = {
    node,
    hostname,
    topic_name: topic,
    channel_name: c.channel_name,
    depth: c.depth,
    memory_depth: c.depth - c.backend_depth,
    backend_depth: c.backend_depth,
    in_flight_count: c.in_flight_count,
    deferred_count: c.deferred_count,
    requeue_count: c.requeue_count,
    timeout_count: c.timeout_count,
    message_count: c.message_count,
    client_count: c.client_count,
    nodes: null,
    clients: c.clients === null ? null : c.clients.map((x) => toAdminClient(node, x, nowMs)),
    paused: c.paused,
    e2e_processing_latency: nodeE2e(c.e2e_processing_latency),
  }
  copyCounts(channel, c, CHANNEL_COUNTS)
  return channel
}

export function toAdminTopic (node: string, hostname: string, t: TopicStats, nowMs: number): AdminTopic {
  const topic: AdminTopic = {
    node,
    hostname,
    topic_name: t.topic_name,
    depth: t.depth,
    memory_depth: t.depth - t.backend_depth,
    backend_depth: t.backend_depth,
    message_count: t.message_count,
    nodes: null,
    channels: (t.channels ?? []).map((c) => toAdminChannel(node, hostname, t.topic_name, c, nowMs)),
    paused: t.paused,
    e2e_processing_latency: nodeE2e(t.e2e_processing_latency),
  }
  copyCounts(topic, t, TOPIC_COUNTS)
  return topic
}

/** nsqts's policy counts: nsqd sends them only when non-zero or a policy is in force (NSQ's shapes unchanged). */
const CHANNEL_COUNTS = ['dead_lettered_count', 'expired_count', 'dropped_count'] as const
const TOPIC_COUNTS = ['rejected_count', 'expired_count', 'dropped_count'] as const

/** Copies (or, with `add`, adds) the counts `from` has; a count no entry has stays absent. */
function copyCounts<K extends string> (into: Partial<Record<K, number>>, from: Partial<Record<K, number>>,
  keys: readonly K[], add = false): void {
  for (const k of keys) {
    const v = from[k]
    if (v !== undefined) into[k] = (add ? into[k] ?? 0 : 0) + v
  }
}

const byNode = (a: { node: string }, b: { node: string }): number => a.node < b.node ? -1 : a.node > b.node ? 1 : 0

/** One channel across nodes: sums, every node's entry under nodes[], every client under clients[]. */
export function aggregateChannel (topic: string, channel: string, perNode: AdminChannel[]): AdminChannel {
  const agg: AdminChannel = {
    node: '*',
    hostname: '',
    topic_name: topic,
    channel_name: channel,
    depth: 0,
    memory_depth: 0,
    backend_depth: 0,
    in_flight_count: 0,
    deferred_count: 0,
    requeue_count: 0,
    timeout_count: 0,
    message_count: 0,
    client_count: 0,
    nodes: [],
    clients: null,
    paused: false,
    e2e_processing_latency: { count: 0, percentiles: null, topic, channel, host: '*' },
  }
  for (const c of [...perNode].sort(byNode)) {
    agg.depth += c.depth
    agg.memory_depth += c.memory_depth
    agg.backend_depth += c.backend_depth
    agg.in_flight_count += c.in_flight_count
    agg.deferred_count += c.deferred_count
    agg.requeue_count += c.requeue_count
    agg.timeout_count += c.timeout_count
    agg.message_count += c.message_count
    agg.client_count += c.client_count
    agg.paused ||= c.paused
    copyCounts(agg, c, CHANNEL_COUNTS, true)
    agg.nodes?.push(c)
    if (c.clients !== null && c.clients.length > 0) agg.clients = [...(agg.clients ?? []), ...c.clients]
    addE2e(agg.e2e_processing_latency, c.e2e_processing_latency)
  }
  agg.clients?.sort((a, b) => a.hostname.localeCompare(b.hostname) || a.remote_address.localeCompare(b.remote_address))
  return agg
}

/**
 * One topic across nodes. Its channels list holds a node's own entry when only that node has the channel (what NSQ
 * shows for a one-node cluster) and a `node:"*"` aggregate when several do.
 */
export function aggregateTopic (topic: string, perNode: AdminTopic[]): AdminTopic {
  const agg: AdminTopic = {
    node: '*',
    hostname: '',
    topic_name: topic,
    depth: 0,
    memory_depth: 0,
    backend_depth: 0,
    message_count: 0,
    nodes: [],
    channels: null,
    paused: false,
    e2e_processing_latency: { count: 0, percentiles: null, topic, channel: '', host: '*' },
  }
  const channels = new Map<string, AdminChannel[]>()
  for (const t of [...perNode].sort(byNode)) {
    agg.depth += t.depth
    agg.memory_depth += t.memory_depth
    agg.backend_depth += t.backend_depth
    agg.message_count += t.message_count
    agg.paused ||= t.paused
    copyCounts(agg, t, TOPIC_COUNTS, true)
    agg.nodes?.push(t)
    for (const c of t.channels ?? []) {
      const list = channels.get(c.channel_name)
      if (list === undefined) channels.set(c.channel_name, [c])
      else list.push(c)
    }
    addE2e(agg.e2e_processing_latency, t.e2e_processing_latency)
  }
  for (const [name, list] of channels) {
    agg.channels ??= []
    agg.channels.push(list.length === 1 ? list[0] as AdminChannel : aggregateChannel(topic, name, list))
  }
  agg.channels?.sort((a, b) => a.channel_name < b.channel_name ? -1 : a.channel_name > b.channel_name ? 1 : 0)
  return agg
}

/** Semver as nsqadmin reads nsqd's version: anything unparsable counts as 0.0.0 (and is therefore out of date). */
export function parseVersion (v: string): [number, number, number] {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(v)
  return m === null ? [0, 0, 0] : [Number(m[1]), Number(m[2]), Number(m[3])]
}

export function compareVersions (a: string, b: string): number {
  const x = parseVersion(a)
  const y = parseVersion(b)
  for (let i = 0; i < 3; i++) {
    const d = (x[i] as number) - (y[i] as number)
    if (d !== 0) return d
  }
  return 0
}
