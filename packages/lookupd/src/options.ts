import { hostname } from 'node:os'
import { isLogLevel, hostAndPort, type LogLevelName } from '@nsqts/protocol'

/** nsqlookupd's settings. Durations are in milliseconds; addresses are NSQ's `host:port` (port 0 picks a free port). */
export interface LookupdOptions {
  /** Where nsqd peers connect (TCP protocol V1). */
  tcpAddress: string
  /** The HTTP API. */
  httpAddress: string
  /** The address this lookupd reports about itself in IDENTIFY answers. */
  broadcastAddress: string
  /** A producer whose last PING (or IDENTIFY) is older than this is left out of /lookup and /nodes. */
  inactiveProducerTimeout: number
  /** How long a tombstoned topic producer is left out of /lookup. */
  tombstoneLifetime: number
  logLevel: LogLevelName
  logPrefix: string
  /**
   * The largest IDENTIFY body and command line accepted, in bytes. NSQ's nsqlookupd has no bound and buffers
   * whatever a peer announces; a bound keeps one bad peer from exhausting memory.
   */
  maxBodySize: number
  /**
   * nsqts only (--http-bearer-token): when set, the HTTP API answers 401 to requests without
   * `Authorization: Bearer <token>` (except /ping). NSQ's API is open to anyone who can reach it.
   */
  httpBearerToken: string
}

export const defaultLookupdOptions: Readonly<LookupdOptions> = Object.freeze({
  tcpAddress: '0.0.0.0:4160',
  httpAddress: '0.0.0.0:4161',
  broadcastAddress: hostname(),
  inactiveProducerTimeout: 300_000,
  tombstoneLifetime: 45_000,
  logLevel: 'info',
  logPrefix: '[nsqlookupd] ',
  maxBodySize: 5 * 1024 * 1024,
  httpBearerToken: '',
})

export interface HostPort {
  host: string
  port: number
}

/** Fills in defaults and checks every value, so that a bad option fails the constructor rather than start(). */
export function resolveLookupdOptions (partial: Partial<LookupdOptions>): LookupdOptions {
  const options: LookupdOptions = { ...defaultLookupdOptions }
  for (const [key, value] of Object.entries(partial) as Array<[keyof LookupdOptions, unknown]>) {
    if (value !== undefined && key in defaultLookupdOptions) {
      (options as unknown as Record<string, unknown>)[key] = value
    }
  }
  // Listen addresses: an empty host means every interface.
  hostAndPort(options.tcpAddress)
  hostAndPort(options.httpAddress)
  if (typeof options.broadcastAddress !== 'string') throw new Error('broadcastAddress must be a string')
  for (const key of ['inactiveProducerTimeout', 'tombstoneLifetime'] as const) {
    if (typeof options[key] !== 'number' || !Number.isFinite(options[key])) throw new Error(`${key} must be a finite number of ms`)
  }
  if (!Number.isInteger(options.maxBodySize) || options.maxBodySize < 1 || options.maxBodySize > 0x7fffffff) {
    throw new Error(`maxBodySize must be an integer in 1..${0x7fffffff}`)
  }
  if (!isLogLevel(options.logLevel)) throw new Error(`invalid log level ${String(options.logLevel)}`)
  if (typeof options.logPrefix !== 'string') throw new Error('logPrefix must be a string')
  if (typeof options.httpBearerToken !== 'string') throw new Error('httpBearerToken must be a string')
  return options
}
