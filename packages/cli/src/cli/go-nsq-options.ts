import { readFileSync } from 'node:fs'
import type { ConsumerOptions, ProducerOptions } from '@nsqts/client'
import type { SecureVersion } from 'node:tls'
import { CliError, parseGoBool } from './program.js'
import { parseDuration } from '@nsqts/protocol'

type Kind = 'duration' | 'int' | 'float' | 'bool' | 'string'

interface OptSpec {
  readonly kind: Kind
  /** Our client's option; undefined for the TLS settings, which are gathered into one `tls` object. */
  readonly key?: keyof ConsumerOptions
  /** Consumer-only options are accepted by --producer-opt too (go-nsq shares one Config) and have no effect there. */
  readonly consumer?: true
}

/**
 * go-nsq's Config names (config.go) for --consumer-opt / --producer-opt, onto the @nsqts/client options. Durations
 * take Go's syntax (`5s`) or milliseconds, as go-nsq's Config.Set does.
 */
const OPTIONS: Record<string, OptSpec> = {
  dial_timeout: { kind: 'duration', key: 'dialTimeoutMs' },
  read_timeout: { kind: 'duration', key: 'readTimeoutMs' },
  write_timeout: { kind: 'duration', key: 'writeTimeoutMs' },
  heartbeat_interval: { kind: 'duration', key: 'heartbeatIntervalMs' },
  client_id: { kind: 'string', key: 'clientId' },
  hostname: { kind: 'string', key: 'hostname' },
  user_agent: { kind: 'string', key: 'userAgent' },
  msg_timeout: { kind: 'duration', key: 'msgTimeoutMs' },
  output_buffer_size: { kind: 'int', key: 'outputBufferSize' },
  output_buffer_timeout: { kind: 'duration', key: 'outputBufferTimeoutMs' },
  sample_rate: { kind: 'int', key: 'sampleRate' },
  snappy: { kind: 'bool', key: 'snappy' },
  deflate: { kind: 'bool', key: 'deflate' },
  deflate_level: { kind: 'int', key: 'deflateLevel' },
  auth_secret: { kind: 'string', key: 'authSecret' },
  max_msg_size: { kind: 'int', key: 'maxMsgSize' },
  tls_v1: { kind: 'bool' },
  tls_root_ca_file: { kind: 'string' },
  tls_cert: { kind: 'string' },
  tls_key: { kind: 'string' },
  tls_insecure_skip_verify: { kind: 'bool' },
  tls_min_version: { kind: 'string' },
  max_in_flight: { kind: 'int', key: 'maxInFlight', consumer: true },
  max_attempts: { kind: 'int', key: 'maxAttempts', consumer: true },
  default_requeue_delay: { kind: 'duration', key: 'requeueDelayMs', consumer: true },
  max_requeue_delay: { kind: 'duration', key: 'maxRequeueDelayMs', consumer: true },
  backoff_strategy: { kind: 'string', key: 'backoffStrategy', consumer: true },
  backoff_multiplier: { kind: 'duration', key: 'backoffMultiplierMs', consumer: true },
  max_backoff_duration: { kind: 'duration', key: 'maxBackoffDurationMs', consumer: true },
  lookupd_poll_interval: { kind: 'duration', key: 'lookupdPollIntervalMs', consumer: true },
  lookupd_poll_jitter: { kind: 'float', key: 'lookupdPollJitter', consumer: true },
  lookupd_poll_timeout: { kind: 'duration', key: 'lookupdPollTimeoutMs', consumer: true },
  // go-nsq's field behind this name is LookupdAuthorization and the value is stored as given: true sends the header.
  skip_lookupd_authorization: { kind: 'bool', key: 'lookupdAuthorization', consumer: true },
  low_rdy_idle_timeout: { kind: 'duration', key: 'lowRdyIdleTimeoutMs', consumer: true },
  low_rdy_timeout: { kind: 'duration', key: 'lowRdyTimeoutMs', consumer: true },
  rdy_redistribute_interval: { kind: 'duration', key: 'rdyRedistributeIntervalMs', consumer: true },
}

/** Hints the client cannot send; accepting them with a warning keeps NSQ command lines working. */
const IGNORED = new Set(['topology_region', 'topology_zone'])

