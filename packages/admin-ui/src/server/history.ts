/**
 * The live charts' memory (NSQ's nsqadmin needs Graphite for this). Every interval the sampler asks every known nsqd
 * for /stats (no clients, no memory) and keeps the last `window` of samples in a ring. A node that stops answering,
 * or that lookupd stops listing while it is still in the window, is recorded as down (null), so a chart shows a gap
 * and a "down" mark instead of a fall to zero.
 */
import type { NsqdStats } from '@nsqts/client'
import type { Logger } from '@nsqts/protocol'
import type { ClusterInfo, NodeRef } from './cluster.js'
import type { SeriesPoint, SeriesValue, TopicSummary } from './history-types.js'

export interface ChannelPoint {
  depth: number
  in_flight: number
  deferred: number
  messages: number
}

export interface TopicPoint {
  depth: number
  messages: number
  paused: boolean
  channels: Map<string, ChannelPoint>
}

export interface Sample {
  /** Unix ms. */
  ts: number
  /** Per node: its topics, or null when it did not answer. */
  nodes: Map<string, Map<string, TopicPoint> | null>
  /** Why lookupd (or nsqd discovery) failed during this sample, if it did. */
  error?: string
}

export interface HistoryOptions {
  intervalMs: number
  windowMs: number
  logger: Logger
}

function topicTotals (t: TopicPoint): Omit<SeriesValue, 'rate'> {
  let depth = t.depth
  let inFlight = 0
  let deferred = 0
  for (const c of t.channels.values()) {
    depth += c.depth
    inFlight += c.in_flight
    deferred += c.deferred
  }
  return { depth, in_flight: inFlight, deferred, messages: t.messages }
}

function pick (topics: Map<string, TopicPoint>, topic: string | undefined, channel: string | undefined): Omit<SeriesValue, 'rate'> | undefined {
  if (topic === undefined) {
    const sum = { depth: 0, in_flight: 0, deferred: 0, messages: 0 }
    for (const t of topics.values()) {
      const v = topicTotals(t)
      sum.depth += v.depth
      sum.in_flight += v.in_flight
      sum.deferred += v.deferred
      sum.messages += v.messages
    }
    return sum
  }
  const t = topics.get(topic)
  if (t === undefined) return undefined
  if (channel === undefined) return topicTotals(t)
  const c = t.channels.get(channel)
  if (c === undefined) return undefined
  return { depth: c.depth, in_flight: c.in_flight, deferred: c.deferred, messages: c.messages }
}

function rateBetween (prev: number | undefined, cur: number, dtMs: number): number | null {
  // A counter that went down means nsqd restarted or the topic was recreated: no honest rate for that step.
  if (prev === undefined || cur < prev || dtMs <= 0) return null
  return (cur - prev) * 1000 / dtMs
}

export class StatsHistory {
  private readonly samples: Sample[] = []
  private timer: NodeJS.Timeout | undefined
  private running: Promise<void> | undefined
  private closed = false

  constructor (private readonly cluster: ClusterInfo, readonly options: HistoryOptions) {}

  get capacity (): number {
    return Math.max(2, Math.ceil(this.options.windowMs / this.options.intervalMs) + 1)
  }

  start (): void {
    const tick = (): void => {
      // A slow node must not pile samples up: skip a tick while the previous one is still waiting.
      if (this.running === undefined) this.running = this.sampleOnce().finally(() => { this.running = undefined })
    }
    tick()
    this.timer = setInterval(tick, this.options.intervalMs)
    this.timer.unref()
  }

  async close (): Promise<void> {
    this.closed = true
    clearInterval(this.timer)
    await this.running
  }

