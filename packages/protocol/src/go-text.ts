/** Go's formatting of durations and JSON, where nsqd's and nsqlookupd's answers and logs show it. */

/** Splits `v` into its integer part and `.fraction` (trailing zeros dropped, empty when 0) at `digits` decimals. */
function fraction (v: bigint, digits: number): [bigint, string] {
  const unit = 10n ** BigInt(digits)
  const frac = (v % unit).toString().padStart(digits, '0').replace(/0+$/, '')
  return [v / unit, frac === '' ? '' : `.${frac}`]
}

/**
 * time.Duration.String() of a nanosecond count: `0s`, `510ns`, `61.803µs`, `750.373753ms`, `4.07s`, `1h2m3s`. A
 * number is rounded to whole nanoseconds (half away from zero); bigint carries durations beyond 2^53 exactly.
 */
export function formatGoDuration (ns: number | bigint): string {
  const n = typeof ns === 'bigint' ? (ns < 0n ? -ns : ns) : BigInt(Math.round(Math.abs(ns)))
  const sign = ns < 0 ? '-' : ''
  if (n === 0n) return '0s'
  if (n < 1000n) return `${sign}${n}ns`
  if (n < 1_000_000n) {
    const [whole, frac] = fraction(n, 3)
    return `${sign}${whole}${frac}µs`
  }
  if (n < 1_000_000_000n) {
    const [whole, frac] = fraction(n, 6)
    return `${sign}${whole}${frac}ms`
  }
  const [secs, frac] = fraction(n, 9)
  let out = `${secs % 60n}${frac}s`
  const mins = secs / 60n
  if (mins > 0n) {
    out = `${mins % 60n}m${out}`
    // Go stops at hours: days differ in length.
    const hours = mins / 60n
    if (hours > 0n) out = `${hours}h${out}`
  }
  return sign + out
}

/**
 * What Go's encoding/json escapes beyond JSON.stringify, applied to JSON text: `<`, `>` and `&` (HTML-safe) and
 * U+2028/U+2029. None of them can be part of an escape sequence, so the text's own escapes are never touched.
 */
export function goHtmlSafe (json: string): string {
  return json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g

/** Go cannot hold a lone surrogate in a string: it turns each into U+FFFD, as JSON decoding of `"\ud800"` does. */
export function goWellFormed (s: string): string {
  return s.replace(LONE_SURROGATE, '\ufffd')
}

/** A value Go's json.Marshal can write; bigint carries Go's int64 values beyond 2^53. */
export type GoJson = string | number | bigint | boolean | null | readonly GoJson[] | { readonly [key: string]: GoJson }

const ESCAPES: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' }
// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /["\\\u0000-\u001f]/g

/**
 * A JSON string as Go 1.19's encoding/json writes it: HTML-safe, and control characters other than \n, \r, \t as
 * \u00XX (JSON.stringify would write \b and \f).
 */
export function goJsonString (s: string): string {
  const text = goWellFormed(s).replace(NEEDS_ESCAPE, (c) => ESCAPES[c] ?? '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'))
  return goHtmlSafe('"' + text + '"')
}

/**
 * Serialises like Go's json.Marshal. Object keys are written in the order given: a Go struct keeps its field order,
 * so callers build objects for Go maps with their keys sorted.
 */
export function goJson (value: GoJson): string {
  if (typeof value === 'string') return goJsonString(value)
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'null'
  if (typeof value === 'bigint') return value.toString()
  if (typeof value === 'boolean') return value ? 'true' : 'false'
  if (value === null) return 'null'
  if (Array.isArray(value)) return '[' + (value as readonly GoJson[]).map(goJson).join(',') + ']'
  const parts: string[] = []
  for (const [key, item] of Object.entries(value)) parts.push(goJsonString(key) + ':' + goJson(item))
  return '{' + parts.join(',') + '}'
}
