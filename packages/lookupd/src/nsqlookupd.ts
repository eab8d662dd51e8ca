import { hostname } from 'node:os'
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'
import {
  createLogger, encodeSizePrefixed, goJson, hostAndPort, joinHostPort, writeLogLine, type Logger,
} from '@nsqts/protocol'
import { buildRouter } from './http/api.js'
import { buildHttpApp } from './http/app.js'
import { createLookupdMetrics } from './metrics.js'
import { resolveLookupdOptions, type HostPort, type LookupdOptions } from './options.js'
import { RegistrationDB } from './registration-db.js'
import { LookupClient } from './tcp.js'
import { VERSION } from './version.js'

/**
 * nsqlookupd: nsqd peers register their topics and channels over TCP; consumers and nsqadmin discover them over
 * HTTP. Nothing is persisted, and lookupds never talk to each other.
 */
export class NSQLookupd {
  readonly options: Readonly<LookupdOptions>
  readonly logger: Logger
  /** The registry of topics, channels and their producers. */
  readonly db = new RegistrationDB()
  private readonly clients = new Set<Socket>()
  private readonly http: FastifyInstance
  private tcpServer: Server | undefined
  private tcpBound: HostPort | undefined
  private httpBound: HostPort | undefined
  private state: 'new' | 'starting' | 'running' | 'closed' = 'new'
  private identifyAnswer: Buffer | undefined
  private startup: Promise<void> | undefined
  private shutdownDone: Promise<void> | undefined

  constructor (options: Partial<LookupdOptions> & { logger?: Logger } = {}) {
    const { logger, ...rest } = options
    this.options = resolveLookupdOptions(rest)
    this.logger = logger ?? createLogger(this.options.logPrefix, () => this.options.logLevel, writeLogLine)
    const metrics = createLookupdMetrics({
      db: this.db,
      inactiveProducerTimeout: this.options.inactiveProducerTimeout,
      tombstoneLifetime: this.options.tombstoneLifetime,
      tcpConnections: () => this.clients.size,
    })
    const router = buildRouter({
      db: this.db,
      logger: this.logger,
      inactiveProducerTimeout: this.options.inactiveProducerTimeout,
      tombstoneLifetime: this.options.tombstoneLifetime,
      metrics,
    })
    this.http = buildHttpApp(router, this.logger, this.options.httpBearerToken)
  }

  /** Binds the HTTP then the TCP listener (NSQ's order). Either failing leaves nothing open. */
  async start (): Promise<void> {
    if (this.state !== 'new') throw new Error(`cannot start an nsqlookupd that is ${this.state}`)
    this.state = 'starting'
    this.startup = this.listen()
    try {
      await this.startup
    } catch (err) {
      this.state = 'closed'
      await this.shutdown()
      throw err
    }
    // A close() during startup has waited for it and shut everything down.
    if (this.state === 'starting') this.state = 'running'
  }

  /** Stops listening, drops every peer connection and waits for both servers to finish. Safe to call twice. */
  async close (): Promise<void> {
    if (this.state === 'closed') return this.shutdown()
    this.state = 'closed'
    await this.startup?.catch(() => {})
    return this.shutdown()
  }

  private async listen (): Promise<void> {
    this.logger.info(`nsqlookupd v${VERSION} (built w/nsqts)`)
    this.httpBound = await this.listenHttp()
    this.logger.info(`HTTP: listening on ${formatHostPort(this.httpBound)}`)
    this.tcpBound = await this.listenTcp()
    this.logger.info(`TCP: listening on ${formatHostPort(this.tcpBound)}`)
  }

  private shutdown (): Promise<void> {
    this.shutdownDone ??= (async () => {
      const tcp = this.tcpServer
      if (tcp !== undefined) {
        if (this.tcpBound !== undefined) this.logger.info(`TCP: closing ${formatHostPort(this.tcpBound)}`)
        const closed = new Promise<void>((resolve) => tcp.close(() => { resolve() }))
        for (const socket of this.clients) socket.destroy()
        await closed
      }
      if (this.httpBound !== undefined) this.logger.info(`HTTP: closing ${formatHostPort(this.httpBound)}`)
      await this.http.close()
    })()
    return this.shutdownDone
  }

  /** The bound TCP address (the real port when configured with port 0). */
  get tcpAddress (): HostPort {
    if (this.tcpBound === undefined) throw new Error('nsqlookupd is not listening')
    return { ...this.tcpBound }
  }

  /** The bound HTTP address (the real port when configured with port 0). */
  get httpAddress (): HostPort {
    if (this.httpBound === undefined) throw new Error('nsqlookupd is not listening')
    return { ...this.httpBound }
  }

  private async listenHttp (): Promise<HostPort> {
    const { host, port } = hostAndPort(this.options.httpAddress)
    // fastify listens on localhost when no host is given; Go's empty host means every interface.
    await this.http.listen({ host: host === '' ? '::' : host, port })
    return boundAddress(this.http.server.address() as AddressInfo)
  }

  private async listenTcp (): Promise<HostPort> {
    const { host, port } = hostAndPort(this.options.tcpAddress)
    const server = createServer({ allowHalfOpen: true }, (socket) => { this.accept(socket) })
    this.tcpServer = server
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      // An empty host lets Node bind every interface, IPv6 and IPv4.
      server.listen({ host: host === '' ? undefined : host, port }, () => {
        server.off('error', reject)
        // Ready before the first peer can be accepted.
        this.identifyAnswer = this.buildIdentifyAnswer((server.address() as AddressInfo).port)
        resolve()
      })
    })
    server.on('error', (err) => { this.logger.error(`TCP: ${err.message}`) })
    return boundAddress(server.address() as AddressInfo)
  }

  private accept (socket: Socket): void {
    const client = new LookupClient(socket, {
      db: this.db,
      logger: this.logger,
      maxBodySize: this.options.maxBodySize,
      identifyResponse: this.identifyAnswer as Buffer,
    })
    this.clients.add(socket)
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => { client.push(chunk) })
    socket.on('end', () => { client.end() })
    socket.on('error', (err) => { this.logger.debug(`client(${client.id}) - ${err.message}`) })
    socket.on('close', () => {
      this.clients.delete(socket)
      client.closed()
    })
  }

  /** What IDENTIFY answers: this lookupd's own ports, version, broadcast address and hostname (a Go map, sorted). */
  private buildIdentifyAnswer (tcpPort: number): Buffer {
    return encodeSizePrefixed(goJson({
      broadcast_address: this.options.broadcastAddress,
      hostname: hostname(),
      http_port: this.httpAddress.port,
      tcp_port: tcpPort,
      version: VERSION,
    }))
  }
}

function boundAddress (info: AddressInfo): HostPort {
  return { host: info.address, port: info.port }
}

function formatHostPort ({ host, port }: HostPort): string {
  return joinHostPort(host, port)
}
