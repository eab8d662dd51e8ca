import type { IncomingMessage, ServerResponse } from 'node:http'
import { timingSafeEqual } from 'node:crypto'
import { formatGoDuration, GO_BAD_REQUEST, goRequestRefusal, joinHostPort } from '@nsqts/protocol'
import type { HttpBroker } from './broker.js'
import { HttpError, RequestAborted, sendGoRefusal, sendV1Error, sendV1Json } from './respond.js'
import { TlsRequired } from '../tcp/tls.js'
import { RouteTable, type AccessLog, type HttpCall } from './router.js'
import { unescape } from './query.js'
import { pingRoutes } from './ping.js'
import { pubRoutes } from './pub.js'
import { statsRoutes } from './stats.js'
import { adminRoutes } from './admin.js'
import { configRoutes } from './config.js'
import { metricsRoutes } from './metrics.js'
import { policyRoutes } from './policy.js'

/**
 * nsqd's HTTP API as a node:http request listener (HttpServer listens). Go's behaviour is kept where clients can
 * see it: headers and status texts (see respond.ts), the router's redirects, 405 and 404 (see router.ts), and bodies
 * left unread. /debug/pprof and the other /debug routes are Go runtime tools and are not served.
 */

export type HttpApi = (req: IncomingMessage, res: ServerResponse) => void

/**
 * What stops a request before its route: the plain listener of a --tls-required nsqd, and --http-bearer-token.
 * Answers and returns true when it stopped it.
 */
type Guard = (call: HttpCall) => Promise<boolean>

function guards (nsqd: HttpBroker, secure: boolean): Guard[] {
  const list: Guard[] = []
  // --tls-required=true: the plain listener refuses everything and points at the HTTPS port (NSQ's exact body).
  if (!secure && nsqd.options.tlsRequired === TlsRequired.Yes) {
    list.push(async (call) => {
      await sendV1Json(call, 403, `{"message": "TLS_REQUIRED", "https_port": ${nsqd.httpsAddress.port}}`)
      return true
    })
  }
  // nsqts: --http-bearer-token closes the API (NSQ leaves it open) to requests without `Authorization: Bearer <token>`.
  // /ping stays open for health checks; it tells nothing.
  const token = nsqd.options.httpBearerToken
  if (token !== '') {
    const expected = Buffer.from(`Bearer ${token}`)
    list.push(async (call) => {
      if (call.req.url === '/ping') return false
      const given = Buffer.from(call.req.headers.authorization ?? '')
      if (given.length === expected.length && timingSafeEqual(given, expected)) return false
      await sendV1Json(call, 401, '{"message":"UNAUTHORIZED"}', ['Www-Authenticate', 'Bearer'])
      return true
    })
  }
  return list
}

export function buildHttpApi (nsqd: HttpBroker, secure: boolean): HttpApi {
  const routes = new RouteTable()
  pingRoutes(routes, nsqd)
  pubRoutes(routes, nsqd)
  statsRoutes(routes, nsqd)
  adminRoutes(routes, nsqd)
  configRoutes(routes, nsqd)
  metricsRoutes(routes, nsqd)
  policyRoutes(routes, nsqd)
  const stops = guards(nsqd, secure)
  const stoppedByGuard = async (call: HttpCall): Promise<boolean> => {
    for (const stop of stops) if (await stop(call)) return true
    return false
  }

  // nsqd's access log line: `200 GET /stats?format=json (127.0.0.1:40772) 194.42µs`.
  const logAccess = (call: HttpCall, level: AccessLog, started: bigint): void => {
    if (level === 'off' || !call.res.headersSent) return
    const { req, res } = call
    const line = `${res.statusCode} ${req.method ?? ''} ${req.url ?? ''} ` +
      `(${joinHostPort(req.socket.remoteAddress ?? '', req.socket.remotePort ?? 0)}) ` +
      formatGoDuration(Number(process.hrtime.bigint() - started))
    if (level === 'debug') nsqd.logger.debug(line)
    else nsqd.logger.info(line)
  }

  const failed = async (call: HttpCall, err: unknown): Promise<void> => {
    if (err instanceof HttpError) return sendV1Error(call, err.status, err.text)
    // The client went away while its body was read: there is no one to answer.
    if (err instanceof RequestAborted) return
    nsqd.logger.error(`panic in HTTP handler - ${err instanceof Error ? err.stack ?? err.message : String(err)}`)
    return sendV1Error(call, 500, 'INTERNAL_ERROR')
  }

  const serve = async (call: HttpCall): Promise<void> => {
    const started = process.hrtime.bigint()
    const url = call.req.url ?? '/'
    const q = url.indexOf('?')
    // Go routes on the decoded path, and its server refuses a request whose path does not decode.
    const path = unescape(q === -1 ? url : url.slice(0, q), false)
    if (path === undefined) {
      sendGoRefusal(call, GO_BAD_REQUEST)
      return
    }
    const refusal = goRequestRefusal(call.req)
    if (refusal !== undefined) {
      sendGoRefusal(call, refusal)
      return
    }
    const match = routes.match(call.req.method ?? 'GET', path)
    let level: AccessLog = match?.route.log ?? 'info'
    try {
      if (await stoppedByGuard(call)) {
        // answered
      } else if (match === undefined) {
        if (!await routes.unrouted(call, url, path)) level = 'off'
      } else {
        call.param = match.param
        await match.route.handler(call)
      }
    } catch (err) {
      await failed(call, err)
    }
    logAccess(call, level, started)
  }

  return (req, res) => {
    serve({ req, res, param: '' }).catch((err: unknown) => {
      // Writing the answer itself failed (the socket is gone); the request is over either way.
      nsqd.logger.error(`HTTP answer failed - ${err instanceof Error ? err.message : String(err)}`)
      res.destroy()
    })
  }
}
