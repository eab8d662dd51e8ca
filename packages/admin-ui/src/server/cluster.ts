/**
 * What nsqadmin knows about the cluster, asked fresh on every call from every nsqlookupd (or, without any, every
 * configured nsqd) in parallel. A call that reaches some but not all of them returns what it got plus the failures,
 * which the API shows as a WARNING; one that reaches none throws the 502 nsqadmin answers.
 */
import { LookupdHttpClient, NsqdHttpClient, lookupTopicProducers, type LookupdProducer, type NsqdStats } from '@nsqts/client'
import { joinHostPort } from '@nsqts/protocol'
import { allFailed, describeUpstreamError } from './errors.js'
import { compareVersions, toAdminTopic, type AdminProducer, type AdminTopic } from './shapes.js'

/** A value gathered from several upstreams, with the failures of the ones that did not answer. */
export interface Gathered<T> {
  value: T
  errors: string[]
}

/** An nsqd to query: its name in the API (`host:http_port`) and where its HTTP API is reached. */
export interface NodeRef {
  node: string
  address: string
  hostname: string
}

export interface ClusterSources {
  lookupd: () => readonly string[]
  nsqd: () => readonly string[]
  /** Per request, milliseconds. */
  timeoutMs: number
  /** Sent to every nsqd and nsqlookupd ('' = none), for those started with --http-bearer-token. */
  bearerToken: string
}

interface Settled<T> { address: string, ok: true, value: T }
interface Failed { address: string, ok: false, error: string }

async function each<T> (
  addresses: readonly string[], call: (address: string) => Promise<T>,
): Promise<Array<Settled<T> | Failed>> {
  return await Promise.all(addresses.map(async (address) => {
    try {
      return { address, ok: true as const, value: await call(address) }
    } catch (err) {
      return { address, ok: false as const, error: describeUpstreamError(err) }
    }
  }))
}

/** Splits results into values and errors; throws nsqadmin's 502 when there were upstreams and none answered. */
function settle<T> (what: string, results: Array<Settled<T> | Failed>): Gathered<Array<Settled<T>>> {
  const ok = results.filter((r): r is Settled<T> => r.ok)
  const errors = results.filter((r): r is Failed => !r.ok).map((r) => r.error)
  if (ok.length === 0 && errors.length > 0) throw allFailed(what, errors)
  return { value: ok, errors }
}

export class ClusterInfo {
  private readonly lookupdClients = new Map<string, LookupdHttpClient>()
  private readonly nsqdClients = new Map<string, NsqdHttpClient>()

  constructor (private readonly sources: ClusterSources) {}

  get usesLookupd (): boolean {
    return this.sources.lookupd().length > 0
  }

  lookupdClient (address: string): LookupdHttpClient {
    let c = this.lookupdClients.get(address)
    if (c === undefined) {
      c = new LookupdHttpClient(address, { timeoutMs: this.sources.timeoutMs, bearerToken: this.sources.bearerToken })
      this.lookupdClients.set(address, c)
    }
    return c
  }

  nsqdClient (address: string): NsqdHttpClient {
    let c = this.nsqdClients.get(address)
    if (c === undefined) {
      c = new NsqdHttpClient(address, { timeoutMs: this.sources.timeoutMs, bearerToken: this.sources.bearerToken })
      this.nsqdClients.set(address, c)
    }
    return c
  }

  /** Every topic name, sorted: the union over lookupds, or over the nsqds' /stats without lookupd. */
  async topics (): Promise<Gathered<string[]>> {
    const names = new Set<string>()
    let errors: string[]
    if (this.usesLookupd) {
      const r = settle('nsqlookupd', await each(this.sources.lookupd(), (a) => this.lookupdClient(a).topics()))
      for (const s of r.value) for (const t of s.value) names.add(t)
      errors = r.errors
    } else {
      const r = settle('nsqd', await each(this.sources.nsqd(), (a) => this.nsqdClient(a).stats({ includeClients: false, includeMem: false })))
      for (const s of r.value) for (const t of s.value.topics ?? []) names.add(t.topic_name)
      errors = r.errors
    }
    return { value: [...names].sort(), errors }
  }

