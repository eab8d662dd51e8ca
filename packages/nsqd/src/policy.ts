import {
  ATTEMPTS_OFFSET, ID_OFFSET, MESSAGE_HEADER_SIZE, MESSAGE_ID_LENGTH,
  formatGoDuration, isEphemeral, isValidTopicName, parseDuration,
  type ChannelPolicy, type PeekedMessage, type TopicPolicy,
} from '@nsqts/protocol'

/**
 * Delivery policies (nsqts only, docs/policies.md): what a channel or topic sets, what is in force once nsqd's flags
 * fill the gaps, and how the HTTP query parameters and the stored metadata map to them. Pure: no I/O, no broker state.
 */

export type TtlAction = 'drop' | 'dead-letter'
export type ChannelOverflow = 'drop-oldest' | 'dead-letter'
export type TopicOverflow = 'drop-oldest' | 'reject'

/** What a channel sets itself. An absent field falls back to nsqd's flags. Durations in ms. */
export interface ChannelPolicySettings {
  maxAttempts?: number
  deadLetterTopic?: string
  ttlMs?: number
  ttlAction?: TtlAction
  maxDepth?: number
  overflow?: ChannelOverflow
}

/** What a topic sets for its own queue. There are no flag defaults for topics. */
export interface TopicPolicySettings {
  ttlMs?: number
  maxDepth?: number
  overflow?: TopicOverflow
}

/** nsqd's flags (--max-attempts, --msg-ttl, --max-channel-depth, --channel-overflow): every channel's defaults. */
export interface ChannelPolicyDefaults {
  maxAttempts: number
  ttlMs: number
  maxDepth: number
  overflow: ChannelOverflow
}

/** Attempts travel as a uint16 on the wire, so no message can be delivered more often than this. */
export const MAX_ATTEMPTS_LIMIT = 65535

/**
 * The policy in force on one channel, in the form the delivery path reads. A channel whose policy does nothing
 * (no attempts limit, no ttl, no depth limit) holds null instead, so that it pays one null check per message.
 */
export interface ActiveChannelPolicy {
  readonly maxAttempts: number
  readonly deadLetterTopic: string
  readonly ttlMs: number
  readonly ttlDeadLetter: boolean
  readonly maxDepth: number
  readonly overflowDeadLetter: boolean
}

export interface ActiveTopicPolicy {
  readonly ttlMs: number
  readonly maxDepth: number
  /** max_depth is set and a full topic refuses publishes (else it drops its oldest). */
  readonly reject: boolean
}

/**
 * The default dead-letter topic: `<topic>.dead`, with an ephemeral topic's suffix kept last so that the name stays
 * valid (`orders#ephemeral` -> `orders.dead#ephemeral`). May be too long to be valid for a long topic name.
 */
export function defaultDeadLetterTopic (topic: string): string {
  const suffix = '#ephemeral'
  return isEphemeral(topic) ? `${topic.slice(0, -suffix.length)}.dead${suffix}` : `${topic}.dead`
}

function channelFields (
  own: ChannelPolicySettings, defaults: ChannelPolicyDefaults, topic: string,
): Required<ChannelPolicySettings> {
  return {
    maxAttempts: own.maxAttempts ?? defaults.maxAttempts,
    deadLetterTopic: own.deadLetterTopic ?? defaultDeadLetterTopic(topic),
    ttlMs: own.ttlMs ?? defaults.ttlMs,
    ttlAction: own.ttlAction ?? 'drop',
    maxDepth: own.maxDepth ?? defaults.maxDepth,
    overflow: own.overflow ?? defaults.overflow,
  }
}

/** The channel's policy in force, or null when it changes nothing about delivery. */
export function activeChannelPolicy (
  own: ChannelPolicySettings, defaults: ChannelPolicyDefaults, topic: string,
): ActiveChannelPolicy | null {
  const f = channelFields(own, defaults, topic)
  if (f.maxAttempts === 0 && f.ttlMs === 0 && f.maxDepth === 0) return null
  return {
    maxAttempts: f.maxAttempts,
    deadLetterTopic: f.deadLetterTopic,
    ttlMs: f.ttlMs,
    ttlDeadLetter: f.ttlAction === 'dead-letter',
    maxDepth: f.maxDepth,
    overflowDeadLetter: f.overflow === 'dead-letter',
  }
}

export function activeTopicPolicy (own: TopicPolicySettings): ActiveTopicPolicy | null {
  const ttlMs = own.ttlMs ?? 0
  const maxDepth = own.maxDepth ?? 0
  if (ttlMs === 0 && maxDepth === 0) return null
  return { ttlMs, maxDepth, reject: maxDepth > 0 && (own.overflow ?? 'reject') === 'reject' }
}

const ttlText = (ms: number): string => (ms === 0 ? '' : formatGoDuration(ms * 1e6))

