import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { TlsOptions } from 'node:tls'
import { refuseUnparsableRequest } from '@nsqts/protocol'
import type { Address } from '../nsqd.js'
import type { HttpBroker } from './broker.js'
import { observeGc } from '../stats.js'
import { buildHttpApi } from './app.js'

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
    server.on('clientError', refuseUnparsableRequest)
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
