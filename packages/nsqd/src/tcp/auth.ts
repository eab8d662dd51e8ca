import { readFileSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { request as httpsRequest, type RequestOptions } from 'node:https'
import { NsqError, goHtmlSafe } from '@nsqts/protocol'
import type { NsqdOptions } from '../options.js'

/**
 * The auth server protocol (NSQ's --auth-http-address). nsqd asks with the connection's remote IP, TLS state, client
 * certificate CN and the AUTH secret; the answer lists what the connection may do, for `ttl` seconds:
 *
 *   {"ttl":3600,"identity":"..","identity_url":"..",
 *    "authorizations":[{"topic":"<regex>","channels":["<regex>",...],"permissions":["subscribe","publish"]}]}
 *
 * Regexes are matched unanchored, as Go's MatchString. A publish is checked with the channel "", so it needs a
 * channel regex that matches the empty string (NSQ's rule).
 */

interface Authorization {
  topic: RegExp
  channels: RegExp[]
  publish: boolean
  subscribe: boolean
}

export interface AuthState {
  identity: string
  identityUrl: string
  /** Date.now() past which the answer must be asked for again. */
  expires: number
  authorizations: Authorization[]
}

export interface AuthQuery {
  remoteIp: string
  tls: boolean
  commonName: string
  secret: string
}

/** What the auth server is told about a connection. */
export function authQueryOf (c: {
  remoteIp: string
  tls: { commonName: string } | undefined
  authSecret: string
}): AuthQuery {
  return { remoteIp: c.remoteIp, tls: c.tls !== undefined, commonName: c.tls?.commonName ?? '', secret: c.authSecret }
}

/** Go's url.QueryEscape: unreserved bytes stay, space becomes +, every other byte %XX. */
function queryEscape (s: string): string {
  let out = ''
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b)
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c
    else if (b === 0x20) out += '+'
    else out += '%' + b.toString(16).toUpperCase().padStart(2, '0')
  }
  return out
}

/** An --auth-http-address: host:port means http://host:port/auth; anything with :// is used as given. */
export function authEndpoint (address: string): string {
  return address.includes('://') ? address : `http://${address}/auth`
}

function parseState (body: unknown): AuthState {
  if (body === null || typeof body !== 'object') throw new Error('invalid auth response')
  const data = body as Record<string, unknown>
  const ttl = data.ttl
  const list = data.authorizations ?? []
  if (!Array.isArray(list)) throw new Error('invalid authorizations')
  const authorizations = list.map((a: unknown): Authorization => {
    const entry = (a ?? {}) as Record<string, unknown>
    const permissions = entry.permissions ?? []
    const channels = entry.channels ?? []
    if (!Array.isArray(permissions) || !Array.isArray(channels)) throw new Error('invalid authorization')
    for (const p of permissions) {
      if (p !== 'subscribe' && p !== 'publish') throw new Error(`unknown permission ${String(p)}`)
    }
    const compile = (what: string, pattern: unknown): RegExp => {
      if (typeof pattern !== 'string') throw new Error(`invalid ${what} ${String(pattern)}`)
      try {
        return new RegExp(pattern)
      } catch (err) {
        throw new Error(`unable to compile ${what} ${JSON.stringify(pattern)} ${(err as Error).message}`)
      }
    }
    return {
      topic: compile('topic', entry.topic ?? ''),
      channels: channels.map((c) => compile('channel', c)),
      publish: permissions.includes('publish'),
      subscribe: permissions.includes('subscribe'),
    }
  })
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl <= 0) throw new Error(`invalid TTL ${String(ttl)} (must be >0)`)
  const text = (v: unknown): string => (typeof v === 'string' ? v : '')
  return {
    identity: text(data.identity),
    identityUrl: text(data.identity_url),
    expires: Date.now() + ttl * 1000,
    authorizations,
  }
}

/** May `topic` (and `channel`, '' for a publish) be used under this answer? */
export function isAllowed (state: AuthState, topic: string, channel: string): boolean {
  return state.authorizations.some((a) => (channel !== '' ? a.subscribe : a.publish) &&
    a.topic.test(topic) && a.channels.some((c) => c.test(channel)))
}

