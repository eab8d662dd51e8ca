import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { Duplex } from 'node:stream'
import type { TlsOptions } from 'node:tls'
import type { Address } from '../nsqd.js'
import type { HttpBroker } from './broker.js'
import { observeGc } from '../stats.js'
import { buildHttpApi } from './app.js'
import { LINGER_MS } from './respond.js'

/**
 * Go's server's answers to a request it cannot parse (it sometimes adds a detail to the 400's text), then it closes.
 * Node's own answer has no body; fastify's was JSON.
 */
const GO_BAD_REQUEST = 'HTTP/1.1 400 Bad Request\r\n' +
  'Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request'
const GO_HEADERS_TOO_LARGE = 'HTTP/1.1 431 Request Header Fields Too Large\r\n' +
  'Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n431 Request Header Fields Too Large'

function refuseUnparsable (err: Error & { code?: string }, socket: Duplex): void {
  // The parser reports every later chunk too: the answer goes once.
  if (!socket.writable) return
  if (err.code === 'ECONNRESET') {
    socket.destroy()
    return
  }
  // Half-closed, and what the client still sends is dropped for a moment, as Go does: closing at once with its
  // bytes unread would reset the connection, and the reset can overtake the answer.
  socket.end(err.code === 'HPE_HEADER_OVERFLOW' ? GO_HEADERS_TOO_LARGE : GO_BAD_REQUEST)
  setTimeout(() => socket.destroy(), LINGER_MS).unref()
}

/**
 * The HTTP (or, given TLS options, HTTPS) listener: the API bound to an address, closed with every connection it has.
 * node:http rather than a framework: nsqd's answers are written raw (respond.ts) and its routes matched as Go's
 * router matches them (router.ts), and fastify cost nsqd some 8 MB of memory for the little that was left to it
 * (docs/performance.md).
 */
export class HttpServer {
  private server: Server | undefined

  constructor (private readonly nsqd: HttpBroker, private readonly tls?: TlsOptions) {}

  async listen (at: Address): Promise<void> {
    observeGc()
    const api = buildHttpApi(this.nsqd, this.tls !== undefined)
    // Go sets no time limit on a request, and answers a missing Host header itself (app.ts), as Node would not.
    const server = this.tls === undefined
      ? createServer({ requestTimeout: 0, requireHostHeader: false }, api)
      : createHttpsServer({ ...this.tls, requestTimeout: 0, requireHostHeader: false }, api)
    // Go keeps idle keep-alive connections for as long as the client does; clients pool them.
    server.keepAliveTimeout = 0
    // Node would answer `Expect: 100-continue` at once; Go only when the handler reads the body (see readBody).
    server.on('checkContinue', api)
    server.on('clientError', refuseUnparsable)
    server.listen(at.port, at.host)
    await once(server, 'listening')
    // Once listening, a failed accept (EMFILE) is logged; unhandled, it would end the daemon.
    server.on('error', (err) => { this.nsqd.logger.error(`HTTP: ${err.message}`) })
    this.server = server
  }

  address (): Address {
    const a = this.server?.address()
    if (a === null || a === undefined || typeof a === 'string') throw new Error('HTTP server is not listening')
    return { host: a.address, port: a.port }
  }

  async close (): Promise<void> {
    const server = this.server
    if (server === undefined) return
    this.server = undefined
    const closed = new Promise<void>((resolve) => server.close(() => resolve()))
    server.closeAllConnections()
    await closed
  }
}
