import { timingSafeEqual } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import Fastify, { type FastifyInstance, type onRequestAsyncHookHandler } from 'fastify'
import fastifyStatic from '@fastify/static'
import {
  answerGoRefusal, GO_BAD_REQUEST, goRequestRefusal, LOG_LEVELS, parseLogLevel, refuseUnparsableRequest,
} from '@nsqts/protocol'
import { registerApi, sendJson, type ApiContext } from './api.js'
import { ApiError } from './errors.js'
import { inCidr } from './options.js'
import { VERSION } from './version.js'

export interface AppContext extends ApiContext {
  /** Built web app: index.html and static/. Missing → the pages answer 503 with how to build them. */
  webDir: string
}

/** The dashboard's client-side routes, all answered with index.html (as nsqadmin does). */
const PAGES = ['/', '/topics', '/topics/:topic', '/topics/:topic/:channel', '/nodes', '/nodes/:node', '/counter', '/lookup']

/** What the page needs before its first API call. `<` is escaped so no value can close the script element. */
function pageConfig (ctx: AppContext, isAdmin: boolean): string {
  const config = {
    version: VERSION,
    basePath: ctx.options.basePath,
    lookupd: ctx.options.lookupdHttpAddresses,
    nsqd: ctx.options.nsqdHttpAddresses,
    isAdmin,
    historyIntervalMs: ctx.options.historyIntervalMs,
  }
  return `<script>window.NSQADMIN=${JSON.stringify(config).replace(/</g, '\\u003c')}</script>`
}

/** Builds nsqadmin's fastify app (never listens: NSQAdmin does, tests use inject()). */
export async function buildAdminApp (ctx: AppContext): Promise<FastifyInstance> {
  // close() ends every connection, not only idle ones: a browser's preconnected or half-sent socket would otherwise
  // hold the shutdown until its headers timeout.
  const app = Fastify({
    logger: false,
    forceCloseConnections: true,
    routerOptions: { ignoreTrailingSlash: true },
    // Go's server answers these itself, before any of nsqadmin's handlers, in its own words (onRequest below).
    http: { requireHostHeader: false },
    clientErrorHandler: refuseUnparsableRequest,
    // A path that is not valid %-encoding: Go's server refuses the request line itself.
    frameworkErrors: (_err, _request, reply) => {
      reply.hijack()
      answerGoRefusal(reply.raw, GO_BAD_REQUEST)
    },
  })
  app.addHook('onRequest', async (request, reply) => {
    const refusal = goRequestRefusal(request.raw)
    if (refusal === undefined) return
    reply.hijack()
    answerGoRefusal(reply.raw, refusal)
  })
  // nsqadmin reads bodies as JSON whatever the Content-Type (curl -d sends form encoding), and reports bad JSON itself.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => { done(null, body) })

  app.setErrorHandler((err, _req, reply) => {
    if (err instanceof ApiError) return sendJson(reply, err.status, { message: err.message })
    const status = (err as { statusCode?: number }).statusCode ?? 500
    if (status >= 500) ctx.history.options.logger.error(`internal error: ${err instanceof Error ? err.stack : String(err)}`)
    return sendJson(reply, status, { message: status >= 500 ? 'INTERNAL_ERROR' : (err as Error).message })
  })
  app.setNotFoundHandler((_req, reply) => sendJson(reply, 404, { message: 'NOT_FOUND' }))

  const index = readIndex(join(ctx.webDir, 'index.html'))

  await app.register(async (scoped) => {
    scoped.get('/ping', async (_req, reply) => reply.type('text/plain; charset=utf-8').send('OK'))

    for (const page of PAGES) {
      scoped.get(page, async (req, reply) => {
        if (index === undefined) {
          return reply.code(503).type('text/plain; charset=utf-8').send('nsqadmin: the dashboard is not built; run `npm run build`\n')
        }
        const users = ctx.options.adminUsers
        const header = req.headers[ctx.options.aclHttpHeader.toLowerCase()]
        const isAdmin = users.length === 0 || (typeof header === 'string' && users.includes(header))
        // The bundle is built for /static/; a --base-path moves it, so the links are rewritten here.
        const html = index
          .replaceAll('"/static/', `"${ctx.options.basePath}static/`)
          .replace('</head>', `${pageConfig(ctx, isAdmin)}</head>`)
        return reply.type('text/html; charset=utf-8').send(html)
      })
    }

    if (existsSync(join(ctx.webDir, 'static'))) {
      await scoped.register(fastifyStatic, { root: join(ctx.webDir, 'static'), prefix: '/static/', maxAge: '1h' })
    }

    // Everything registered below needs the token when one is set; what is above stays open so that a browser, which
    // cannot add a header to a navigation, can load the dashboard, which then sends the token on its own requests.
    await scoped.register(async (guarded) => {
      if (ctx.options.httpBearerToken !== '') guarded.addHook('onRequest', requireBearer(ctx.options.httpBearerToken))
      registerGuarded(guarded, ctx)
    })
  }, { prefix: ctx.options.basePath === '/' ? '' : ctx.options.basePath.slice(0, -1) })

  return app
}

