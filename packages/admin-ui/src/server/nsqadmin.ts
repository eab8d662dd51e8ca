import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import { createLogger, writeLogLine, parsePort, splitHostPort, type Logger } from '@nsqts/protocol'
import { buildAdminApp } from './app.js'
import { ClusterInfo } from './cluster.js'
import { StatsHistory } from './history.js'
import { Notifier } from './notify.js'
import { resolveAdminOptions, type AdminInit, type AdminOptions } from './options.js'

/** dist/web of this package, from src/server (tests) and dist/server (the bin) alike. */
export const DEFAULT_WEB_DIR = fileURLToPath(new URL('../../dist/web/', import.meta.url))

export interface Address {
  host: string
  port: number
}

/** Where to listen: Go's host:port rules, a decimal port, and an empty host meaning every interface. */
function listenAddress (address: string): Address {
  const invalid = new Error(`invalid --http-address ${address}: want <addr>:<port>`)
  let split: { host: string, port: string }
  try {
    split = splitHostPort(address)
  } catch {
    throw invalid
  }
  const port = parsePort(split.port)
  if (port === undefined) throw invalid
  return { host: split.host === '' ? '0.0.0.0' : split.host, port }
}

/** nsqadmin: the API and dashboard over one HTTP listener, and the sampler behind the live charts. */
export class NSQAdmin {
  readonly options: AdminOptions
  readonly logger: Logger
  readonly cluster: ClusterInfo
  readonly history: StatsHistory
  private readonly notifier: Notifier
  private readonly webDir: string
  private app: FastifyInstance | undefined
  private bound: Address | undefined

  constructor (init: AdminInit) {
    this.options = resolveAdminOptions(init)
    const o = this.options
    this.logger = init.logger ?? createLogger(o.logPrefix, () => o.logLevel, writeLogLine)
    this.webDir = init.webDir ?? DEFAULT_WEB_DIR
    this.cluster = new ClusterInfo({
      lookupd: () => o.lookupdHttpAddresses,
      nsqd: () => o.nsqdHttpAddresses,
      timeoutMs: o.httpClientRequestTimeoutMs,
      bearerToken: o.upstreamHttpBearerToken,
    })
    this.history = new StatsHistory(this.cluster, {
      intervalMs: o.historyIntervalMs,
      windowMs: o.historyWindowMs,
      logger: this.logger,
    })
    this.notifier = new Notifier(() => o.notificationHttpEndpoint, o.httpClientRequestTimeoutMs, this.logger)
  }

  /** The fastify app, built on first use; tests call inject() on it without listening. */
  async buildApp (): Promise<FastifyInstance> {
    this.app ??= await buildAdminApp({
      options: this.options,
      cluster: this.cluster,
      history: this.history,
      notifier: this.notifier,
      webDir: this.webDir,
    })
    return this.app
  }

  /** Starts sampling, then listens on --http-address. */
  async start (): Promise<void> {
    const app = await this.buildApp()
    this.history.start()
    const at = listenAddress(this.options.httpAddress)
    await app.listen({ host: at.host, port: at.port })
    const a = app.server.address() as AddressInfo
    this.bound = { host: a.address, port: a.port }
    this.logger.info(`HTTP: listening on ${a.address}:${a.port}`)
  }

  get httpAddress (): Address {
    if (this.bound === undefined) throw new Error('nsqadmin is not listening')
    return this.bound
  }

  /** Waits for pending notifications so a shutdown does not drop the last action's notice. */
  async close (): Promise<void> {
    await this.history.close()
    await this.app?.close()
    await this.notifier.drain()
  }
}
