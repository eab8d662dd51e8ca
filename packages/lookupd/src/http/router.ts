import { goAllow, goJson, goRedirectStatus, goRouterRedirect, type GoJson } from '@nsqts/protocol'
import { redirectTarget, type QueryValues, type RequestTarget } from './url.js'

/** A response as it goes on the wire; Content-Length is added when written. Header names keep Go's casing. */
export interface RawResponse {
  readonly status: number
  readonly headers: ReadonlyArray<readonly [string, string]>
  readonly body: Buffer
}

export interface ApiRequest {
  readonly method: string
  readonly path: string
  /** Go's url.ParseQuery of the query string; undefined when Go would refuse it. */
  query (): QueryValues | undefined
}

export type Handler = (request: ApiRequest) => RawResponse | Promise<RawResponse>

const NSQ_CONTENT_TYPE: readonly [string, string] = ['X-Nsq-Content-Type', 'nsq; version=1.0']
const JSON_CONTENT_TYPE: readonly [string, string] = ['Content-Type', 'application/json; charset=utf-8']
const EMPTY = Buffer.alloc(0)

/**
 * JSON already written as Go's json.Marshal would write it (large answers are built from cached parts), as text or
 * as its UTF-8 bytes (an answer kept whole, never changed once made).
 */
export class JsonText {
  constructor (readonly text: string | Buffer) {}
}

/** NSQ's "V1" answer: JSON (or an empty body for a nil result) with the X-Nsq-Content-Type header. */
export function v1Response (status: number, data: GoJson | JsonText | null): RawResponse {
  if (data === null) return { status, headers: [NSQ_CONTENT_TYPE], body: EMPTY }
  const text = data instanceof JsonText ? data.text : goJson(data)
  const body = typeof text === 'string' ? Buffer.from(text) : text
  return { status, headers: [JSON_CONTENT_TYPE, NSQ_CONTENT_TYPE], body }
}

/** NSQ's V1 error: `{"message":"<TEXT>"}`. */
export function v1Error (
  status: number, message: string, extraHeaders: ReadonlyArray<readonly [string, string]> = [],
): RawResponse {
  const response = v1Response(status, { message })
  return { ...response, headers: [...extraHeaders, ...response.headers] }
}

/**
 * Exact-path routes with the fallbacks of julienschmidt/httprouter (NSQ's router), which clients see on a wrong path
 * or method: a path that differs from a route only by a trailing slash, or by case and `.`/`..`/`//` segments, is
 * redirected (301 for GET, 307 otherwise) when its method has a route there; OPTIONS answers the Allow list; a path
 * routed for other methods is a 405 with Allow; anything else is a 404.
 */
export class Router {
  private readonly routes = new Map<string, Map<string, Handler>>()

  add (method: string, path: string, handler: Handler): this {
    let byMethod = this.routes.get(path)
    if (byMethod === undefined) {
      byMethod = new Map()
      this.routes.set(path, byMethod)
    }
    byMethod.set(method, handler)
    return this
  }

  /** The handler for the request, or the answer when there is none. */
  resolve (method: string, target: RequestTarget): Handler | RawResponse {
    const { path } = target
    const handler = this.routes.get(path)?.get(method)
    if (handler !== undefined) return handler

    const redirectTo = goRouterRedirect(method, path, (candidate, ignoreCase) => {
      if (!ignoreCase) return this.routes.get(candidate)?.has(method) === true ? candidate : undefined
      const lower = asciiLower(candidate)
      for (const [route, byMethod] of this.routes) if (byMethod.has(method) && asciiLower(route) === lower) return route
      return undefined
    })
    if (redirectTo !== undefined) return redirect(method, redirectTo, target)

    const allow = goAllow(this.routes.get(path)?.keys() ?? [], method)
    if (method === 'OPTIONS') {
      if (allow !== '') return { status: 200, headers: [['Allow', allow]], body: EMPTY }
    } else if (allow !== '') {
      return v1Error(405, 'METHOD_NOT_ALLOWED', [['Allow', allow]])
    }
    return v1Error(404, 'NOT_FOUND')
  }
}

function asciiLower (s: string): string {
  return s.replace(/[A-Z]/g, (c) => c.toLowerCase())
}

function redirect (method: string, routePath: string, target: RequestTarget): RawResponse {
  const { location, body } = redirectTarget(routePath, target.rawQuery, target.forceQuery)
  const headers: Array<readonly [string, string]> = [['Location', location]]
  if (method === 'GET' || method === 'HEAD') headers.push(['Content-Type', 'text/html; charset=utf-8'])
  return { status: goRedirectStatus(method), headers, body: method === 'GET' ? Buffer.from(body, 'latin1') : EMPTY }
}
