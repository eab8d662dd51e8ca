import { NsqError, isValidTopicName } from '@nsqts/protocol'
import { parseAddress } from './address.js'
import type { Address, AddressLike } from './address.js'
import type { BackoffOptions, BackoffStrategy } from './backoff.js'
import type { Message } from './message.js'
import { checkInteger, checkNumber, resolveConnectionOptions } from './options.js'
import type { ConnectionOptions, ResolvedConnectionOptions } from './options.js'

/** Consumer options. Durations are milliseconds; every default is listed in the package README. */
export interface ConsumerOptions extends ConnectionOptions {
  /** nsqlookupd HTTP addresses (`host:port` or URL), all queried on every poll. */
  lookupdHttpAddresses?: string | readonly string[]
  /** nsqd TCP addresses to connect to directly, reconnected when lost. */
  nsqdTcpAddresses?: AddressLike | readonly AddressLike[]
  /** Messages in flight at once over all connections. 0 pauses. Default 1. */
  maxInFlight?: number
  /** A message delivered more often than this is discarded instead of handled; 0 = no limit. Default 0. */
  maxAttempts?: number
  /** Called for a message that exceeded maxAttempts, before it is finished; if it throws, the message is requeued. */
  onDiscard?: (message: Message) => void | Promise<void>
  /** Publish messages that exceeded maxAttempts to this topic (on the nsqd they came from) before finishing them. */
  deadLetterTopic?: string
  /** Requeue delay when none is given: this × attempts. Default 90000. */
  requeueDelayMs?: number
  /** Cap of the default requeue delay. Default 900000. */
  maxRequeueDelayMs?: number
  /** Default 'exponential'. */
  backoffStrategy?: BackoffStrategy
  /** Backoff window = this × 2^level. Default 1000. */
  backoffMultiplierMs?: number
  /** Cap of a backoff window. Default 120000. */
  maxBackoffDurationMs?: number
  /** Default 60000. */
  lookupdPollIntervalMs?: number
  /** Each poll comes up to this fraction of the interval early, so consumers do not poll in step. Default 0.3. */
  lookupdPollJitter?: number
  /** Timeout of one lookupd query. Default 60000. */
  lookupdPollTimeoutMs?: number
  /** Send `Authorization: Bearer <authSecret>` to nsqlookupd when authSecret is set. Default true. */
  lookupdAuthorization?: boolean
  /**
   * nsqts: sent as `Authorization: Bearer <token>` on every lookupd query, for nsqlookupds started with
   * --http-bearer-token. Their token is not nsqd's AUTH secret, so this one wins over authSecret there. Empty or
   * absent: no such header.
   */
  lookupdHttpBearerToken?: string
  /** With more connections than maxInFlight, a connection idle this long gives its RDY to another. Default 10000. */
  lowRdyIdleTimeoutMs?: number
  /** ... and one holding RDY this long too. Default 30000. */
  lowRdyTimeoutMs?: number
  /** How often RDY is redistributed when that is needed. Default 5000. */
  rdyRedistributeIntervalMs?: number
  /** How long close() waits for in-flight messages to be answered. Default 30000. */
  closeTimeoutMs?: number
}

/** The lookupd side of the options: where and how the consumer polls. */
export interface LookupdPollSettings {
  addresses: string[]
  intervalMs: number
  jitter: number
  timeoutMs: number
  headers: Record<string, string> | undefined
  bearerToken: string | undefined
}

/** ConsumerOptions checked, with every default filled in. */
export interface ConsumerSettings {
  connection: ResolvedConnectionOptions
  lookupd: LookupdPollSettings
  nsqdAddresses: Address[]
  maxInFlight: number
  maxAttempts: number
  onDiscard: ((message: Message) => void | Promise<void>) | undefined
  deadLetterTopic: string | undefined
  requeueDelayMs: number
  maxRequeueDelayMs: number
  redistributeIntervalMs: number
  closeTimeoutMs: number
  backoff: BackoffOptions
  lowRdyIdleTimeoutMs: number
  lowRdyTimeoutMs: number
}

