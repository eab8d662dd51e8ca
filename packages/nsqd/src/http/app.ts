import fastify, { type FastifyInstance } from 'fastify'
import type { TlsOptions } from 'node:tls'
import { timingSafeEqual } from 'node:crypto'
import { formatGoDuration, joinHostPort } from '@nsqts/protocol'
import type { HttpBroker } from './broker.js'
import { observeGc } from '../stats.js'
import { HttpError, RequestAborted, sendGoBadRequest, sendV1Error, sendV1Json } from './respond.js'
import { TlsRequired } from '../tcp/tls.js'
import { RouteTable, fallback, unlogged } from './fallback.js'
import { pingRoutes } from './ping.js'
import { pubRoutes } from './pub.js'
import { statsRoutes } from './stats.js'
import { adminRoutes } from './admin.js'
import { configRoutes } from './config.js'
import { metricsRoutes } from './metrics.js'
import { policyRoutes } from './policy.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route's access log line: info by default, like nsqd's API routes. */
    accessLog?: 'debug' | 'off'
  }
}

function formatRemote (address: string | undefined, port: number | undefined): string {
  const host = address ?? ''
  return joinHostPort(host, port ?? 0)
}

/**
 * nsqd's HTTP API as a fastify app that never listens itself (HttpServer does; tests inject()). Go's behaviour is
 * kept where clients can see it: headers and status texts (see respond.ts), the router's redirects, 405 and 404
 * (see fallback.ts), and bodies left unread. /debug/pprof and the other /debug routes are Go runtime tools and are
 * not served.
 */

function noSchemas (): never {
  throw new Error('nsqd routes have no schemas')
}

export function buildHttpApp (nsqd: HttpBroker, tls?: TlsOptions): FastifyInstance {
  observeGc()
  const routes = new RouteTable()
  const app = fastify({
    // The HTTPS listener (--https-address) serves the same API with the TCP port's certificate and client policy.
    ...(tls === undefined ? {} : { https: tls }),
    logger: false,
    // httprouter has no implicit HEAD: HEAD of a GET route is a 405.
    exposeHeadRoutes: false,
    forceCloseConnections: true,
    // Go's router puts no limit on a path parameter (/config/<name> answers INVALID_OPTION, not 404).
    routerOptions: { maxParamLength: 64 * 1024 },
    // A path with a malformed %-escape: Go's server refuses the request itself.
    frameworkErrors: (_err, _request, reply) => sendGoBadRequest(reply),
    // No route has a schema (answers are written raw): without these, fastify loads ajv and fast-json-stringify, some
    // megabytes of heap and code for nothing.
    schemaController: { compilersFactory: { buildValidator: noSchemas, buildSerializer: noSchemas } },
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

  // --tls-required=true: the plain listener refuses everything and points at the HTTPS port (NSQ's exact body).
  if (tls === undefined && nsqd.options.tlsRequired === TlsRequired.Yes) {
    app.addHook('onRequest', async (_request, reply) => {
      await sendV1Json(reply, 403, `{"message": "TLS_REQUIRED", "https_port": ${nsqd.httpsAddress.port}}`)
      return reply
    })
  }
  // nsqts: --http-bearer-token closes the API (NSQ leaves it open) to requests without `Authorization: Bearer <token>`.
  // /ping stays open for health checks; it tells nothing.
  const token = nsqd.options.httpBearerToken
  if (token !== '') {
    const expected = Buffer.from(`Bearer ${token}`)
    app.addHook('onRequest', async (request, reply) => {
      if (request.url === '/ping') return
      const given = Buffer.from(request.headers.authorization ?? '')
      if (given.length === expected.length && timingSafeEqual(given, expected)) return
      await sendV1Json(reply, 401, '{"message":"UNAUTHORIZED"}', ['Www-Authenticate', 'Bearer'])
      return reply
    })
  }

  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.add(method, route.url)
  })

  // nsqd's access log line: `200 GET /stats?format=json (127.0.0.1:40772) 194.42µs`.
  app.addHook('onResponse', (request, reply, done) => {
    const level = request.routeOptions.config.accessLog
    if (level !== 'off' && !unlogged.has(request)) {
      const socket = request.raw.socket
      const line = `${reply.statusCode} ${request.method} ${request.raw.url ?? ''} ` +
        `(${formatRemote(socket.remoteAddress, socket.remotePort)}) ${formatGoDuration(reply.elapsedTime * 1e6)}`
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
  app.register(policyRoutes, { nsqd })
  return app
}
