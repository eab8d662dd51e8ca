import { goParseQuery, goUnescape } from '@nsqts/protocol'

/** A parsed query string: every value of each key, in order (Go's url.Values). */
export type QueryValues = Map<string, string[]>

/**
 * Go's %-unescaping (see goUnescape), with decoded bytes read as UTF-8 so that handlers get text; text with nothing
 * to decode is left as it came. Undefined for a malformed escape, which Go refuses.
 */
export function unescape (text: string, plusIsSpace: boolean): string | undefined {
  const bytes = goUnescape(text, plusIsSpace)
  return bytes === undefined || bytes === text ? bytes : Buffer.from(bytes, 'latin1').toString('utf8')
}

/**
 * Go's url.ParseQuery, which nsqd uses for every parameter. Undefined where Go returns an error (a bad %-escape, or
 * a `;` in a pair), which nsqd answers with 400 INVALID_REQUEST.
 */
export function parseQuery (raw: string): QueryValues | undefined {
  return goParseQuery(raw, (component) => unescape(component, true))
}

/** The first value of `key`, as Go's Values.Get; undefined when the key is absent. */
export function first (values: QueryValues, key: string): string | undefined {
  return values.get(key)?.[0]
}