/** --tls-root-ca-file, read once per options: NSQ loads it at start-up, not per query. */
const rootCas = new WeakMap<NsqdOptions, Buffer>()
function rootCa (o: NsqdOptions): Buffer | undefined {
  if (o.tlsRootCaFile === '') return undefined
  let ca = rootCas.get(o)
  if (ca === undefined) rootCas.set(o, ca = readFileSync(o.tlsRootCaFile))
  return ca
}

interface Reply { status: number, body: string }

/**
 * One exchange under NSQ's HTTP client limits: the TCP connect within --http-client-connect-timeout, the whole
 * exchange within --http-client-request-timeout. An https server must chain to --tls-root-ca-file when it is set,
 * in place of the system roots (NSQ 1.3.0, #1473).
 */
function send (url: URL, options: RequestOptions, body: string | undefined, o: NsqdOptions): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const init: RequestOptions = { ...options, ca: rootCa(o), signal: AbortSignal.timeout(o.httpClientRequestTimeout) }
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, init, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { text += chunk })
      res.on('error', reject)
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: text }) })
    })
    req.on('error', reject)
    req.on('socket', (socket) => {
      // A kept-alive socket is already connected: only a fresh one is timed.
      if (!socket.connecting) return
      const timer = setTimeout(() => req.destroy(new Error(`connect timeout after ${o.httpClientConnectTimeout}ms`)), o.httpClientConnectTimeout)
      const clear = (): void => { clearTimeout(timer) }
      socket.once('connect', clear)
      socket.once('close', clear)
    })
    req.end(body)
  })
}

async function queryOne (endpoint: string, q: AuthQuery, o: NsqdOptions): Promise<AuthState> {
  // Go encodes url.Values with sorted keys; both methods send the same four.
  const values: Array<[string, string]> = [
    ['common_name', q.commonName], ['remote_ip', q.remoteIp], ['secret', q.secret], ['tls', String(q.tls)],
  ]
  const headers: Record<string, string> = { accept: 'application/vnd.nsq; version=1.0' }
  let url = endpoint
  let body: string | undefined
  if (o.authHttpRequestMethod === 'post') {
    // Go's json.Marshal escapes <, > and & in strings: the same bytes go out.
    body = goHtmlSafe(JSON.stringify(Object.fromEntries(values.map(([k, v]) => [k, [v]]))))
    headers['content-type'] = 'application/json'
    headers['content-length'] = String(Buffer.byteLength(body))
  } else {
    url = `${endpoint}?${values.map(([k, v]) => `${k}=${queryEscape(v)}`).join('&')}`
  }
  const target = new URL(url)
  const options: RequestOptions = { method: o.authHttpRequestMethod === 'post' ? 'POST' : 'GET', headers }
  let reply = await send(target, options, body, o)
  if (reply.status === 403 && target.protocol === 'http:') {
    // NSQ's TLS_REQUIRED answer, {"message":"TLS_REQUIRED","https_port":N}: its HTTP client asks again, once, over
    // https on that port of the same host.
    const port = (JSON.parse(reply.body) as { https_port?: unknown } | null)?.https_port
    if (typeof port !== 'number') throw new Error(`got response 403 ${reply.body}`)
    target.protocol = 'https:'
    target.port = String(port)
    reply = await send(target, options, body, o)
  }
  if (reply.status !== 200) throw new Error(`got response ${reply.status} ${reply.body}`)
  return parseState(JSON.parse(reply.body))
}

/** Asks the auth servers, in a random order, until one answers; the error of the last one otherwise. */
export async function queryAuthd (q: AuthQuery, o: NsqdOptions): Promise<AuthState> {
  const order = o.authHttpAddresses.map(authEndpoint)
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[order[i], order[j]] = [order[j] as string, order[i] as string]
  }
  let last: unknown = new Error('no auth servers')
  for (const endpoint of order) {
    try {
      return await queryOne(endpoint, q, o)
    } catch (err) {
      last = err
    }
  }
  throw last
}

/** The answer to AUTH once the server granted something (nsqd's field names and order). */
export function authResponse (state: AuthState): Buffer {
  return Buffer.from(JSON.stringify({
    identity: state.identity,
    identity_url: state.identityUrl,
    permission_count: state.authorizations.length,
  }))
}

/** Errors NSQ sends; the auth server's own error is logged, never shown to the client. */
export const authFailed = (): NsqError => new NsqError('E_AUTH_FAILED', 'AUTH failed')
export const authFirst = (cmd: string): NsqError => new NsqError('E_AUTH_FIRST', `AUTH required before ${cmd}`)
