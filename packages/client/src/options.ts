import os from 'node:os'
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls'
import { silentLogger } from '@nsqts/protocol'
import type { Logger } from '@nsqts/protocol'

export const CLIENT_VERSION = '0.1.0'

/**
 * Options of every nsqd TCP connection, shared by Producer and Consumer. Durations are milliseconds. Defaults follow
 * go-nsq; where a value is sent in IDENTIFY, 0 means "nsqd's default".
 */
export interface ConnectionOptions {
  /** Give up a TCP connect after this long. Default 1000. */
  dialTimeoutMs?: number
  /** Drop a connection that received nothing for this long; must exceed heartbeatIntervalMs. Default 60000. */
  readTimeoutMs?: number
  /** Drop a connection whose writes have been stalled (socket buffer not draining) for this long. Default 1000. */
  writeTimeoutMs?: number
  /** How often nsqd sends heartbeats (IDENTIFY heartbeat_interval); -1 disables them (then SUB is refused). Default 30000. */
  heartbeatIntervalMs?: number
  /** IDENTIFY client_id. Default: the short host name. */
  clientId?: string
  /** IDENTIFY hostname. Default: os.hostname(). */
  hostname?: string
  /** IDENTIFY user_agent. Default `nsqts/<version>`. */
  userAgent?: string
  /** Server-side in-flight timeout for messages sent to this client (IDENTIFY msg_timeout). Default 0 (nsqd's, 60 s). */
  msgTimeoutMs?: number
  /** nsqd's output buffer for this client in bytes; -1 disables buffering. Default 0 (nsqd's, 16 KiB). */
  outputBufferSize?: number
  /** How long nsqd may hold buffered messages; -1 disables timed flushes. Default 0 (nsqd's, 250 ms). */
  outputBufferTimeoutMs?: number
  /** Deliver only this percentage (1-99) of the channel's messages to this client; 0 delivers all. Default 0. */
  sampleRate?: number
  /**
   * Negotiate TLS (IDENTIFY tls_v1), then wrap the socket with node:tls. `true` uses Node's defaults (certificate
   * verified against the dialled host name); an object is passed to tls.connect. The connection fails if nsqd does
   * not enable TLS, rather than silently staying in plain text. Default false.
   */
  tls?: boolean | TlsConnectionOptions
  /** Negotiate snappy compression (framed format). Not together with deflate. Default false. */
  snappy?: boolean
  /** Negotiate raw DEFLATE compression. Not together with snappy. Default false. */
  deflate?: boolean
  /** DEFLATE level 1-9; nsqd clamps it to its --max-deflate-level. Default 6. */
  deflateLevel?: number
  /** Sent with AUTH when nsqd says auth_required. Default: none (connecting to such an nsqd fails). */
  authSecret?: string
  /** Refuse frames larger than this many bytes; 0 accepts any size. Default 0. */
  maxMsgSize?: number
  /** Where the client logs. Default: silent. */
  logger?: Logger
}

export type ResolvedConnectionOptions = Required<Omit<ConnectionOptions, 'authSecret' | 'tls'>> & {
  authSecret: string | undefined
  tls: TlsConnectionOptions | undefined
}

export function checkInteger (name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${value}`)
  }
  return value
}

export function checkNumber (name: string, value: number, min: number, max: number): number {
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new RangeError(`${name} must be a number in [${min}, ${max}], got ${value}`)
  }
  return value
}

const MINUTE = 60_000

export function resolveConnectionOptions (options: ConnectionOptions = {}): ResolvedConnectionOptions {
  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 30_000
  if (heartbeatIntervalMs !== -1) checkInteger('heartbeatIntervalMs', heartbeatIntervalMs, 1000, MINUTE)
  const readTimeoutMs = checkInteger('readTimeoutMs', options.readTimeoutMs ?? MINUTE, 100, 5 * MINUTE)
  if (heartbeatIntervalMs !== -1 && readTimeoutMs <= heartbeatIntervalMs) {
    throw new RangeError(`readTimeoutMs (${readTimeoutMs}) must be greater than heartbeatIntervalMs (${heartbeatIntervalMs})`)
  }
  const outputBufferSize = options.outputBufferSize ?? 0
  if (outputBufferSize !== -1) checkInteger('outputBufferSize', outputBufferSize, 0, 64 * 1024)
  const outputBufferTimeoutMs = options.outputBufferTimeoutMs ?? 0
  if (outputBufferTimeoutMs !== -1) checkInteger('outputBufferTimeoutMs', outputBufferTimeoutMs, 0, 30_000)
  const snappy = options.snappy ?? false
  const deflate = options.deflate ?? false
  if (snappy && deflate) throw new RangeError('snappy and deflate cannot both be enabled')
  const hostname = options.hostname ?? os.hostname()
  return {
    dialTimeoutMs: checkInteger('dialTimeoutMs', options.dialTimeoutMs ?? 1000, 1, 5 * MINUTE),
    readTimeoutMs,
    writeTimeoutMs: checkInteger('writeTimeoutMs', options.writeTimeoutMs ?? 1000, 1, 5 * MINUTE),
    heartbeatIntervalMs,
    clientId: options.clientId ?? hostname.split('.')[0] ?? hostname,
    hostname,
    userAgent: options.userAgent ?? `nsqts/${CLIENT_VERSION}`,
    msgTimeoutMs: checkInteger('msgTimeoutMs', options.msgTimeoutMs ?? 0, 0, 15 * MINUTE),
    outputBufferSize,
    outputBufferTimeoutMs,
    sampleRate: checkInteger('sampleRate', options.sampleRate ?? 0, 0, 99),
    tls: options.tls === true ? {} : options.tls === false ? undefined : options.tls,
    snappy,
    deflate,
    deflateLevel: checkInteger('deflateLevel', options.deflateLevel ?? 6, 1, 9),
    authSecret: options.authSecret,
    maxMsgSize: checkInteger('maxMsgSize', options.maxMsgSize ?? 0, 0, 0x7fffffff),
    logger: options.logger ?? silentLogger,
  }
}
