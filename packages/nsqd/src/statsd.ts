import { createSocket, type Socket } from 'node:dgram'
import { lookup } from 'node:dns/promises'
import {
  AddrError, isEphemeral, joinHostPort, parsePort, splitHostPort, type LatencyPercentile, type Logger,
} from '@nsqts/protocol'
import type { NsqdOptions } from './options.js'
import { collectStats, memStats, observeGc, type StatsSource } from './stats.js'

/** What the statsd pusher reads of the broker (nsqd.ts implements it). */
export interface StatsdSource extends StatsSource {
  readonly options: NsqdOptions
  readonly logger: Logger
  readonly broadcastHttpPort: number
}

/** nsqd's statsd prefix with `%s` replaced by the host key (broadcast host:port, `.` and `:` as `_`), ending in `.`. */
export function statsdPrefix (nsqd: StatsdSource): string {
  const prefix = nsqd.options.statsdPrefix
  if (prefix === '') return ''
  const host = nsqd.options.broadcastAddress
  const key = joinHostPort(host, nsqd.broadcastHttpPort).replace(/[.:]/g, '_')
  const expanded = prefix.replaceAll('%s', key)
  return expanded.endsWith('.') ? expanded : `${expanded}.`
}

/** Go's `%.0f` of quantile × 100, which rounds halves to even: the key suffix nsqd gives each percentile. */
function percentileKey (quantile: number): string {
  const x = quantile * 100
  let r = Math.round(x)
  if (x - Math.floor(x) === 0.5 && r % 2 !== 0) r--
  return String(r)
}

/**
 * Lines packed into UDP payloads of at most `size` bytes, as NSQ's boundary-buffered writer does: a line is never split,
 * so statsd can parse every packet alone; a line longer than `size` goes in a packet of its own.
 */
export function packLines (lines: readonly string[], size: number): Buffer[] {
  const packets: Buffer[] = []
  let pending: Buffer[] = []
  let pendingBytes = 0
  for (const line of lines) {
    const bytes = Buffer.from(line)
    if (pendingBytes > 0 && pendingBytes + bytes.length > size) {
      packets.push(Buffer.concat(pending))
      pending = []
      pendingBytes = 0
    }
    pending.push(bytes)
    pendingBytes += bytes.length
  }
  if (pendingBytes > 0) packets.push(Buffer.concat(pending))
  return packets
}

function splitAddress (address: string): { host: string, port: number } {
  const invalidPort = new Error(`address ${address}: missing or invalid port`)
  let split: { host: string, port: string }
  try {
    split = splitHostPort(address)
  } catch (err) {
    throw err instanceof AddrError && err.reason === 'missing port in address' ? invalidPort : err
  }
  const port = parsePort(split.port)
  if (port === undefined || port === 0) throw invalidPort
  return { host: split.host, port }
}

interface ChannelCounters { messageCount: number, requeueCount: number, timeoutCount: number }
interface TopicCounters { messageCount: number, messageBytes: number, channels: Map<string, ChannelCounters> }

/**
 * Pushes nsqd's stats to statsd every --statsd-interval (nsqd's statsdLoop). Nothing is counted on the publish path:
 * each interval reads the live topics and channels as /stats does, and counters go out as the change since the
 * previous push (UDP cannot tell whether that one arrived, as in NSQ). Unlike NSQ, which spreads an interval's packets over that interval, they go out
 * together: a node's packets are few, and one timer is all the pusher then needs.
 */
export class StatsdPusher {
  private timer: NodeJS.Timeout | undefined
  /** One socket per address family, made when first needed: the address may resolve to either. */
  private readonly sockets = new Map<4 | 6, Socket>()
  private last = new Map<string, TopicCounters>()
  private lastGcRuns = 0
  /** A push waiting on DNS: a slow resolver must not stack pushes up behind it. */
  private pushing = false
  private closed = false

  constructor (private readonly nsqd: StatsdSource) {}

  start (): void {
    if (this.nsqd.options.statsdMemStats) observeGc()
    this.timer = setInterval(() => { void this.push() }, this.nsqd.options.statsdInterval)
    // The listeners, not the pusher, keep the process alive; close() stops it.
    this.timer.unref()
  }

  close (): void {
    this.closed = true
    clearInterval(this.timer)
    for (const socket of this.sockets.values()) socket.close()
    this.sockets.clear()
  }

