import { isEphemeral, joinHostPort, type Logger } from '@nsqts/protocol'
import type { NsqdEvents } from '../nsqd.js'
import type { NsqdOptions } from '../options.js'
import type { Topic } from '../topic.js'
import { LookupPeer } from './peer.js'

/** What the lookupd peers need of the broker (nsqd.ts implements it): what they announce, and its events. */
export interface LookupBroker {
  readonly options: NsqdOptions
  readonly logger: Logger
  readonly hostname: string
  readonly broadcastTcpPort: number
  readonly broadcastHttpPort: number
  readonly topics: ReadonlyMap<string, Topic>
  /** Calls `listener` on topic and channel changes until the returned function is called. */
  subscribe (listener: NsqdEvents): () => void
}

/**
 * The nsqlookupd peers of one nsqd (--lookupd-tcp-address, PUT /config/nsqlookupd_tcp_addresses): keeps each told
 * of every topic and channel, and lets a new topic learn the channels the cluster already has.
 */
export class LookupPeers {
  private readonly peers = new Map<string, LookupPeer>()
  private unsubscribe: (() => void) | undefined

  constructor (private readonly nsqd: LookupBroker) {}

  get size (): number {
    return this.peers.size
  }

  start (): void {
    this.unsubscribe = this.nsqd.subscribe({
      topicCreated: (topic) => this.broadcast(`REGISTER ${topic.name}`),
      topicDeleted: (topic) => this.broadcast(`UNREGISTER ${topic.name}`),
      channelCreated: (topic, channel) => this.broadcast(`REGISTER ${topic.name} ${channel.name}`),
      channelDeleted: (topic, channel) => this.broadcast(`UNREGISTER ${topic.name} ${channel.name}`),
    })
    this.setAddresses(this.nsqd.options.nsqlookupdTcpAddresses)
  }

  /** Adds peers that are new in `addresses` and drops the ones no longer there. */
  setAddresses (addresses: readonly string[]): void {
    const wanted = new Set(addresses)
    for (const [address, peer] of this.peers) {
      if (wanted.has(address)) continue
      this.nsqd.logger.info(`LOOKUP(${address}): removing peer`)
      peer.close()
      this.peers.delete(address)
    }
    for (const address of wanted) {
      if (this.peers.has(address)) continue
      const peer = new LookupPeer(address, () => this.identity(), () => this.snapshot(), this.nsqd.logger,
        this.nsqd.options.lookupdPingInterval)
      this.peers.set(address, peer)
      peer.start()
    }
  }

  private identity (): ReturnType<ConstructorParameters<typeof LookupPeer>[1]> {
    const o = this.nsqd.options
    return {
      version: '1.3.0',
      tcp_port: this.nsqd.broadcastTcpPort,
      http_port: this.nsqd.broadcastHttpPort,
      hostname: this.nsqd.hostname,
      broadcast_address: o.broadcastAddress,
      topology_zone: o.topologyZone,
      topology_region: o.topologyRegion,
    }
  }

  private snapshot (): string[] {
    const lines: string[] = []
    for (const topic of this.nsqd.topics.values()) {
      if (topic.channels.size === 0) lines.push(`REGISTER ${topic.name}`)
      for (const channel of topic.channels.keys()) lines.push(`REGISTER ${topic.name} ${channel}`)
    }
    return lines
  }

  private broadcast (line: string): void {
    for (const peer of this.peers.values()) peer.command(line)
  }

  /**
   * A new topic asks every identified lookupd which channels it has, creates them, and only then lets messages
   * flow, so that no channel of the cluster misses the first messages. Failures are logged; the topic starts anyway.
   */
  async precreateChannels (topic: Topic): Promise<void> {
    const o = this.nsqd.options
    const headers: Record<string, string> = { Accept: 'application/vnd.nsq; version=1.0' }
    if (o.lookupdHttpBearerToken !== '') headers.Authorization = `Bearer ${o.lookupdHttpBearerToken}`
    const queries = [...this.peers.values()].filter((p) => p.info !== undefined).map(async (peer) => {
      const info = peer.info as NonNullable<typeof peer.info>
      const url = `http://${joinHostPort(info.broadcast_address, info.http_port)}/channels?topic=${encodeURIComponent(topic.name)}`
      this.nsqd.logger.info(`CI: querying nsqlookupd ${url}`)
      const res = await fetch(url, {
        headers,
        signal: AbortSignal.timeout(o.httpClientConnectTimeout + o.httpClientRequestTimeout),
      })
      if (!res.ok) throw new Error(`${url} answered ${res.status}`)
      const body = await res.json() as { channels?: unknown }
      return Array.isArray(body.channels) ? body.channels.filter((c): c is string => typeof c === 'string') : []
    })
    for (const result of await Promise.allSettled(queries)) {
      if (result.status === 'rejected') {
        this.nsqd.logger.error(`CI: failed to query nsqlookupd - ${String(result.reason)}`)
        continue
      }
      for (const name of result.value) {
        if (!isEphemeral(name) && !topic.exiting) topic.getChannel(name)
      }
    }
  }

  close (): void {
    this.unsubscribe?.()
    for (const peer of this.peers.values()) peer.close()
    this.peers.clear()
  }
}
