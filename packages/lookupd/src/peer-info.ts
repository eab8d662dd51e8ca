import { goWellFormed } from '@nsqts/protocol'
import { goDecodeUtf8 } from './go-text.js'

/** What a peer says about itself in IDENTIFY. Ports are Go ints, so any int64 a peer sends is kept exactly. */
export interface IdentifyFields {
  hostname: string
  broadcastAddress: string
  tcpPort: bigint
  httpPort: bigint
  version: string
}

type FieldName = 'remote_address' | 'hostname' | 'broadcast_address' | 'tcp_port' | 'http_port' | 'version'

const FIELDS: Readonly<Record<FieldName, 'string' | 'int'>> = {
  remote_address: 'string',
  hostname: 'string',
  broadcast_address: 'string',
  tcp_port: 'int',
  http_port: 'int',
  version: 'string',
}
const FIELD_NAMES = Object.keys(FIELDS) as FieldName[]

const INT64_MIN = -(1n << 63n)
const INT64_MAX = (1n << 63n) - 1n

/**
 * Decodes an IDENTIFY body as Go's json.Unmarshal fills nsqlookupd's PeerInfo struct, or returns undefined where Go
 * reports an error (the peer then gets `E_BAD_BODY IDENTIFY failed to decode JSON body`):
 * - the body must be valid JSON, nested at most 10000 deep, whose top level is an object or null;
 * - keys match field names exactly, else case-insensitively (Go's EqualFold); unknown keys are ignored; a repeated
 *   key overwrites;
 * - null leaves a field unset; a string field takes only a JSON string; an int field only an integer literal that
 *   fits in int64 (`1.0` and `1e3` are errors in Go).
 * `remote_address` is type-checked but not returned: nsqlookupd overwrites it with the connection's address.
 */
export function decodeIdentifyBody (body: Buffer): IdentifyFields | undefined {
  const text = goDecodeUtf8(body)
  try {
    JSON.parse(text)
  } catch {
    return undefined
  }
  if (nestingDepth(text) > GO_MAX_NESTING_DEPTH) return undefined
  const fields: IdentifyFields = { hostname: '', broadcastAddress: '', tcpPort: 0n, httpPort: 0n, version: '' }
  const start = skipSpace(text, 0)
  if (text.startsWith('null', start)) return fields
  if (text[start] !== '{') return undefined
  for (const [rawKey, rawValue] of objectMembers(text, start)) {
    const field = matchField(JSON.parse(rawKey) as string)
    if (field === undefined || rawValue === 'null') continue
    if (FIELDS[field] === 'string') {
      if (!rawValue.startsWith('"')) return undefined
      const value = goWellFormed(JSON.parse(rawValue) as string)
      if (field === 'hostname') fields.hostname = value
      else if (field === 'broadcast_address') fields.broadcastAddress = value
      else if (field === 'version') fields.version = value
    } else {
      if (!/^-?(0|[1-9]\d*)$/.test(rawValue)) return undefined
      const value = BigInt(rawValue)
      if (value < INT64_MIN || value > INT64_MAX) return undefined
      if (field === 'tcp_port') fields.tcpPort = value
      else fields.httpPort = value
    }
  }
  return fields
}

function matchField (key: string): FieldName | undefined {
  if (Object.hasOwn(FIELDS, key)) return key as FieldName
  // Go folds the Kelvin sign and the long s onto ASCII k and s; no other non-ASCII letter folds onto ASCII.
  const folded = key.replace(/[A-Z]/g, (c) => c.toLowerCase()).replace(/\u212a/g, 'k').replace(/\u017f/g, 's')
  return FIELD_NAMES.find((name) => name === folded)
}

/** encoding/json refuses documents nested deeper than this (JSON.parse has no such limit). */
const GO_MAX_NESTING_DEPTH = 10_000

/** The deepest nesting of objects and arrays in valid JSON text. */
function nestingDepth (text: string): number {
  let depth = 0
  let max = 0
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c === '"') {
      i = stringEnd(text, i) - 1
    } else if (c === '{' || c === '[') {
      depth++
      if (depth > max) max = depth
    } else if (c === '}' || c === ']') {
      depth--
    }
  }
  return max
}

function skipSpace (text: string, i: number): number {
  while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++
  return i
}

/** The end (exclusive) of the JSON string starting at i. The text is known to be valid JSON. */
function stringEnd (text: string, i: number): number {
  let j = i + 1
  while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1
  return j + 1
}

/** The end (exclusive) of the JSON value starting at i. The text is known to be valid JSON. */
function valueEnd (text: string, i: number): number {
  const c = text[i]
  if (c === '"') return stringEnd(text, i)
  if (c === '{' || c === '[') {
    let depth = 0
    let j = i
    while (j < text.length) {
      const d = text[j]
      if (d === '"') {
        j = stringEnd(text, j)
        continue
      }
      if (d === '{' || d === '[') depth++
      else if (d === '}' || d === ']') {
        depth--
        if (depth === 0) return j + 1
      }
      j++
    }
    return j
  }
  let j = i
  while (j < text.length && !',}] \t\n\r'.includes(text[j] as string)) j++
  return j
}

/** The raw key and value texts of the top-level object starting at `start`, in order. */
function * objectMembers (text: string, start: number): Generator<[string, string]> {
  let i = skipSpace(text, start + 1)
  while (text[i] === '"') {
    const keyEnd = stringEnd(text, i)
    const rawKey = text.slice(i, keyEnd)
    const valueStart = skipSpace(text, skipSpace(text, keyEnd) + 1)
    const end = valueEnd(text, valueStart)
    yield [rawKey, text.slice(valueStart, end)]
    i = skipSpace(text, end)
    if (text[i] === ',') i = skipSpace(text, i + 1)
  }
}
