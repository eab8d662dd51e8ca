/** A parsed query string: every value of each key, in order (Go's url.Values). */
export type QueryValues = Map<string, string[]>

const HEX = /^[0-9a-fA-F]{2}$/

/**
 * Go's %-unescaping of URL text held as a latin1 string (one char per byte, as Node hands over the request line).
 * `plusIsSpace` for query components. Undefined for a malformed escape, which Go refuses.
 */
export function unescape (text: string, plusIsSpace: boolean): string | undefined {
  if (!text.includes('%') && !(plusIsSpace && text.includes('+'))) return text
  const raw = Buffer.from(text, 'latin1')
  const out = Buffer.allocUnsafe(raw.length)
  let n = 0
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i] as number
    if (b === 0x25) {
      const hex = text.slice(i + 1, i + 3)
      if (!HEX.test(hex)) return undefined
      out[n++] = parseInt(hex, 16)
      i += 2
    } else {
      out[n++] = plusIsSpace && b === 0x2b ? 0x20 : b
    }
  }
  return out.toString('utf8', 0, n)
}

/**
 * Go's url.ParseQuery, which nsqd uses for every parameter: `&`-separated `key=value` pairs, `+` as space, empty
 * pairs skipped. Undefined where Go returns an error (a bad %-escape, or a `;` in a pair), which nsqd answers with
 * 400 INVALID_REQUEST.
 */
export function parseQuery (raw: string): QueryValues | undefined {
  const values: QueryValues = new Map()
  for (const pair of raw.split('&')) {
    if (pair.includes(';')) return undefined
    if (pair === '') continue
    const eq = pair.indexOf('=')
    const key = unescape(eq === -1 ? pair : pair.slice(0, eq), true)
    const value = unescape(eq === -1 ? '' : pair.slice(eq + 1), true)
    if (key === undefined || value === undefined) return undefined
    const list = values.get(key)
    if (list === undefined) {
      values.set(key, [value])
    } else {
      list.push(value)
    }
  }
  return values
}

/** The first value of `key`, as Go's Values.Get; undefined when the key is absent. */
export function first (values: QueryValues, key: string): string | undefined {
  return values.get(key)?.[0]
}
