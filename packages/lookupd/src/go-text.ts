/**
 * Go's text rules where nsqlookupd's answers depend on them. Wire text is handled as latin1 strings (one char per
 * byte) so that names echoed in error texts come back byte for byte, whatever the peer sent.
 */

const ASCII_SPACE = new Set([0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20])

/** The UTF-8 encodings (as latin1 strings) of the non-ASCII characters that Go's unicode.IsSpace accepts. */
const WIDE_SPACES = [
  '\xc2\x85', '\xc2\xa0', '\xe1\x9a\x80',
  '\xe2\x80\x80', '\xe2\x80\x81', '\xe2\x80\x82', '\xe2\x80\x83', '\xe2\x80\x84', '\xe2\x80\x85', '\xe2\x80\x86',
  '\xe2\x80\x87', '\xe2\x80\x88', '\xe2\x80\x89', '\xe2\x80\x8a', '\xe2\x80\xa8', '\xe2\x80\xa9', '\xe2\x80\xaf',
  '\xe2\x81\x9f', '\xe3\x80\x80',
]

function spaceAt (s: string, i: number): number {
  if (ASCII_SPACE.has(s.charCodeAt(i))) return 1
  for (const w of WIDE_SPACES) if (s.startsWith(w, i)) return w.length
  return 0
}

function spaceEndingAt (s: string, end: number): number {
  if (ASCII_SPACE.has(s.charCodeAt(end - 1))) return 1
  for (const w of WIDE_SPACES) if (end >= w.length && s.startsWith(w, end - w.length)) return w.length
  return 0
}

/** strings.TrimSpace over the UTF-8 bytes held in a latin1 string. */
export function goTrimSpace (s: string): string {
  let start = 0
  let end = s.length
  for (let n = spaceAt(s, start); n > 0 && start < end; n = spaceAt(s, start)) start += n
  for (let n = spaceEndingAt(s, end); n > 0 && end > start; n = spaceEndingAt(s, end)) end -= n
  return s.slice(start, end)
}

/**
 * Decodes UTF-8 the way Go's encoding/json reads strings: each byte that does not start a well-formed sequence
 * becomes one U+FFFD (Node's decoder folds a broken sequence into a single U+FFFD instead).
 */
export function goDecodeUtf8 (buf: Buffer): string {
  let out = ''
  let runStart = 0
  let i = 0
  while (i < buf.length) {
    const b = buf[i] as number
    if (b < 0x80) {
      i++
      continue
    }
    const size = wellFormedLength(buf, i)
    if (size > 0) {
      i += size
      continue
    }
    out += buf.toString('utf8', runStart, i) + '\ufffd'
    i++
    runStart = i
  }
  return out + buf.toString('utf8', runStart, i)
}

function continuation (buf: Buffer, i: number, lo = 0x80, hi = 0xbf): boolean {
  const b = buf[i]
  return b !== undefined && b >= lo && b <= hi
}

/** The length of the well-formed UTF-8 sequence at i (Unicode table 3-7), or 0. */
function wellFormedLength (buf: Buffer, i: number): number {
  const b = buf[i] as number
  if (b >= 0xc2 && b <= 0xdf) return continuation(buf, i + 1) ? 2 : 0
  if (b >= 0xe0 && b <= 0xef) {
    const lo = b === 0xe0 ? 0xa0 : 0x80
    const hi = b === 0xed ? 0x9f : 0xbf
    return continuation(buf, i + 1, lo, hi) && continuation(buf, i + 2) ? 3 : 0
  }
  if (b >= 0xf0 && b <= 0xf4) {
    const lo = b === 0xf0 ? 0x90 : 0x80
    const hi = b === 0xf4 ? 0x8f : 0xbf
    return continuation(buf, i + 1, lo, hi) && continuation(buf, i + 2) && continuation(buf, i + 3) ? 4 : 0
  }
  return 0
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g

/** Go cannot hold a lone surrogate in a string: it turns each into U+FFFD, as JSON decoding of `"\ud800"` does. */
export function goWellFormed (s: string): string {
  return s.replace(LONE_SURROGATE, '\ufffd')
}

export type GoJson = string | number | bigint | boolean | null | readonly GoJson[] | { readonly [key: string]: GoJson }

const ESCAPES: Record<string, string> = {
  '"': '\\"',
  '\\': '\\\\',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '<': '\\u003c',
  '>': '\\u003e',
  '&': '\\u0026',
  '\u2028': '\\u2028',
  '\u2029': '\\u2029',
}
// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /["\\<>&\u0000-\u001f\u2028\u2029]/g

/**
 * A JSON string as Go 1.19's encoding/json writes it: HTML-safe (`<`, `>`, `&` escaped), U+2028/U+2029 escaped, and
 * control characters other than \n, \r, \t as \u00XX (JSON.stringify would write \b and \f).
 */
export function goJsonString (s: string): string {
  const text = goWellFormed(s).replace(NEEDS_ESCAPE, (c) => ESCAPES[c] ?? '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'))
  return '"' + text + '"'
}

/**
 * Serialises like Go's json.Marshal. Object keys are written in the order given: a Go struct keeps its field order,
 * so callers build objects for Go maps with their keys sorted. bigint carries Go's int64 values beyond 2^53.
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

/** Go's time.Duration.String() for a duration in nanoseconds, as NSQ prints it in its logs. */
export function formatGoDuration (ns: number): string {
  let u = Math.round(Math.abs(ns))
  const sign = ns < 0 && u !== 0 ? '-' : ''
  if (u === 0) return '0s'
  if (u < 1e3) return `${sign}${u}ns`
  if (u < 1e6) return `${sign}${fraction(u, 1e3, 3)}µs`
  if (u < 1e9) return `${sign}${fraction(u, 1e6, 6)}ms`
  const hours = Math.floor(u / 3.6e12)
  u -= hours * 3.6e12
  const minutes = Math.floor(u / 6e10)
  u -= minutes * 6e10
  const h = hours > 0 ? `${hours}h` : ''
  const m = hours > 0 || minutes > 0 ? `${minutes}m` : ''
  return `${sign}${h}${m}${fraction(u, 1e9, 9)}s`
}

function fraction (value: number, unit: number, digits: number): string {
  const whole = Math.floor(value / unit)
  const rest = value - whole * unit
  if (rest === 0) return String(whole)
  return `${whole}.${String(rest).padStart(digits, '0').replace(/0+$/, '')}`
}
