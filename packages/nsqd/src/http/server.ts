import type { FastifyInstance } from 'fastify'
import type { TlsOptions } from 'node:tls'
import type { Address } from '../nsqd.js'
import type { HttpBroker } from './broker.js'
import { buildHttpApp } from './app.js'

export { buildHttpApp }

/** The HTTP (or, given TLS options, HTTPS) listener: the API app bound to an address, closed with every connection it has. */
export class HttpServer {
  private app: FastifyInstance | undefined

  constructor (private readonly nsqd: HttpBroker, private readonly tls?: TlsOptions) {}

  async listen (at: Address): Promise<void> {
    const app = buildHttpApp(this.nsqd, this.tls)
    await app.listen({ host: at.host, port: at.port })
    this.app = app
  }

  address (): Address {
    const a = this.app?.server.address()
    if (a === null || a === undefined || typeof a === 'string') throw new Error('HTTP server is not listening')
    return { host: a.address, port: a.port }
  }

  async close (): Promise<void> {
    const app = this.app
    if (app === undefined) return
    this.app = undefined
    await app.close()
  }
}