  private async push (): Promise<void> {
    if (this.pushing) return
    this.pushing = true
    const { logger, options } = this.nsqd
    try {
      // Resolved every interval, as nsqd dials every interval, so a statsd host that moves is followed.
      const { host, port } = splitAddress(options.statsdAddress)
      const { address, family } = await lookup(host)
      if (this.closed) return
      logger.info(`STATSD: pushing stats to ${options.statsdAddress}`)
      const socket = this.socket(family === 6 ? 6 : 4)
      const packets = packLines(this.lines(), options.statsdUdpPacketSize)
      let reported = false
      for (const packet of packets) {
        socket.send(packet, port, address, (err) => {
          // One line per push, not per packet, when statsd is unreachable.
          if (err === null || err === undefined || reported) return
          reported = true
          logger.error(`STATSD: failed to send to ${options.statsdAddress} - ${err.message}`)
        })
      }
    } catch (err) {
      // Counters stay at their last pushed values, so the next push that gets through carries what this one missed.
      logger.error(`STATSD: failed to push to ${options.statsdAddress} - ${(err as Error).message}`)
    } finally {
      this.pushing = false
    }
  }

  private socket (family: 4 | 6): Socket {
    let socket = this.sockets.get(family)
    if (socket === undefined) {
      socket = createSocket(family === 6 ? 'udp6' : 'udp4')
      socket.on('error', (err) => this.nsqd.logger.error(`STATSD: socket error - ${err.message}`))
      socket.unref()
      this.sockets.set(family, socket)
    }
    return socket
  }

  /** This interval's lines, in nsqd's order; remembers the counters they were computed from. */
  private lines (): string[] {
    const prefix = statsdPrefix(this.nsqd)
    const excludeEphemeral = this.nsqd.options.statsdExcludeEphemeral
    const out: string[] = []
    const counter = (stat: string, value: number): void => { out.push(`${prefix}${stat}:${value}|c\n`) }
    const gauge = (stat: string, value: number): void => { out.push(`${prefix}${stat}:${Math.trunc(value)}|g\n`) }
    const latencies = (stat: string, percentiles: LatencyPercentile[] | null): void => {
      for (const { quantile, value } of percentiles ?? []) gauge(`${stat}.e2e_processing_latency_${percentileKey(quantile)}`, value)
    }

    const now = new Map<string, TopicCounters>()
    for (const topic of collectStats(this.nsqd, { topic: '', channel: '', includeClients: false }).topics ?? []) {
      // The option is fixed for the process: what it skips never needs previous values either.
      if (excludeEphemeral && isEphemeral(topic.topic_name)) continue
      const counters: TopicCounters = {
        messageCount: topic.message_count, messageBytes: topic.message_bytes, channels: new Map(),
      }
      now.set(topic.topic_name, counters)
      const lastTopic = this.last.get(topic.topic_name)
      const t = `topic.${topic.topic_name}`
      counter(`${t}.message_count`, topic.message_count - (lastTopic?.messageCount ?? 0))
      counter(`${t}.message_bytes`, topic.message_bytes - (lastTopic?.messageBytes ?? 0))
      gauge(`${t}.depth`, topic.depth)
      gauge(`${t}.backend_depth`, topic.backend_depth)
      latencies(t, topic.e2e_processing_latency.percentiles)
      for (const channel of topic.channels) {
        if (excludeEphemeral && isEphemeral(channel.channel_name)) continue
        counters.channels.set(channel.channel_name, {
          messageCount: channel.message_count,
          requeueCount: channel.requeue_count,
          timeoutCount: channel.timeout_count,
        })
        const lastChannel = lastTopic?.channels.get(channel.channel_name)
        const c = `${t}.channel.${channel.channel_name}`
        counter(`${c}.message_count`, channel.message_count - (lastChannel?.messageCount ?? 0))
        gauge(`${c}.depth`, channel.depth)
        gauge(`${c}.backend_depth`, channel.backend_depth)
        gauge(`${c}.in_flight_count`, channel.in_flight_count)
        gauge(`${c}.deferred_count`, channel.deferred_count)
        counter(`${c}.requeue_count`, channel.requeue_count - (lastChannel?.requeueCount ?? 0))
        counter(`${c}.timeout_count`, channel.timeout_count - (lastChannel?.timeoutCount ?? 0))
        gauge(`${c}.clients`, channel.client_count)
        latencies(c, channel.e2e_processing_latency.percentiles)
      }
    }
    this.last = now

    if (this.nsqd.options.statsdMemStats) {
      const mem = memStats()
      gauge('mem.heap_objects', mem.heap_objects)
      gauge('mem.heap_idle_bytes', mem.heap_idle_bytes)
      gauge('mem.heap_in_use_bytes', mem.heap_in_use_bytes)
      gauge('mem.heap_released_bytes', mem.heap_released_bytes)
      gauge('mem.gc_pause_usec_100', mem.gc_pause_usec_100)
      gauge('mem.gc_pause_usec_99', mem.gc_pause_usec_99)
      gauge('mem.gc_pause_usec_95', mem.gc_pause_usec_95)
      gauge('mem.next_gc_bytes', mem.next_gc_bytes)
      counter('mem.gc_runs', mem.gc_total_runs - this.lastGcRuns)
      this.lastGcRuns = mem.gc_total_runs
    }
    return out
  }
}