/** The HTTP and /stats form of a channel's policy in force. */
export function channelPolicyJson (
  own: ChannelPolicySettings, defaults: ChannelPolicyDefaults, topic: string,
): ChannelPolicy {
  const f = channelFields(own, defaults, topic)
  return {
    max_attempts: f.maxAttempts,
    dead_letter_topic: f.deadLetterTopic,
    ttl: ttlText(f.ttlMs),
    ttl_action: f.ttlAction,
    max_depth: f.maxDepth,
    overflow: f.overflow,
  }
}

export function topicPolicyJson (own: TopicPolicySettings): TopicPolicy {
  return { ttl: ttlText(own.ttlMs ?? 0), max_depth: own.maxDepth ?? 0, overflow: own.overflow ?? 'reject' }
}

export function isEmptySettings (own: ChannelPolicySettings | TopicPolicySettings): boolean {
  return Object.keys(own).length === 0
}

// ---- HTTP query parameters ----

export type PolicyErrorText =
  | 'INVALID_MAX_ATTEMPTS' | 'INVALID_DEAD_LETTER_TOPIC' | 'INVALID_TTL' | 'INVALID_TTL_ACTION'
  | 'INVALID_MAX_DEPTH' | 'INVALID_OVERFLOW'

/** A bad policy parameter: answered 400 with `text` as the message; nothing is changed. */
export class PolicyError extends Error {
  constructor (readonly text: PolicyErrorText) {
    super(text)
    this.name = 'PolicyError'
  }
}

/** Reads one query parameter (the first value, as Go's Values.Get); undefined when absent. */
export type QueryGetter = (key: string) => string | undefined

/**
 * A change: for each field, undefined leaves it as it is, null clears it (back to the flag default), a value sets
 * it. A parameter given as `0` or empty clears.
 */
export type Patch<T> = { [K in keyof Required<T>]: Required<T>[K] | null | undefined }

function count (text: string, max: number, error: PolicyErrorText): number | null {
  if (text === '') return null
  if (!/^\d+$/.test(text)) throw new PolicyError(error)
  const n = Number(text)
  if (n > max) throw new PolicyError(error)
  return n === 0 ? null : n
}

/** A Go duration with its unit (Go's time.ParseDuration refuses "30" but takes "0"); zero clears. */
function ttl (text: string): number | null {
  if (text === '' || text === '0') return null
  if (/^[+-]?\d+(\.\d+)?$/.test(text)) throw new PolicyError('INVALID_TTL')
  const ms = parseDuration(text.startsWith('+') ? text.slice(1) : text)
  if (ms === undefined || ms < 0 || !Number.isFinite(ms)) throw new PolicyError('INVALID_TTL')
  return ms === 0 ? null : ms
}

function oneOf<T extends string> (text: string, allowed: readonly T[], error: PolicyErrorText): T | null {
  if (text === '') return null
  if (!(allowed as readonly string[]).includes(text)) throw new PolicyError(error)
  return text as T
}

function field<T> (get: QueryGetter, key: string, parse: (text: string) => T | null): T | null | undefined {
  const text = get(key)
  return text === undefined ? undefined : parse(text)
}

/**
 * POST /channel/policy's parameters, checked in the order of the contract (max_attempts, dead_letter_topic, ttl,
 * ttl_action, max_depth, overflow): the first bad one is the error. A dead-letter topic must be a valid topic name
 * other than the channel's own topic, which would feed the message back to this channel.
 */
export function parseChannelPolicyQuery (get: QueryGetter, topic: string): Patch<ChannelPolicySettings> {
  return {
    maxAttempts: field(get, 'max_attempts', (t) => count(t, MAX_ATTEMPTS_LIMIT, 'INVALID_MAX_ATTEMPTS')),
    deadLetterTopic: field(get, 'dead_letter_topic', (t) => {
      if (t === '') return null
      if (!isValidTopicName(t) || t === topic) throw new PolicyError('INVALID_DEAD_LETTER_TOPIC')
      return t
    }),
    ttlMs: field(get, 'ttl', ttl),
    ttlAction: field(get, 'ttl_action', (t) => oneOf<TtlAction>(t, ['drop', 'dead-letter'], 'INVALID_TTL_ACTION')),
    maxDepth: field(get, 'max_depth', (t) => count(t, Number.MAX_SAFE_INTEGER, 'INVALID_MAX_DEPTH')),
    overflow: field(get, 'overflow', (t) => oneOf<ChannelOverflow>(t, ['drop-oldest', 'dead-letter'], 'INVALID_OVERFLOW')),
  }
}

/** POST /topic/policy's parameters (ttl, max_depth, overflow). A topic has no dead-letter topic. */
export function parseTopicPolicyQuery (get: QueryGetter): Patch<TopicPolicySettings> {
  return {
    ttlMs: field(get, 'ttl', ttl),
    maxDepth: field(get, 'max_depth', (t) => count(t, Number.MAX_SAFE_INTEGER, 'INVALID_MAX_DEPTH')),
    overflow: field(get, 'overflow', (t) => oneOf<TopicOverflow>(t, ['drop-oldest', 'reject'], 'INVALID_OVERFLOW')),
  }
}