/** nsqd's answer to a request without the token: 401, `WWW-Authenticate: Bearer`, `{"message":"UNAUTHORIZED"}`. */
function requireBearer (token: string): onRequestAsyncHookHandler {
  const expected = Buffer.from(`Bearer ${token}`)
  return async (request, reply) => {
    const given = Buffer.from(request.headers.authorization ?? '')
    // Constant time, so the answer's timing does not tell how much of a guessed token was right.
    if (given.length === expected.length && timingSafeEqual(given, expected)) return
    await sendJson(reply.header('Www-Authenticate', 'Bearer'), 401, { message: 'UNAUTHORIZED' })
    return reply
  }
}

/** The API and the config endpoints. */
function registerGuarded (scoped: FastifyInstance, ctx: AppContext): void {
  registerApi(scoped, ctx)

  scoped.get('/config/:opt', async (req, reply) => {
    if (!inCidr(req.ip, ctx.options.allowConfigFromCidr)) throw new ApiError(403, 'FORBIDDEN')
    return sendJson(reply, 200, readConfig(ctx, (req.params as { opt: string }).opt))
  })
  scoped.put('/config/:opt', async (req, reply) => {
    if (!inCidr(req.ip, ctx.options.allowConfigFromCidr)) throw new ApiError(403, 'FORBIDDEN')
    const opt = (req.params as { opt: string }).opt
    const body = typeof req.body === 'string' ? req.body : ''
    if (opt === 'nsqlookupd_http_addresses') {
      let value: unknown
      try {
        value = JSON.parse(body)
      } catch {
        throw new ApiError(400, 'INVALID_VALUE')
      }
      if (!Array.isArray(value) || value.length === 0 || !value.every((v) => typeof v === 'string' && v !== '')) throw new ApiError(400, 'INVALID_VALUE')
      if (ctx.options.nsqdHttpAddresses.length > 0) throw new ApiError(400, 'INVALID_VALUE')
      ctx.options.lookupdHttpAddresses = value as string[]
    } else if (opt === 'log_level') {
      const level = parseLogLevel(body)
      if (level === undefined) throw new ApiError(400, 'INVALID_VALUE')
      ctx.options.logLevel = level
    } else {
      throw new ApiError(400, 'INVALID_OPTION')
    }
    return sendJson(reply, 200, readConfig(ctx, opt))
  })
}

/** The built page, or undefined when the bundle is missing (or being rebuilt right now). */
function readIndex (path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return undefined
  }
}

/** GET /config/:opt: the options nsqadmin lets an operator read (by their config names). */
function readConfig (ctx: AppContext, opt: string): unknown {
  const o = ctx.options
  switch (opt) {
    case 'nsqlookupd_http_addresses': return o.lookupdHttpAddresses
    case 'nsqd_http_addresses': return o.nsqdHttpAddresses
    case 'log_level': return LOG_LEVELS[o.logLevel]
    case 'base_path': return o.basePath
    case 'http_address': return o.httpAddress
    case 'notification_http_endpoint': return o.notificationHttpEndpoint
    case 'admin_users': return o.adminUsers
    case 'acl_http_header': return o.aclHttpHeader
    case 'http_client_connect_timeout': return o.httpClientConnectTimeoutMs * 1e6
    case 'http_client_request_timeout': return o.httpClientRequestTimeoutMs * 1e6
  }
  throw new ApiError(400, 'INVALID_OPTION')
}
