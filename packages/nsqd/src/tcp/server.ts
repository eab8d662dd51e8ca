import { once } from 'node:events'
import { createServer, type Server, type Socket } from 'node:net'
import type { Address } from '../nsqd.js'
import type { TcpBroker } from './broker.js'
import { Client } from './client.js'

/** The V2 TCP listener: one Client per connection, all of them closed with the server. */
export class TcpServer {
  private server: Server | undefined
  private readonly sockets = new Set<Socket>()

  constructor (private readonly nsqd: TcpBroker) {}

  async listen (at: Address): Promise<void> {
    const server = createServer((socket) => {
      if (this.nsqd.isExiting) {
        socket.destroy()
        return
      }
      this.sockets.add(socket)
      socket.once('close', () => this.sockets.delete(socket))
      this.nsqd.logger.info(`TCP: new client(${socket.remoteAddress ?? ''}:${socket.remotePort ?? 0})`)
      // eslint-disable-next-line no-new -- the client wires itself to the socket's events
      new Client(this.nsqd, socket)
    })
    server.listen(at.port, at.host)
    await once(server, 'listening')
    server.on('error', (err) => { this.nsqd.logger.error(`TCP: ${err.message}`) })
    this.server = server
  }

  address (): Address {
    const a = this.server?.address()
    if (a === null || a === undefined || typeof a === 'string') throw new Error('TCP server is not listening')
    return { host: a.address, port: a.port }
  }

  async close (): Promise<void> {
    const server = this.server
    if (server === undefined) return
    this.server = undefined
    const closed = new Promise<void>((resolve) => server.close(() => resolve()))
    for (const client of this.nsqd.clients.values()) client.close()
    for (const socket of this.sockets) socket.destroySoon()
    await closed
  }
}
