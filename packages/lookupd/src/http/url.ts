/**
 * Request URLs read as Go's net/http and net/url read them, because nsqlookupd routes on the decoded path and
 * answers 400 INVALID_REQUEST to a query that url.ParseQuery refuses. Decoded text is latin1 (one char per byte).
 */

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
  const path = unescape(rawPath, false)
  if (path === undefined) return undefined
  return { path, rawQuery, forceQuery }
}

/** %XX decoding; `plusIsSpace` for query components. Undefined on a malformed escape, as Go's url.unescape errs. */
function unescape (s: string, plusIsSpace: boolean): string | undefined {
  if (!s.includes('%') && !(plusIsSpace && s.includes('+'))) return s
  let out = ''
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string
    if (c === '%') {
      const hex = s.slice(i + 1, i + 3)
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) return undefined
      out += String.fromCharCode(parseInt(hex, 16))
      i += 2
    } else if (c === '+' && plusIsSpace) {
      out += ' '
    } else {
      out += c
    }
  }
  return out
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
 * Go's url.ParseQuery: pairs split on `&`, a `;` in a pair is an error, `+` is a space, a malformed escape is an
 * error. Returns undefined where Go returns an error (nsqlookupd then answers 400 INVALID_REQUEST).
 */
export function parseQuery (rawQuery: string): QueryValues | undefined {
  const values = new Map<string, string[]>()
  let failed = false
  for (const pair of rawQuery === '' ? [] : rawQuery.split('&')) {
    if (pair.includes(';')) {
      failed = true
      continue
    }
    if (pair === '') continue
    const eq = pair.indexOf('=')
    const key = unescape(eq === -1 ? pair : pair.slice(0, eq), true)
    const value = unescape(eq === -1 ? '' : pair.slice(eq + 1), true)
    if (key === undefined || value === undefined) {
      failed = true
      continue
    }
    const list = values.get(key)
    if (list === undefined) values.set(key, [value])
    else list.push(value)
  }
  return failed ? undefined : new QueryValues(values)
}

/**
 * httprouter's CleanPath: path.Clean that keeps a trailing slash and always starts with `/`. Used to find the route
 * a sloppy path meant.
 */
export function cleanPath (p: string): string {
  if (p === '') return '/'
  const trailing = p.length > 1 && p.endsWith('/')
  const parts: string[] = []
  for (const segment of p.split('/')) {
    if (segment === '' || segment === '.') continue
    if (segment === '..') parts.pop()
    else parts.push(segment)
  }
  const cleaned = '/' + parts.join('/')
  return trailing && cleaned !== '/' ? cleaned + '/' : cleaned
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&#34;', "'": '&#39;' }

/**
 * What Go's http.Redirect makes of a redirect to a route path (already clean) with the request's query: the Location
 * header (non-ASCII bytes %-escaped) and the link text of the small HTML body sent to GET requests.
 */
export function redirectTarget (routePath: string, rawQuery: string, forceQuery: boolean): { location: string, html: string } {
  const query = rawQuery !== '' || forceQuery ? '?' + rawQuery : ''
  const url = routePath + query
  // eslint-disable-next-line no-control-regex
  const location = url.replace(/[^\x00-\x7f]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'))
  const html = url.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] as string)
  return { location, html }
}