/** The settings after a change; the input is not modified. */
export function applyPatch<T extends object> (own: T, patch: Patch<T>): T {
  const out = { ...own } as Record<string, unknown>
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key]
    else if (value !== undefined) out[key] = value
  }
  return out as T
}

/**
 * Whether the dead-letter topic in force can be used: the default `<topic>.dead` of a long topic name is not a
 * valid name. Checked when a change makes the channel dead-letter anything.
 */
export function deadLetterTopicUsable (
  own: ChannelPolicySettings, defaults: ChannelPolicyDefaults, topic: string,
): boolean {
  const f = channelFields(own, defaults, topic)
  const deadLetters = f.maxAttempts > 0 || (f.ttlMs > 0 && f.ttlAction === 'dead-letter') || (f.maxDepth > 0 && f.overflow === 'dead-letter')
  return !deadLetters || (isValidTopicName(f.deadLetterTopic) && f.deadLetterTopic !== topic)
}

// ---- stored form (with the topic's or channel's metadata) ----

/** The stored form: the HTTP names, ttl in ms. Only the fields set are stored. */
export function settingsToStored (own: ChannelPolicySettings | TopicPolicySettings): Record<string, string | number> {
  const out: Record<string, string | number> = {}
  const o = own as ChannelPolicySettings
  if (o.maxAttempts !== undefined) out.max_attempts = o.maxAttempts
  if (o.deadLetterTopic !== undefined) out.dead_letter_topic = o.deadLetterTopic
  if (o.ttlMs !== undefined) out.ttl_ms = o.ttlMs
  if (o.ttlAction !== undefined) out.ttl_action = o.ttlAction
  if (o.maxDepth !== undefined) out.max_depth = o.maxDepth
  if (o.overflow !== undefined) out.overflow = o.overflow
  return out
}

const positiveInt = (v: unknown, max: number): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0 && v <= max

/**
 * Reads a stored policy back. A field that is not what nsqd would have stored is left out (the flag default applies)
 * rather than refusing the queue: stored metadata is never a reason not to start.
 */
export function channelSettingsFromStored (stored: unknown): ChannelPolicySettings {
  if (typeof stored !== 'object' || stored === null) return {}
  const s = stored as Record<string, unknown>
  const out: ChannelPolicySettings = {}
  if (positiveInt(s.max_attempts, MAX_ATTEMPTS_LIMIT)) out.maxAttempts = s.max_attempts
  if (typeof s.dead_letter_topic === 'string' && isValidTopicName(s.dead_letter_topic)) out.deadLetterTopic = s.dead_letter_topic
  if (typeof s.ttl_ms === 'number' && s.ttl_ms > 0 && Number.isFinite(s.ttl_ms)) out.ttlMs = s.ttl_ms
  if (s.ttl_action === 'drop' || s.ttl_action === 'dead-letter') out.ttlAction = s.ttl_action
  if (positiveInt(s.max_depth, Number.MAX_SAFE_INTEGER)) out.maxDepth = s.max_depth
  if (s.overflow === 'drop-oldest' || s.overflow === 'dead-letter') out.overflow = s.overflow
  return out
}

export function topicSettingsFromStored (stored: unknown): TopicPolicySettings {
  if (typeof stored !== 'object' || stored === null) return {}
  const s = stored as Record<string, unknown>
  const out: TopicPolicySettings = {}
  if (typeof s.ttl_ms === 'number' && s.ttl_ms > 0 && Number.isFinite(s.ttl_ms)) out.ttlMs = s.ttl_ms
  if (positiveInt(s.max_depth, Number.MAX_SAFE_INTEGER)) out.maxDepth = s.max_depth
  if (s.overflow === 'drop-oldest' || s.overflow === 'reject') out.overflow = s.overflow
  return out
}

// ---- peek ----

/** A stored message ([8 ts][2 attempts][16 id][body]) as GET /channel/peek lists it. */
export function peekedMessage (record: Buffer): PeekedMessage {
  const body = record.subarray(MESSAGE_HEADER_SIZE)
  const text = body.toString('utf8')
  // Valid UTF-8 round-trips; anything else comes back with replacement characters.
  const utf8 = Buffer.from(text, 'utf8').equals(body)
  return {
    id: record.toString('latin1', ID_OFFSET, ID_OFFSET + MESSAGE_ID_LENGTH),
    timestamp: Number(record.readBigInt64BE(0)),
    attempts: record.readUInt16BE(ATTEMPTS_OFFSET),
    body: utf8 ? text : body.toString('base64'),
    body_encoding: utf8 ? 'utf8' : 'base64',
  }
}