  /** Channels lookupd has registered for a topic (union over lookupds). */
  async lookupdChannels (topic: string): Promise<Gathered<string[]>> {
    const r = settle('nsqlookupd', await each(this.sources.lookupd(), (a) => this.lookupdClient(a).channels(topic)))
    const names = new Set<string>()
    for (const s of r.value) for (const c of s.value) names.add(c)
    return { value: [...names].sort(), errors: r.errors }
  }

  /** The nsqds that have the topic. */
  async topicProducers (topic: string): Promise<Gathered<NodeRef[]>> {
    if (this.usesLookupd) {
      const lookupds = this.sources.lookupd().map((a) => this.lookupdClient(a))
      const { producers, failures } = await lookupTopicProducers(lookupds, topic)
      const errors = failures.map((f) => describeUpstreamError(f.error))
      if (failures.length === lookupds.length && errors.length > 0) throw allFailed('nsqlookupd', errors)
      const nodes = new Map(producers.map((p) => producerRef(p)).map((ref) => [ref.node, ref]))
      return { value: [...nodes.values()], errors }
    }
    const r = settle('nsqd', await each(this.sources.nsqd(), (a) => this.nsqdClient(a).stats({ topic, includeClients: false, includeMem: false })))
    return {
      value: r.value.filter((s) => (s.value.topics ?? []).some((t) => t.topic_name === topic)).map((s) => ({ node: s.address, address: s.address, hostname: '' })),
      errors: r.errors,
    }
  }

  /** Every nsqd of the cluster, merged across lookupds, topics sorted, out-of-date nodes flagged. */
  async producers (): Promise<Gathered<AdminProducer[]>> {
    const byNode = new Map<string, AdminProducer>()
    let errors: string[]
    if (this.usesLookupd) {
      const r = settle('nsqlookupd', await each(this.sources.lookupd(), (a) => this.lookupdClient(a).nodes()))
      errors = r.errors
      for (const s of r.value) {
        for (const p of s.value) {
          const node = joinHostPort(p.broadcast_address, p.http_port)
          let entry = byNode.get(node)
          if (entry === undefined) {
            entry = toProducer(p, [])
            byNode.set(node, entry)
          }
          entry.remote_addresses.push(`${s.address}/${p.remote_address}`)
          p.topics.forEach((topic, i) => {
            const tombstoned = p.tombstones[i] ?? false
            const known = entry.topics.find((t) => t.topic === topic)
            if (known === undefined) entry.topics.push({ topic, tombstoned })
            else known.tombstoned ||= tombstoned
          })
        }
      }
    } else {
      const r = settle('nsqd', await each(this.sources.nsqd(), async (a) => {
        const client = this.nsqdClient(a)
        const [info, stats] = await Promise.all([
          client.info(),
          client.stats({ includeClients: false, includeMem: false }),
        ])
        return { info, stats }
      }))
      errors = r.errors
      for (const s of r.value) {
        const { info, stats } = s.value
        const topics = (stats.topics ?? []).map((t) => ({ topic: t.topic_name, tombstoned: false }))
        const p = toProducer({ ...info, remote_address: s.address }, topics)
        p.remote_addresses.push(s.address)
        byNode.set(s.address, p)
      }
    }
    const list = [...byNode.values()]
    let newest = '0.0.0'
    for (const p of list) {
      p.topics.sort((a, b) => a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0)
      if (compareVersions(p.version, newest) > 0) newest = p.version
    }
    for (const p of list) p.out_of_date = compareVersions(p.version, newest) < 0
    list.sort((a, b) => a.hostname.localeCompare(b.hostname) || nodeOf(a).localeCompare(nodeOf(b)))
    return { value: list, errors }
  }

