/**
 * Go's text rules that only nsqlookupd's answers depend on (JSON and durations are @nsqts/protocol's). Wire text is
 * handled as latin1 strings (one char per byte) so that names echoed in error texts come back byte for byte,
 * whatever the peer sent.
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
  // The usual line (a command from nsqd) starts and ends with a printable ASCII character: nothing to trim.
  const first = s.charCodeAt(0)
  const last = s.charCodeAt(s.length - 1)
  if (first > 0x20 && first < 0x7f && last > 0x20 && last < 0x7f) return s
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
