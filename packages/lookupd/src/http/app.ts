import { timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import {
  answerGoRefusal, formatGoDuration, GO_BAD_REQUEST, goRequestRefusal, refuseUnparsableRequest, type Logger,
} from '@nsqts/protocol'
import { formatRemoteAddress } from '../tcp.js'
import { v1Error, type RawResponse, type Router } from './router.js'
import { parseQuery, parseRequestTarget } from './url.js'

/**
 * The fastify app serving nsqlookupd's HTTP API; it never listens by itself. Routing is NSQ's (see Router), not
 * fastify's, so one catch-all route hands every request to the router: Go routes on the %-decoded path, redirects
 * sloppy paths and answers 405 with an Allow list, none of which fastify's router does. Answers are written raw
 * (the reply is hijacked) so that the header set and names are exactly NSQ's, without fastify's additions.
 *
 * A non-empty `bearerToken` (nsqts, --http-bearer-token) closes every route but /ping to requests without
 * `Authorization: Bearer <token>`, with the same 401 as nsqd's.
 */
export function buildHttpApp (router: Router, logger: Logger, bearerToken = ''): FastifyInstance {
  const authorized = bearerCheck(bearerToken)
  const app = fastify({
    logger: false,
    // Go's server answers a missing Host header itself, with its own text (serve).
    http: { requireHostHeader: false },
    clientErrorHandler: refuseUnparsableRequest,
    // A path that is not valid %-encoding: Go's server refuses the request line itself.
    frameworkErrors: (_err, request, reply) => {
      reply.hijack()
      answerGoRefusal(reply.raw, GO_BAD_REQUEST)
    },
  })
  // nsqlookupd never reads request bodies; leave them unread (Node discards them) whatever their content type.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', (_request, _payload, done) => { done(null) })
  const dispatch = (request: FastifyRequest, reply: FastifyReply): void => {
    reply.hijack()
    serve(router, authorized, request.raw, reply.raw, logger).catch((err: unknown) => {
      logger.error(`HTTP: failed to answer ${request.raw.method ?? ''} ${request.raw.url ?? ''} - ${String(err)}`)
      reply.raw.destroy()
    })
  }
  app.all('*', dispatch)
  // Methods fastify does not route (PURGE, PROPFIND...) and requests it refuses before routing (a QUERY without a
  // Content-Type) get NSQ's answer too: a 405 or 404 from the router.
  app.setNotFoundHandler(dispatch)
  app.setErrorHandler((_err, request, reply) => { dispatch(request, reply) })
  return app
}

const UNAUTHORIZED = v1Error(401, 'UNAUTHORIZED', [['Www-Authenticate', 'Bearer']])

/** Whether a request may use the API; always true without a token. */
function bearerCheck (token: string): (req: IncomingMessage) => boolean {
  if (token === '') return () => true
  const expected = Buffer.from(`Bearer ${token}`)
  return (req) => {
    // /ping stays open for health checks; it tells nothing.
    if (req.url === '/ping') return true
    const given = Buffer.from(req.headers.authorization ?? '')
    // Constant time, so the answer's timing does not tell how much of a guessed token was right.
    return given.length === expected.length && timingSafeEqual(given, expected)
  }
}

async function serve (
  router: Router, authorized: (req: IncomingMessage) => boolean, req: IncomingMessage, res: ServerResponse,
  logger: Logger,
): Promise<void> {
  const started = process.hrtime.bigint()
  const method = req.method ?? 'GET'
  const target = parseRequestTarget(req.url ?? '/')
  // Go's server answers these itself: no handler runs, so NSQ logs no line for them.
  if (target === undefined) {
    answerGoRefusal(res, GO_BAD_REQUEST)
    return
  }
  const refusal = goRequestRefusal(req)
  if (refusal !== undefined) {
    answerGoRefusal(res, refusal)
    return
  }
  let response: RawResponse
  if (!authorized(req)) {
    response = UNAUTHORIZED
  } else {
    const route = router.resolve(method, target)
    try {
      response = typeof route === 'function'
        ? await route({ method, path: target.path, query: () => parseQuery(target.rawQuery) })
        : route
    } catch (err) {
      // NSQ's router turns a handler panic into this answer.
      logger.error(`panic in HTTP handler - ${(err as Error).stack ?? String(err)}`)
      response = v1Error(500, 'INTERNAL_ERROR')
    }
  }
  finish(req, res, response, started, logger)
}

function finish (
  req: IncomingMessage, res: ServerResponse, response: RawResponse, started: bigint, logger: Logger,
): void {
  if (!res.headersSent) {
    const headers: string[] = []
    for (const [name, value] of response.headers) headers.push(name, value)
    headers.push('Content-Length', String(response.body.length))
    res.writeHead(response.status, headers)
    res.end(response.body)
  }
  const elapsed = formatGoDuration(Number(process.hrtime.bigint() - started))
  const remote = formatRemoteAddress(req.socket.remoteAddress, req.socket.remotePort)
  logger.info(`${response.status} ${req.method ?? ''} ${req.url ?? ''} (${remote}) ${elapsed}`)
}