/** Checks every option (RangeError / TypeError / NsqError naming the option) and fills in the defaults. */
export function resolveConsumerOptions (options: ConsumerOptions): ConsumerSettings {
  const connection = resolveConnectionOptions(options)
  if (connection.heartbeatIntervalMs === -1) throw new RangeError('a consumer needs heartbeats: nsqd refuses SUB with heartbeatIntervalMs -1')

  const lookupdAddresses = toList<string>(options.lookupdHttpAddresses)
  const nsqdAddresses = toList<AddressLike>(options.nsqdTcpAddresses).map(parseAddress)
  if (lookupdAddresses.length === 0 && nsqdAddresses.length === 0) {
    throw new TypeError('Consumer needs lookupdHttpAddresses or nsqdTcpAddresses')
  }
  const pollTimeoutMs = checkInteger('lookupdPollTimeoutMs', options.lookupdPollTimeoutMs ?? 60_000, 1, 300_000)
  const authHeader = options.lookupdAuthorization !== false && connection.authSecret !== undefined
    ? { authorization: `Bearer ${connection.authSecret}` }
    : undefined

  const maxInFlight = checkInteger('maxInFlight', options.maxInFlight ?? 1, 0, 1_000_000)
  const maxAttempts = checkInteger('maxAttempts', options.maxAttempts ?? 0, 0, 65535)
  const deadLetterTopic = options.deadLetterTopic
  if (deadLetterTopic !== undefined && !isValidTopicName(deadLetterTopic)) {
    throw new NsqError('E_BAD_TOPIC', `deadLetterTopic ${JSON.stringify(deadLetterTopic)} is not a valid topic name`)
  }
  const requeueDelayMs = checkInteger('requeueDelayMs', options.requeueDelayMs ?? 90_000, 0, 3_600_000)
  const maxRequeueDelayMs = checkInteger('maxRequeueDelayMs', options.maxRequeueDelayMs ?? 900_000, 0, 3_600_000)
  const pollIntervalMs = checkInteger('lookupdPollIntervalMs', options.lookupdPollIntervalMs ?? 60_000, 10, 300_000)
  const pollJitter = checkNumber('lookupdPollJitter', options.lookupdPollJitter ?? 0.3, 0, 1)
  const redistributeIntervalMs = checkInteger('rdyRedistributeIntervalMs', options.rdyRedistributeIntervalMs ?? 5000, 1, 5000)
  const closeTimeoutMs = checkInteger('closeTimeoutMs', options.closeTimeoutMs ?? 30_000, 0, 3_600_000)
  const backoff: BackoffOptions = {
    strategy: options.backoffStrategy ?? 'exponential',
    multiplierMs: checkInteger('backoffMultiplierMs', options.backoffMultiplierMs ?? 1000, 1, 3_600_000),
    maxDurationMs: checkInteger('maxBackoffDurationMs', options.maxBackoffDurationMs ?? 120_000, 1, 3_600_000),
  }
  return {
    connection,
    lookupd: {
      addresses: lookupdAddresses,
      intervalMs: pollIntervalMs,
      jitter: pollJitter,
      timeoutMs: pollTimeoutMs,
      headers: authHeader,
      bearerToken: options.lookupdHttpBearerToken,
    },
    nsqdAddresses,
    maxInFlight,
    maxAttempts,
    onDiscard: options.onDiscard,
    deadLetterTopic,
    requeueDelayMs,
    maxRequeueDelayMs,
    redistributeIntervalMs,
    closeTimeoutMs,
    backoff,
    lowRdyIdleTimeoutMs: checkInteger('lowRdyIdleTimeoutMs', options.lowRdyIdleTimeoutMs ?? 10_000, 1, 3_600_000),
    lowRdyTimeoutMs: checkInteger('lowRdyTimeoutMs', options.lowRdyTimeoutMs ?? 30_000, 1, 3_600_000),
  }
}

function toList<T> (value: T | readonly T[] | undefined): T[] {
  if (value === undefined) return []
  return Array.isArray(value) ? [...value as readonly T[]] : [value as T]
}
