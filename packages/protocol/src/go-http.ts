/**
 * The rules of Go's net/url and of julienschmidt/httprouter (NSQ's router) that clients of nsqd's and nsqlookupd's
 * HTTP APIs can see: %-decoding, url.ParseQuery, and the router's answers to requests no route takes (redirects of
 * sloppy paths, Allow lists). Pure decisions only; each daemon writes the answers in its own way. URL text is held
 * as latin1 strings (one char per byte, as Node hands over the request line), so what decodes is bytes.
 */

const HEX = /^[0-9a-fA-F]{2}$/

/**
 * Go's url unescaping: %XX to its byte, and `+` to a space in query components (`plusIsSpace`). Undefined for a
 * malformed escape, which Go refuses.
 */
export function goUnescape (text: string, plusIsSpace: boolean): string | undefined {
  if (!text.includes('%') && !(plusIsSpace && text.includes('+'))) return text
  let out = ''
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string
    if (c === '%') {
      const hex = text.slice(i + 1, i + 3)
      if (!HEX.test(hex)) return undefined
      out += String.fromCharCode(parseInt(hex, 16))
      i += 2
    } else {
      out += plusIsSpace && c === '+' ? ' ' : c
    }
  }
  return out
}

/**
 * Go's url.ParseQuery: `&`-separated `key=value` pairs, empty pairs skipped, every value of a key kept in order.
 * Undefined where Go returns an error (a `;` in a pair, or a key or value that `unescape` refuses), which NSQ answers
 * with 400 INVALID_REQUEST. `unescape` decodes one key or value; by default to its bytes, as latin1.
 */
export function goParseQuery (raw: string, unescape = (component: string) => goUnescape(component, true)):
Map<string, string[]> | undefined {
  const values = new Map<string, string[]>()
  for (const pair of raw.split('&')) {
    if (pair.includes(';')) return undefined
    if (pair === '') continue
    const eq = pair.indexOf('=')
    const key = unescape(eq === -1 ? pair : pair.slice(0, eq))
    const value = unescape(eq === -1 ? '' : pair.slice(eq + 1))
    if (key === undefined || value === undefined) return undefined
    const list = values.get(key)
    if (list === undefined) values.set(key, [value])
    else list.push(value)
  }
  return values
}

/** httprouter's CleanPath: path.Clean that keeps a trailing slash and always starts with `/`. */
export function goCleanPath (path: string): string {
  const parts: string[] = []
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue
    if (segment === '..') parts.pop()
    else parts.push(segment)
  }
  const cleaned = '/' + parts.join('/')
  return path.endsWith('/') && cleaned !== '/' ? cleaned + '/' : cleaned
}

const withSlashToggled = (path: string): string => path.endsWith('/') ? path.slice(0, -1) : path + '/'

/**
 * The route path httprouter redirects a request to when no route took it, or undefined. `find(path, ignoreCase)`
 * answers the route of the request's method that `path` names, if any. Tried in httprouter's order: the path with
 * its trailing slash toggled, exactly; then the cleaned path (`.`, `..` and `//` resolved) ignoring case, as it is
 * and with its trailing slash toggled. CONNECT and `/` are never redirected.
 */
export function goRouterRedirect (method: string, path: string,
  find: (path: string, ignoreCase: boolean) => string | undefined): string | undefined {
  if (method === 'CONNECT' || path === '/') return undefined
  const toggled = find(withSlashToggled(path), false)
  if (toggled !== undefined) return toggled
  const cleaned = goCleanPath(path)
  return find(cleaned, true) ?? find(withSlashToggled(cleaned), true)
}

/** httprouter's redirect status: 301 for GET, 307 otherwise, so that the method and body are sent again. */
export function goRedirectStatus (method: string): 301 | 307 {
  return method === 'GET' ? 301 : 307
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', "'": '&#39;', '<': '&lt;', '>': '&gt;', '"': '&#34;' }

/** The small HTML body Go's http.Redirect writes to a GET, linking to `url`. */
export function goRedirectBody (url: string): string {
  return `<a href="${url.replace(/[&'<>"]/g, (c) => HTML_ESCAPES[c] as string)}">Moved Permanently</a>.\n\n`
}

/**
 * httprouter's Allow value for a path: the methods routed there other than the request's own, plus OPTIONS, sorted;
 * '' when there are none (then the answer is a 404, not a 405).
 */
export function goAllow (routed: Iterable<string>, method: string): string {
  const methods = new Set<string>()
  for (const m of routed) if (m !== method && m !== 'OPTIONS') methods.add(m)
  return methods.size === 0 ? '' : [...methods, 'OPTIONS'].sort().join(', ')
}

/** The bytes Go's server takes in a Host header (httpguts' validHostByte): those of a host, an IPv6 literal, a port. */
const GO_HOST_BYTES = /^[0-9A-Za-z!$%&'()*+,\-.:;=[\]_~]*$/

/** What goRequestRefusal reads of a request, as Node's IncomingMessage has it (rawHeaders: name, value, ...). */
export interface ParsedRequest {
  readonly rawHeaders: readonly string[]
  readonly httpVersionMajor: number
  readonly httpVersionMinor: number
}

/** Go's server's answer to a request line it cannot parse: the status line's text, which is also the body. */
export const GO_BAD_REQUEST = '400 Bad Request'

/**
 * Go's server's answer to a request whose Transfer-Encoding it does not take; its body is GO_UNSUPPORTED_TE_BODY,
 * the one refusal whose body is not its status line.
 */
export const GO_UNSUPPORTED_TE = '501 Not Implemented'
export const GO_UNSUPPORTED_TE_BODY = 'Unsupported transfer encoding'

/** The one Transfer-Encoding Go's server takes (ASCII case-insensitive, surrounding spaces and tabs trimmed). */
const GO_CHUNKED = /^[ \t]*chunked[ \t]*$/i

/**
 * What Go's server (1.19, which built the NSQ 1.3.0 of the captures) refuses itself once a request has parsed, before
 * any handler sees it, as the text of its answer's status line (the body is the same, but for GO_UNSUPPORTED_TE), or
 * undefined when Go takes the request. In Go's order: a request of HTTP/1.1 or later whose Transfer-Encoding is not
 * one header reading `chunked` (Go ignores the header in HTTP/1.0), a version other than HTTP/1.x, an HTTP/1.1
 * request without a Host header, a Host header holding a byte no host has. Go 1.19 serves a request with two Host
 * headers (its first, as Node keeps).
 */
export function goRequestRefusal (req: ParsedRequest): string | undefined {
  const hosts: string[] = []
  const encodings: string[] = []
  const raw = req.rawHeaders
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase()
    if (name === 'host') hosts.push(raw[i + 1] as string)
    else if (name === 'transfer-encoding') encodings.push(raw[i + 1] as string)
  }
  const atLeast11 = req.httpVersionMajor > 1 || (req.httpVersionMajor === 1 && req.httpVersionMinor >= 1)
  if (atLeast11 && encodings.length > 0 && (encodings.length > 1 || !GO_CHUNKED.test(encodings[0] as string))) {
    return GO_UNSUPPORTED_TE
  }
  if (req.httpVersionMajor !== 1) return '505 HTTP Version Not Supported: unsupported protocol version'
  if (hosts.length === 0 && req.httpVersionMinor >= 1) return `${GO_BAD_REQUEST}: missing required Host header`
  if (hosts.length === 1 && !GO_HOST_BYTES.test(hosts[0] as string)) return `${GO_BAD_REQUEST}: malformed Host header`
  return undefined
}
