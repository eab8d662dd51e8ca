import type { Logger } from '@nsqts/protocol'
import type { Address } from '../nsqd.js'
import type { NsqdOptions } from '../options.js'
import type { Topic } from '../topic.js'
import type { ChannelPolicyDefaults } from '../policy.js'
import type { PendingWrite } from '../backend/types.js'
import type { StoreDamage } from '../backend/level/store.js'
import type { StatsSource } from '../stats.js'

/**
 * What the HTTP API needs of the broker (nsqd.ts implements it): http/ sees these members, not the whole NSQD.
 * Types only, as tcp/broker.ts, so the broker and its API never load each other in a circle.
 */
export interface HttpBroker extends StatsSource {
  readonly options: NsqdOptions
  readonly logger: Logger
  /** Shutting down: publishes fail with 503 EXITING. */
  readonly isExiting: boolean
  /** Unix seconds, and the monotonic clock's reading, at construction: /stats' start_time and uptime. */
  readonly startTime: number
  readonly startedAtHr: bigint
  readonly hostname: string
  readonly tcpAddress: Address
  readonly httpAddress: Address
  readonly httpsAddress: Address
  readonly broadcastTcpPort: number
  readonly broadcastHttpPort: number
  /** nsqd's policy flags: what a channel that sets none of its own gets. */
  readonly channelPolicyDefaults: ChannelPolicyDefaults
  /** The level store, once open: /stats reports the damage it worked around. */
  readonly store: { readonly damage: StoreDamage } | undefined
  /** The topic, created when missing. */
  getTopic (name: string): Topic
  deleteExistingTopic (name: string): Promise<boolean>
  /** A topic or channel was paused or unpaused: its stored metadata changes. */
  notifyPauseChanged (): void
  /** PUT /config/nsqlookupd_tcp_addresses. */
  setLookupdAddresses (addresses: string[]): void
  /** A position in the store's writes, and the write that stores what came after it (see NSQD.writeMark). */
  writeMark (): number
  writeSince (mark: number): PendingWrite | undefined
}
