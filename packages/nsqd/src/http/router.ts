import type { IncomingMessage, ServerResponse } from 'node:http'
import { goAllow, goRedirectBody, goRedirectStatus, goRouterRedirect } from '@nsqts/protocol'
import { send, sendV1Error } from './respond.js'

/**
 * nsqd's routes, matched as NSQ's router (julienschmidt/httprouter) matches them: on the decoded path, exactly,
 * with `:param` segments taking any non-empty segment. When no route takes a request, clients see httprouter's
 * answers: a path that differs from a route of its method only by a trailing slash, or by letter case and
 * `.`/`..`/`//` segments, is redirected (301 for GET, 307 otherwise); OPTIONS answers the Allow list of a routed
 * path; any other method on a routed path is 405 with Allow; the rest is 404.
 */

/** One request and its answer, as the handlers see them. */
export interface HttpCall {
  readonly req: IncomingMessage
  readonly res: ServerResponse
  /** The decoded `:param` segment of a parameterised route; empty for the others. */
  param: string
}

export type Handler = (call: HttpCall) => Promise<void>

/** A route's access log line: info, like nsqd's API routes; debug for scrapers; off for the publish hot path. */
export type AccessLog = 'info' | 'debug' | 'off'

/** A route's handler, after its access log level when that is not info. */
type RouteArgs = [handler: Handler] | [log: AccessLog, handler: Handler]

interface Route {
  method: string
  segments: string[]
  /** Index of the route's `:param` segment; -1 when it has none (nsqd's routes have at most one). */
  paramAt: number
  handler: Handler
  log: AccessLog
}

/** What a route table answers for a request: the route and its parameter, if a route takes it. */
export interface Match {
  route: Route
  param: string
}

/** Go's URL path escaping (encodePath): unreserved characters and `$&+,/:;=@` stay as they are. */
function escapePath (path: string): string {
  let out = ''
  for (const b of Buffer.from(path, 'utf8')) {
    const c = String.fromCharCode(b)
    out += /[A-Za-z0-9\-_.~$&+,/:;=@]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}

/**
 * Whether `route` takes the path split into `parts`: its segments matched exactly (or ignoring case), its `:param`
 * segment taking any non-empty one.
 */
function takes (route: Route, parts: string[], ignoreCase: boolean): boolean {
  if (parts.length !== route.segments.length) return false
  for (let i = 0; i < parts.length; i++) {
    const want = route.segments[i] as string
    const got = parts[i] as string
    if (i === route.paramAt ? got === '' : ignoreCase ? want.toLowerCase() !== got.toLowerCase() : want !== got) return false
  }
  return true
}

export class RouteTable {
  private readonly routes: Route[] = []
  /** Routes without a parameter by `METHOD path`: the publish path is one map lookup. */
  private readonly exact = new Map<string, Route>()
  private readonly parameterised: Route[] = []

  get (path: string, ...args: RouteArgs): void {
    this.add('GET', path, args)
  }

  post (path: string, ...args: RouteArgs): void {
    this.add('POST', path, args)
  }

  put (path: string, ...args: RouteArgs): void {
    this.add('PUT', path, args)
  }

  private add (method: string, pattern: string, args: RouteArgs): void {
    const [log, handler] = args.length === 1 ? ['info' as const, args[0]] : args
    const segments = pattern.split('/')
    const route = { method, segments, paramAt: segments.findIndex((s) => s.startsWith(':')), handler, log }
    this.routes.push(route)
    if (pattern.includes('/:')) this.parameterised.push(route)
    else this.exact.set(`${method} ${pattern}`, route)
  }

  /** The route of `method` that takes `path` (decoded), with its parameter. */
  match (method: string, path: string): Match | undefined {
    const route = this.exact.get(`${method} ${path}`)
    if (route !== undefined) return { route, param: '' }
    const parts = path.split('/')
    for (const candidate of this.parameterised) {
      if (candidate.method === method && takes(candidate, parts, false)) {
        return { route: candidate, param: parts[candidate.paramAt] as string }
      }
    }
    return undefined
  }

  /** The path of `route` that `path` names (its own segments, and the parameter as sent), if it takes `path`. */
  private resolve (route: Route, path: string, ignoreCase: boolean): string | undefined {
    const parts = path.split('/')
    if (!takes(route, parts, ignoreCase)) return undefined
    return route.segments.map((want, i) => i === route.paramAt ? parts[i] : want).join('/')
  }

  /** Where httprouter redirects a request that matched nothing, if anywhere. */
  private redirectFor (method: string, path: string): string | undefined {
    return goRouterRedirect(method, path, (candidate, ignoreCase) => {
      for (const route of this.routes) {
        if (route.method !== method) continue
        const resolved = this.resolve(route, candidate, ignoreCase)
        if (resolved !== undefined) return resolved
      }
      return undefined
    })
  }

  /** httprouter's Allow value for `path`: the methods routed there (see goAllow). */
  private allowed (method: string, path: string): string {
    const routed = this.routes.filter((route) => this.resolve(route, path, false) !== undefined)
    return goAllow(routed.map((route) => route.method), method)
  }

  /**
   * Answers a request no route took (`path` decoded, `url` as sent). Returns whether nsqd logs the answer: its
   * redirects and OPTIONS answers never reach its handlers, so they have no access log line.
   */
  async unrouted (call: HttpCall, url: string, path: string): Promise<boolean> {
    const q = url.indexOf('?')
    const method = call.req.method ?? 'GET'
    // Go's server itself answers `OPTIONS *` (an empty 200); the router never sees it.
    if (method === 'OPTIONS' && path === '*') {
      await send(call, 200, [], '')
      return false
    }
    const target = this.redirectFor(method, path)
    if (target !== undefined) {
      const location = escapePath(target) + (q === -1 ? '' : url.slice(q))
      const status = goRedirectStatus(method)
      if (method !== 'GET') await send(call, status, ['Location', location], '')
      // Go's http.Redirect adds a short HTML body for GET.
      else await send(call, status, ['Location', location, 'Content-Type', 'text/html; charset=utf-8'], goRedirectBody(location))
      return false
    }
    const allow = this.allowed(method, path)
    if (method === 'OPTIONS' && allow !== '') {
      await send(call, 200, ['Allow', allow], '')
      return false
    }
    if (allow !== '') await sendV1Error(call, 405, 'METHOD_NOT_ALLOWED', ['Allow', allow])
    else await sendV1Error(call, 404, 'NOT_FOUND')
    return true
  }
}
