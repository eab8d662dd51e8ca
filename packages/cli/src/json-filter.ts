/**
 * nsq_to_nsq's JSON filters. With --require-json-field and/or --whitelist-json-field every message must be a JSON
 * object (null counts as an empty one); the verdict says what to do with it.
 */
export interface JsonFilterOptions {
  requireField: string
  /** Compared to a string field as text, to a number field as a number; never matches other types. */
  requireValue: string
  whitelist: readonly string[]
}

export type Verdict =
  | { kind: 'pass', body: Buffer }
  /** Finish without relaying. */
  | { kind: 'drop', reason: string }
  /** Requeue with backoff: NSQ's answer to a message missing the field whose value is required. */
  | { kind: 'backoff', reason: string }

export class JsonFilter {
  private readonly requiredNumber: number | undefined

  constructor (private readonly options: JsonFilterOptions) {
    const n = Number(options.requireValue)
    this.requiredNumber = options.requireValue.trim() !== '' && Number.isFinite(n) ? n : undefined
  }

  get active (): boolean {
    return this.options.requireField !== '' || this.options.whitelist.length > 0
  }

  apply (body: Buffer): Verdict {
    if (!this.active) return { kind: 'pass', body }
    let parsed: unknown
    try {
      parsed = JSON.parse(body.toString())
    } catch {
      return { kind: 'drop', reason: `unable to decode json: ${body.toString()}` }
    }
    if (parsed === null) parsed = {}
    if (typeof parsed !== 'object' || Array.isArray(parsed)) return { kind: 'drop', reason: `unable to decode json: ${body.toString()}` }
    const js = parsed as Record<string, unknown>

    const { requireField, requireValue, whitelist } = this.options
    if (requireField !== '') {
      if (!Object.hasOwn(js, requireField)) {
        return requireValue === ''
          ? { kind: 'drop', reason: `missing field ${requireField}` }
          : { kind: 'backoff', reason: 'missing field to check required value' }
      }
      if (requireValue !== '' && !this.matches(js[requireField])) return { kind: 'drop', reason: `${requireField} does not match` }
    }
    if (whitelist.length === 0) return { kind: 'pass', body }
    // fromEntries defines every key as a field: assigning `__proto__` to an object literal would set its prototype.
    const kept = Object.fromEntries(whitelist.filter((key) => Object.hasOwn(js, key)).map((key) => [key, js[key]]))
    return { kind: 'pass', body: Buffer.from(goJson(kept)) }
  }

  private matches (value: unknown): boolean {
    if (typeof value === 'string') return value === this.options.requireValue
    return typeof value === 'number' && value === this.requiredNumber
  }
}

/**
 * JSON as Go's encoding/json writes a decoded map: keys sorted at every level, and <, >, &, U+2028, U+2029 escaped,
 * so relayed bodies are the bytes NSQ's nsq_to_nsq would send.
 */
export function goJson (value: unknown): string {
  return encode(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** JSON.stringify, except that object keys are written in sorted order (JS objects list integer-like keys first). */
function encode (value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(encode).join(',')}]`
  if (value === null || typeof value !== 'object') return JSON.stringify(value)
  const obj = value as Record<string, unknown>
  return `{${Object.keys(obj).sort().map((k) => `${JSON.stringify(k)}:${encode(obj[k])}`).join(',')}}`
}