  /** The nsqd a producer entry names, as a NodeRef. */
  nodeRefOf (p: AdminProducer): NodeRef {
    const node = this.usesLookupd ? nodeOf(p) : (p.remote_addresses[0] ?? nodeOf(p))
    return { node, address: node, hostname: p.hostname }
  }

  /** Finds an nsqd by its `host:http_port` name. */
  async findNode (node: string): Promise<Gathered<NodeRef | undefined>> {
    const producers = await this.producers()
    const found = producers.value.map((p) => this.nodeRefOf(p)).find((ref) => ref.node === node)
    return { value: found, errors: producers.errors }
  }

  /** Each node's /stats, as nsqadmin's per-node topic entries (channels and, if asked, clients inside). */
  async nodeStats (
    nodes: readonly NodeRef[], filter: { topic?: string, channel?: string, includeClients: boolean },
  ): Promise<Gathered<AdminTopic[]>> {
    const byAddress = new Map(nodes.map((n) => [n.address, n]))
    const r = settle('nsqd', await each([...byAddress.keys()], (a) => this.nsqdClient(a).stats({
      topic: filter.topic,
      channel: filter.channel,
      includeClients: filter.includeClients,
      includeMem: false,
    })))
    const now = Date.now()
    const topics: AdminTopic[] = []
    for (const s of r.value) {
      const ref = byAddress.get(s.address) as NodeRef
      for (const t of statsTopics(s.value, filter.topic)) topics.push(toAdminTopic(ref.node, ref.hostname, t, now))
    }
    topics.sort((a, b) => (a.topic_name < b.topic_name ? -1 : a.topic_name > b.topic_name ? 1 : 0) ||
      a.node.localeCompare(b.node))
    return { value: topics, errors: r.errors }
  }

  /** POSTs an action to every lookupd; failures are returned, never thrown (the action goes on elsewhere). */
  async onLookupds (call: (c: LookupdHttpClient) => Promise<void>): Promise<string[]> {
    const results = await each(this.sources.lookupd(), (a) => call(this.lookupdClient(a)))
    return results.filter((r): r is Failed => !r.ok).map((r) => r.error)
  }

  async onNodes (nodes: readonly NodeRef[], call: (c: NsqdHttpClient) => Promise<void>): Promise<string[]> {
    const results = await each(nodes.map((n) => n.address), (a) => call(this.nsqdClient(a)))
    return results.filter((r): r is Failed => !r.ok).map((r) => r.error)
  }
}

function nodeOf (p: { broadcast_address: string, http_port: number }): string {
  return joinHostPort(p.broadcast_address, p.http_port)
}

function producerRef (p: LookupdProducer): NodeRef {
  const node = nodeOf(p)
  return { node, address: node, hostname: p.hostname }
}

function toProducer (p: LookupdProducer, topics: AdminProducer['topics']): AdminProducer {
  const out: AdminProducer = {
    remote_addresses: [],
    remote_address: p.remote_address,
    hostname: p.hostname,
    broadcast_address: p.broadcast_address,
    tcp_port: p.tcp_port,
    http_port: p.http_port,
    version: p.version,
    topics,
    out_of_date: false,
  }
  if (p.topology_zone) out.topology_zone = p.topology_zone
  if (p.topology_region) out.topology_region = p.topology_region
  // Keep the capture's key order: topology before topics.
  const { topics: t, out_of_date: o, ...head } = out
  return { ...head, topics: t, out_of_date: o }
}

/** nsqd answers `?topic=` with that topic only, but older or foreign nodes might not filter; filter again. */
function statsTopics (stats: NsqdStats, topic: string | undefined): NonNullable<NsqdStats['topics']> {
  const topics = stats.topics ?? []
  return topic === undefined ? topics : topics.filter((t) => t.topic_name === topic)
}
