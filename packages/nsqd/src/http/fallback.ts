import type { FastifyReply, FastifyRequest } from 'fastify'
import { goAllow, goRedirectBody, goRedirectStatus, goRouterRedirect } from '@nsqts/protocol'
import { unescape } from './query.js'
import { send, sendGoBadRequest, sendV1Error } from './respond.js'

/**
 * What NSQ's router (julienschmidt/httprouter) does when no route takes a request, which clients see on a wrong
 * path or method: a path that differs from a route of its method only by a trailing slash, or by letter case and
 * `.`/`..`/`//` segments, is redirected (301 for GET, 307 otherwise); OPTIONS answers the Allow list of a routed
 * path; any other method on a routed path is 405 with Allow; the rest is 404.
 */

interface Route {
  method: string
  segments: string[]
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

export class RouteTable {
  private readonly routes: Route[] = []

  add (method: string, pattern: string): void {
    this.routes.push({ method, segments: pattern.split('/') })
  }

  /**
   * The path of `route` that `path` names: segments matched exactly (or ignoring case), `:param` segments taking any
   * non-empty one. Undefined when it does not match.
   */
  private resolve (route: Route, path: string, ignoreCase: boolean): string | undefined {
    const parts = path.split('/')
    if (parts.length !== route.segments.length) return undefined
    const out: string[] = []
    for (let i = 0; i < parts.length; i++) {
      const want = route.segments[i] as string
      const got = parts[i] as string
      if (want.startsWith(':') ? got === '' : ignoreCase ? want.toLowerCase() !== got.toLowerCase() : want !== got) return undefined
      out.push(want.startsWith(':') ? got : want)
    }
    return out.join('/')
  }

  /** Where httprouter redirects a request that matched nothing, if anywhere. */
  redirectFor (method: string, path: string): string | undefined {
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
  allowed (method: string, path: string): string {
    const routed = this.routes.filter((route) => this.resolve(route, path, false) !== undefined)
    return goAllow(routed.map((route) => route.method), method)
  }
}

/** Requests answered without nsqd's access log line (redirects and OPTIONS never reach its handlers). */
export const unlogged = new WeakSet<FastifyRequest>()

export async function fallback (routes: RouteTable, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const url = request.raw.url ?? '/'
  const q = url.indexOf('?')
  // Go routes on the decoded path and refuses a request whose path does not decode.
  const path = unescape(q === -1 ? url : url.slice(0, q), false)
  if (path === undefined) {
    unlogged.add(request)
    return sendGoBadRequest(reply)
  }
  const method = request.method
  // Go's server itself answers `OPTIONS *` (an empty 200); the router never sees it.
  if (method === 'OPTIONS' && path === '*') {
    unlogged.add(request)
    return send(reply, 200, [], '')
  }
  const target = routes.redirectFor(method, path)
  if (target !== undefined) {
    unlogged.add(request)
    const location = escapePath(target) + (q === -1 ? '' : url.slice(q))
    const status = goRedirectStatus(method)
    if (method !== 'GET') return send(reply, status, ['Location', location], '')
    // Go's http.Redirect adds a short HTML body for GET.
    return send(reply, status, ['Location', location, 'Content-Type', 'text/html; charset=utf-8'], goRedirectBody(location))
  }
  const allow = routes.allowed(method, path)
  if (method === 'OPTIONS' && allow !== '') {
    unlogged.add(request)
    return send(reply, 200, ['Allow', allow], '')
  }
  if (allow !== '') return sendV1Error(reply, 405, 'METHOD_NOT_ALLOWED', ['Allow', allow])
  return sendV1Error(reply, 404, 'NOT_FOUND')
}
