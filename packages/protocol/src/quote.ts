/**
 * Go's %q for a byte string (strconv.Quote): nsqd quotes names in its error texts this way, so a name with odd
 * bytes must be escaped exactly as Go does. The input is a latin1 string (one char per byte).
 */
export function goQuote (latin1: string): string {
  const bytes = Buffer.from(latin1, 'latin1')
  const text = bytes.toString('utf8')
  // Valid UTF-8 round-trips; invalid sequences turn into U+FFFD and are escaped byte by byte below.
  const valid = Buffer.from(text, 'utf8').equals(bytes)
  let out = '"'
  if (valid) {
    for (const ch of text) out += quoteRune(ch)
  } else {
    for (const b of bytes) out += b < 0x80 ? quoteRune(String.fromCharCode(b)) : '\\x' + b.toString(16).padStart(2, '0')
  }
  return out + '"'
}

function quoteRune (ch: string): string {
  switch (ch) {
    case '"': return '\\"'
    case '\\': return '\\\\'
    case '\x07': return '\\a'
    case '\b': return '\\b'
    case '\f': return '\\f'
    case '\n': return '\\n'
    case '\r': return '\\r'
    case '\t': return '\\t'
    case '\v': return '\\v'
  }
  const cp = ch.codePointAt(0) as number
  if (cp < 0x20 || cp === 0x7f) return '\\x' + cp.toString(16).padStart(2, '0')
  if (cp >= 0x80 && cp < 0xa0) return '\\u' + cp.toString(16).padStart(4, '0')
  return ch
}
