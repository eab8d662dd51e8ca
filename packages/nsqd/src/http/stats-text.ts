import {
  formatGoDuration, splitHostPort,
  type ChannelStats, type ClientStats, type E2eProcessingLatency, type MemoryStats, type TopicStats,
} from '@nsqts/protocol'
import type { Stats } from '../stats.js'
import { nsToHuman, padRight, rfc3339 } from './go-format.js'

/** What the text /stats needs besides the stats themselves. */
export interface TextStatsContext {
  /** First line, e.g. `nsqd v1.3.0 (built w/nsqts)`. */
  banner: string
  startTime: number
  uptimeNs: bigint
  health: string
  nowMs: number
}

function e2e (latency: E2eProcessingLatency): string {
  return (latency.percentiles ?? []).map((p) => nsToHuman(p.value)).join(', ')
}

/** The port of `host:port` (Go's net.SplitHostPort), '' when there is none. */
function portOf (address: string): string {
  try {
    return splitHostPort(address).port
  } catch {
    return ''
  }
}

/** One client line: publishers show their counts per topic, consumers their delivery counters. */
function clientLine (s: ClientStats, nowMs: number): string {
  // Connected time in whole seconds, like Go's Truncate(time.Second).
  const connectedSeconds = Math.max(0, Math.floor((nowMs - s.connect_ts * 1000) / 1000))
  const connected = formatGoDuration(BigInt(connectedSeconds) * 1_000_000_000n)
  const id = padRight(`${s.hostname}:${portOf(s.remote_address)} ${s.user_agent}`, 21)
  if (s.pub_counts !== undefined && s.pub_counts.length > 0) {
    const total = s.pub_counts.reduce((sum, p) => sum + p.count, 0)
    const topics = s.pub_counts.map((p) => `${p.topic}=${p.count}`).join(',')
    return `[${s.version} ${id}] msgs: ${padRight(total, 8)} topics: ${topics} connected: ${connected}`
  }
  return `[${s.version} ${id}] state: ${s.state} inflt: ${padRight(s.in_flight_count, 4)} rdy: ${padRight(s.ready_count, 4)} ` +
    `fin: ${padRight(s.finish_count, 8)} re-q: ${padRight(s.requeue_count, 8)} msgs: ${padRight(s.message_count, 8)} ` +
    `connected: ${connected}`
}

/**
 * nsqts delivery policies: the counts of a topic or channel that /stats JSON shows them for (docs/policies.md), before
 * e2e%; nothing for the others, whose lines stay NSQ's.
 */
function topicPolicyCounts (t: TopicStats): string {
  if (t.rejected_count === undefined) return ''
  return `rejected: ${padRight(t.rejected_count, 5)} expired: ${padRight(t.expired_count ?? 0, 5)} dropped: ${padRight(t.dropped_count ?? 0, 5)} `
}

function channelPolicyCounts (c: ChannelStats): string {
  if (c.dead_lettered_count === undefined) return ''
  return `dlq: ${padRight(c.dead_lettered_count, 5)} expired: ${padRight(c.expired_count ?? 0, 5)} dropped: ${padRight(c.dropped_count ?? 0, 5)} `
}

/** The default (text) format of /stats, column for column as nsqd prints it. */
export function formatTextStats (stats: Stats, memory: MemoryStats | undefined, ctx: TextStatsContext): string {
  let out = `${ctx.banner}\nstart_time ${rfc3339(ctx.startTime)}\nuptime ${formatGoDuration(ctx.uptimeNs)}\n\nHealth: ${ctx.health}\n`
  if (memory !== undefined) {
    out += '\nMemory:\n'
    for (const [key, value] of Object.entries(memory)) out += `   ${padRight(key, 25)}\t${value as number}\n`
  }
  const topics = stats.topics ?? []
  out += topics.length === 0 ? '\nTopics: None\n' : '\nTopics:'
  for (const t of topics) {
    out += `\n${t.paused ? '*P ' : '   '}[${padRight(t.topic_name, 15)}] depth: ${padRight(t.depth, 5)} ` +
      `be-depth: ${padRight(t.backend_depth, 5)} msgs: ${padRight(t.message_count, 8)} ${topicPolicyCounts(t)}e2e%: ${e2e(t.e2e_processing_latency)}\n`
    for (const c of t.channels) {
      out += `${c.paused ? '   *P ' : '      '}[${padRight(c.channel_name, 25)}] depth: ${padRight(c.depth, 5)} ` +
        `be-depth: ${padRight(c.backend_depth, 5)} inflt: ${padRight(c.in_flight_count, 4)} def: ${padRight(c.deferred_count, 4)} ` +
        `re-q: ${padRight(c.requeue_count, 5)} timeout: ${padRight(c.timeout_count, 5)} msgs: ${padRight(c.message_count, 8)} ` +
        `${channelPolicyCounts(c)}e2e%: ${e2e(c.e2e_processing_latency)}\n`
      for (const client of c.clients ?? []) out += `        ${clientLine(client, ctx.nowMs)}\n`
    }
  }
  const producers = stats.producers ?? []
  if (producers.length === 0) return `${out}\nProducers: None\n`
  out += '\nProducers:\n'
  for (const p of producers) out += `   ${clientLine(p, ctx.nowMs)}\n`
  return out
}
