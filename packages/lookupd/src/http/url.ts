/**
 * Request URLs read as Go's net/http and net/url read them, because nsqlookupd routes on the decoded path and
 * answers 400 INVALID_REQUEST to a query that url.ParseQuery refuses. Decoded text is latin1 (one char per byte).
 */
import { goParseQuery, goRedirectBody, goUnescape } from '@nsqts/protocol'

export interface RequestTarget {
  /** The %-decoded path (Go's URL.Path). */
  path: string
  /** The query exactly as sent, without the `?`. */
  rawQuery: string
  /** The target ended in a bare `?` (Go's URL.ForceQuery): redirects keep it. */
  forceQuery: boolean
}

/** Splits and decodes a request target; undefined when Go's server would refuse it (400 Bad Request). */
export function parseRequestTarget (target: string): RequestTarget | undefined {
  let rest = target
  // Absolute-form targets (proxies) carry a scheme and authority before the path.
  const absolute = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?]*/.exec(rest)
  if (absolute !== null) rest = rest.slice(absolute[0].length) || '/'
  if (!rest.startsWith('/')) return undefined
  let rawPath = rest
  let rawQuery = ''
  let forceQuery = false
  const q = rest.indexOf('?')
  if (q !== -1) {
    rawPath = rest.slice(0, q)
    rawQuery = rest.slice(q + 1)
    forceQuery = rawQuery === ''
  }
  const path = goUnescape(rawPath, false)
  if (path === undefined) return undefined
  return { path, rawQuery, forceQuery }
}

/** Query values as Go's url.Values: every value of every key, in order. */
export class QueryValues {
  constructor (private readonly values: ReadonlyMap<string, readonly string[]>) {}

  /** The first value of the key, as NSQ's ReqParams.Get; undefined when the key is absent. */
  get (key: string): string | undefined {
    return this.values.get(key)?.[0]
  }
}

/**
 * Go's url.ParseQuery (see goParseQuery) over the raw query. Undefined where Go returns an error (nsqlookupd then
 * answers 400 INVALID_REQUEST).
 */
export function parseQuery (rawQuery: string): QueryValues | undefined {
  const values = goParseQuery(rawQuery)
  return values === undefined ? undefined : new QueryValues(values)
}

/**
 * What Go's http.Redirect makes of a redirect to a route path (already clean) with the request's query: the Location
 * header (non-ASCII bytes %-escaped) and the small HTML body sent to GET requests.
 */
export function redirectTarget (
  routePath: string, rawQuery: string, forceQuery: boolean,
): { location: string, body: string } {
  const query = rawQuery !== '' || forceQuery ? '?' + rawQuery : ''
  const url = routePath + query
  // eslint-disable-next-line no-control-regex
  const location = url.replace(/[^\x00-\x7f]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'))
  return { location, body: goRedirectBody(url) }
}