/** go-nsq names tls_min_version values after the protocol; Node after its wire name. */
const TLS_VERSIONS: Record<string, SecureVersion> = {
  'tls1.0': 'TLSv1', 'tls1.1': 'TLSv1.1', 'tls1.2': 'TLSv1.2', 'tls1.3': 'TLSv1.3',
}

/** The defaults go-nsq gives every tool and our client does not: NSQ's tools give up on a message after 5 attempts. */
export const GO_NSQ_CONSUMER_DEFAULTS: ConsumerOptions = { maxAttempts: 5 }

/**
 * Converts repeatable `name,value` options (a bare `name` means true, as in NSQ's tools) into client options. Unknown
 * names, bad values and settings the client cannot honour are CliErrors: silently dropping a TLS or auth setting
 * would be worse than refusing to start.
 */
export function consumerOptions (opts: readonly string[], warn?: (message: string) => void): ConsumerOptions {
  return parseGoNsqOptions('consumer-opt', opts, 'consumer', warn)
}

export function producerOptions (opts: readonly string[], warn?: (message: string) => void): ProducerOptions {
  return parseGoNsqOptions('producer-opt', opts, 'producer', warn)
}

function parseGoNsqOptions (flag: string, opts: readonly string[], role: 'consumer' | 'producer', warn?: (message: string) => void): ConsumerOptions {
  const out: Record<string, unknown> = {}
  const tls: Record<string, unknown> = {}
  let tlsEnabled = false
  for (const opt of opts) {
    const comma = opt.indexOf(',')
    const name = (comma === -1 ? opt : opt.slice(0, comma)).trim()
    const text = comma === -1 ? 'true' : opt.slice(comma + 1)
    const bad = (why: string): never => { throw new CliError(`--${flag} ${JSON.stringify(opt)}: ${why}`) }
    if (IGNORED.has(name)) {
      warn?.(`--${flag} ${name} is not supported by the nsqts client and is ignored`)
      continue
    }
    if (name === 'local_addr' || name === 'tls_config') bad('not supported by the nsqts client')
    // Own keys only: a plain lookup would find `constructor` and `__proto__` on Object.prototype.
    const spec = Object.hasOwn(OPTIONS, name) ? OPTIONS[name] as OptSpec : bad('unknown option (see go-nsq Config)')
    const value = convert(spec.kind, text) ?? bad(`invalid ${spec.kind} value ${JSON.stringify(text)}`)
    if (spec.key === undefined) {
      switch (name) {
        case 'tls_v1': tlsEnabled = value as boolean; break
        case 'tls_insecure_skip_verify': tls.rejectUnauthorized = !(value as boolean); break
        case 'tls_min_version': {
          const version = (value as string).toLowerCase()
          tls.minVersion = Object.hasOwn(TLS_VERSIONS, version) ? TLS_VERSIONS[version] : bad('expected tls1.0, tls1.1, tls1.2 or tls1.3')
          break
        }
        default: tls[{ tls_root_ca_file: 'ca', tls_cert: 'cert', tls_key: 'key' }[name]!] = readFile(value as string, bad)
      }
      continue
    }
    if (spec.consumer === true && role === 'producer') continue
    if (name === 'backoff_strategy') {
      if (value === 'exponential') out.backoffStrategy = 'exponential'
      else if (value === 'full_jitter') out.backoffStrategy = 'full-jitter'
      else bad('expected exponential or full_jitter')
      continue
    }
    out[spec.key] = value
  }
  // go-nsq turns TLS on when any TLS file or setting is given; so does the client when it gets an options object.
  if (Object.keys(tls).length > 0) out.tls = tls
  else if (tlsEnabled) out.tls = true
  return out as ConsumerOptions
}

function convert (kind: Kind, text: string): unknown {
  switch (kind) {
    case 'string': return text
    case 'bool': return parseGoBool(text)
    case 'int': return /^[-+]?\d+$/.test(text.trim()) ? Number(text) : undefined
    case 'float': {
      const n = Number(text)
      return text.trim() !== '' && Number.isFinite(n) ? n : undefined
    }
    case 'duration': {
      const ms = parseDuration(text)
      return ms !== undefined && Number.isFinite(ms) ? Math.round(ms) : undefined
    }
  }
}

function readFile (path: string, bad: (why: string) => never): Buffer {
  try {
    return readFileSync(path)
  } catch (err) {
    return bad(`cannot read ${path}: ${(err as Error).message}`)
  }
}