  /** Takes one sample now. */
  async sampleOnce (): Promise<void> {
    const ts = Date.now()
    const nodes = new Map<string, NodeRef>()
    let error: string | undefined
    try {
      const producers = await this.cluster.producers()
      for (const p of producers.value) {
        const ref = this.cluster.nodeRefOf(p)
        nodes.set(ref.node, ref)
      }
      if (producers.errors.length > 0) error = producers.errors.join('; ')
    } catch (err) {
      error = (err as Error).message
    }
    // Nodes seen earlier in the window stay asked for, so one that vanished from lookupd shows as down.
    for (const s of this.samples) {
      for (const node of s.nodes.keys()) if (!nodes.has(node)) nodes.set(node, { node, address: node, hostname: '' })
    }
    const results = await Promise.all([...nodes.values()].map(async (ref) => {
      try {
        const stats = await this.cluster.nsqdClient(ref.address).stats({ includeClients: false, includeMem: false })
        return [ref.node, toTopicPoints(stats)] as const
      } catch {
        return [ref.node, null] as const
      }
    }))
    if (this.closed) return
    const sample: Sample = { ts, nodes: new Map(results) }
    if (error !== undefined) {
      sample.error = error
      this.options.logger.warn(`stats sample: ${error}`)
    }
    this.samples.push(sample)
    while (this.samples.length > this.capacity) this.samples.shift()
    this.forgetLongDown()
  }

  /** Drops nodes that were down for every sample in the window: they are gone, not merely down. */
  private forgetLongDown (): void {
    if (this.samples.length < this.capacity) return
    const everUp = new Set<string>()
    for (const s of this.samples) for (const [node, v] of s.nodes) if (v !== null) everUp.add(node)
    for (const s of this.samples) for (const node of [...s.nodes.keys()]) if (!everUp.has(node)) s.nodes.delete(node)
  }

  /** The series for the whole cluster, a topic, or one of its channels. */
  series (topic?: string, channel?: string): SeriesPoint[] {
    const out: SeriesPoint[] = []
    let prev: Sample | undefined
    for (const s of this.samples) {
      const nodes: Record<string, SeriesValue | null> = {}
      for (const [node, topics] of s.nodes) {
        if (topics === null) {
          nodes[node] = null
          continue
        }
        const v = pick(topics, topic, channel)
        if (v === undefined) continue
        const before = prev?.nodes.get(node)
        const p = before === null || before === undefined ? undefined : pick(before, topic, channel)
        nodes[node] = { ...v, rate: prev === undefined ? null : rateBetween(p?.messages, v.messages, s.ts - prev.ts) }
      }
      out.push({ ts: s.ts, nodes })
      prev = s
    }
    return out
  }

  /** Latest figures per topic across nodes, plus which nodes were down and why discovery failed. */
  summary (): { ts: number | null, topics: Record<string, TopicSummary>, down: string[], error: string | null } {
    const last = this.samples.at(-1)
    const before = this.samples.at(-2)
    // A Map while adding up: a topic may be named `__proto__` or `constructor`, which an object would resolve to
    // Object.prototype's members. Object.fromEntries makes them plain own keys.
    const topics = new Map<string, TopicSummary>()
    const down: string[] = []
    if (last === undefined) return { ts: null, topics: {}, down, error: null }
    for (const [node, points] of last.nodes) {
      if (points === null) {
        down.push(node)
        continue
      }
      for (const [name, t] of points) {
        const totals = topicTotals(t)
        const prevPoint = before?.nodes.get(node)?.get(name)
        const rate = before === undefined
          ? null
          : rateBetween(prevPoint?.messages, totals.messages, last.ts - before.ts)
        let sum = topics.get(name)
        if (sum === undefined) topics.set(name, sum = { depth: 0, messages: 0, rate: null, channels: 0, paused: false })
        sum.depth += totals.depth
        sum.messages += totals.messages
        if (rate !== null) sum.rate = (sum.rate ?? 0) + rate
        sum.channels = Math.max(sum.channels, t.channels.size)
        sum.paused ||= t.paused
      }
    }
    return { ts: last.ts, topics: Object.fromEntries(topics), down: down.sort(), error: last.error ?? null }
  }
}

function toTopicPoints (stats: NsqdStats): Map<string, TopicPoint> {
  const topics = new Map<string, TopicPoint>()
  for (const t of stats.topics ?? []) {
    const channels = new Map<string, ChannelPoint>()
    for (const c of t.channels ?? []) {
      channels.set(c.channel_name, {
        depth: c.depth,
        in_flight: c.in_flight_count,
        deferred: c.deferred_count,
        messages: c.message_count,
      })
    }
    topics.set(t.topic_name, { depth: t.depth, messages: t.message_count, paused: t.paused, channels })
  }
  return topics
}
