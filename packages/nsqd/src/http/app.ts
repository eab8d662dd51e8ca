import fastify, { type FastifyInstance } from 'fastify'
import type { NSQD } from '../nsqd.js'
import { observeGc } from '../stats.js'
import { goDuration } from './go-format.js'
import { HttpError, RequestAborted, sendGoBadRequest, sendV1Error } from './respond.js'
import { RouteTable, fallback, unlogged } from './fallback.js'
import { pingRoutes } from './ping.js'
import { pubRoutes } from './pub.js'
import { statsRoutes } from './stats.js'
import { adminRoutes } from './admin.js'
import { configRoutes } from './config.js'
import { metricsRoutes } from './metrics.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route's access log line: info by default, like nsqd's API routes. */
    accessLog?: 'debug' | 'off'
  }
}

function formatRemote (address: string | undefined, port: number | undefined): string {
  const host = address ?? ''
  return `${host.includes(':') ? `[${host}]` : host}:${port ?? 0}`
}

/**
 * nsqd's HTTP API as a fastify app that never listens itself (HttpServer does; tests inject()). Go's behaviour is
 * kept where clients can see it: headers and status texts (see respond.ts), the router's redirects, 405 and 404
 * (see fallback.ts), and bodies left unread. /debug/pprof and the other /debug routes are Go runtime tools and are
 * not served.
 */
export function buildHttpApp (nsqd: NSQD): FastifyInstance {
  observeGc()
  const routes = new RouteTable()
  const app = fastify({
    logger: false,
    // httprouter has no implicit HEAD: HEAD of a GET route is a 405.
    exposeHeadRoutes: false,
    forceCloseConnections: true,
    // Go's router puts no limit on a path parameter (/config/<name> answers INVALID_OPTION, not 404).
    routerOptions: { maxParamLength: 64 * 1024 },
    // A path with a malformed %-escape: Go's server refuses the request itself.
    frameworkErrors: (_err, _request, reply) => sendGoBadRequest(reply),
  })
  // Go keeps idle keep-alive connections for as long as the client does; clients pool them.
  app.server.keepAliveTimeout = 0
  // Node would answer `Expect: 100-continue` at once; Go only when the handler reads the body (see readBody).
  app.server.on('checkContinue', (req, res) => app.server.emit('request', req, res))

  // nsqd reads every body raw and never looks at Content-Type; fastify would refuse types it cannot parse.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', (_request, _payload, done) => { done(null) })
  app.addHook('onRequest', (request, _reply, done) => {
    delete request.raw.headers['content-type']
    done()
  })

  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.add(method, route.url)
  })

  // nsqd's access log line: `200 GET /stats?format=json (127.0.0.1:40772) 194.42µs`.
  app.addHook('onResponse', (request, reply, done) => {
    const level = request.routeOptions.config.accessLog
    if (level !== 'off' && !unlogged.has(request)) {
      const socket = request.raw.socket
      const line = `${reply.statusCode} ${request.method} ${request.raw.url ?? ''} ` +
        `(${formatRemote(socket.remoteAddress, socket.remotePort)}) ${goDuration(BigInt(Math.round(reply.elapsedTime * 1e6)))}`
      if (level === 'debug') nsqd.logger.debug(line)
      else nsqd.logger.info(line)
    }
    done()
  })

  app.setErrorHandler(async (err: unknown, _request, reply) => {
    if (err instanceof HttpError) return sendV1Error(reply, err.status, err.text)
    if (err instanceof RequestAborted) {
      reply.hijack()
      return
    }
    nsqd.logger.error(`panic in HTTP handler - ${err instanceof Error ? err.stack ?? err.message : String(err)}`)
    return sendV1Error(reply, 500, 'INTERNAL_ERROR')
  })
  app.setNotFoundHandler((request, reply) => fallback(routes, request, reply))

  app.register(pingRoutes, { nsqd })
  app.register(pubRoutes, { nsqd })
  app.register(statsRoutes, { nsqd })
  app.register(adminRoutes, { nsqd })
  app.register(configRoutes, { nsqd })
  app.register(metricsRoutes, { nsqd })
  return app
}
