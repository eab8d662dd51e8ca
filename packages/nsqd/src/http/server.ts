import { createServer, type Server } from 'node:http'
import type { NSQD, Address } from '../nsqd.js'

/** The HTTP listener. */
export class HttpServer {
  private server: Server | undefined

  constructor (private readonly nsqd: NSQD) {}

  async listen (at: Address): Promise<void> {
    const server = createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' })
      res.end(this.nsqd.health === undefined ? 'OK' : `NOK - ${this.nsqd.health}`)
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(at.port, at.host, () => {
        server.off('error', reject)
        resolve()
      })
    })
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
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
}
