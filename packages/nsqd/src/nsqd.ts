import { isEphemeral, joinHostPort, silentLogger, type Logger } from '@nsqts/protocol'
import { listenAddress, resolveOptions, type NsqdOptions } from './options.js'
import { Topic, type TopicContext } from './topic.js'
import type { Channel } from './channel.js'
import type { BackendFactory, BackendQueue, PendingWrite } from './backend/types.js'
import { DiscardBackend } from './backend/memory.js'
import { LevelStore } from './backend/level/store.js'
import { TcpServer } from './tcp/server.js'
import type { Client } from './tcp/client.js'
import type { TcpBroker } from './tcp/broker.js'
import { HttpServer } from './http/server.js'
import { bodySpecs } from './tcp/commands.js'
import { LookupPeers } from './lookup/peers.js'
import { hostname } from 'node:os'
import type { BodySpec } from '@nsqts/protocol'
import type { TlsOptions } from 'node:tls'
import { TlsRequired, TlsUpgrader, tlsServerOptions } from './tcp/tls.js'
import { SnappyCodec } from './tcp/compression.js'
import { StatsdPusher } from './statsd.js'
import { VERSION } from './version.js'
import type { HttpBroker } from './http/broker.js'
import type { ChannelPolicyDefaults } from './policy.js'

export interface Address {
  host: string
  port: number
}

/** What the broker tells the outside world (lookupd peers, metadata) about its topics and channels. */
export interface NsqdEvents {
  topicCreated? (topic: Topic): void
  topicDeleted? (topic: Topic): void
  channelCreated? (topic: Topic, channel: Channel): void
  channelDeleted? (topic: Topic, channel: Channel): void
  /** A topic or channel was paused or unpaused. */
  pauseChanged? (): void
}

export interface NsqdInit extends Partial<NsqdOptions> {
  logger?: Logger
  /**
   * Where queues overflow past --mem-queue-size. By default the level store in --data-path (opened by start());
   * memoryBackendFactory keeps everything in memory instead, for tests that want no disk.
   */
  backendFactory?: BackendFactory
  /** The module snappy's codec is imported from: snappy, unless a test names one that fails to load. */
  snappyModule?: string
}

/**
 * The broker: its topics, the TCP and HTTP listeners, and their lifecycle. Construct, `await start()`, and read the
 * bound addresses from tcpAddress / httpAddress (port 0 binds a free port).
 */
export class NSQD implements TcpBroker, HttpBroker {
  readonly options: NsqdOptions
  readonly logger: Logger
  readonly topics = new Map<string, Topic>()
  /** Every connected TCP client, publishers included. */
  readonly clients = new Map<number, Client>()
  readonly startTime = Math.floor(Date.now() / 1000)
  /** The same instant on the monotonic clock, for /stats uptime. */
  readonly startedAtHr = process.hrtime.bigint()
  private readonly listeners: NsqdEvents[] = []
  private backendFactory: BackendFactory | undefined
  /** The level store in --data-path, once start() opened it (unless a backendFactory was given). */
  store: LevelStore | undefined
  private readonly tcp: TcpServer
  private readonly http: HttpServer
  /** The HTTPS listener (--https-address), when --tls-cert and --tls-key are set. */
  private readonly https: HttpServer | undefined
  /** Certificate, key and client policy, read at construction; undefined when TLS is off. */
  readonly tlsOptions: TlsOptions | undefined
  /** Upgrades TCP connections whose IDENTIFY asked for tls_v1; undefined when TLS is off. */
  readonly tlsUpgrader: TlsUpgrader | undefined
  /** The native snappy block codec: found by start() unless --snappy=false, loaded by the first IDENTIFY asking. */
  readonly snappy: SnappyCodec
  private readonly lookupPeers: LookupPeers
  /** Pushes stats to --statsd-address once listening; undefined when that is unset. */
  private statsd: StatsdPusher | undefined
  readonly hostname = hostname()
  private readonly topicContext: TopicContext
  /** How PUB, DPUB and MPUB bodies are framed and size-checked; built once from the limits. */
  readonly pubSpec: BodySpec
  readonly dpubSpec: BodySpec
  readonly mpubSpec: BodySpec
  private healthError: string | undefined
  private closing: Promise<void> | undefined
  private nextClientId = 0

  constructor (init: NsqdInit = {}) {
    const { logger, backendFactory, snappyModule, ...options } = init
    this.options = resolveOptions(options)
    this.logger = logger ?? silentLogger
    this.snappy = new SnappyCodec(this.logger, snappyModule)
    this.backendFactory = backendFactory
    this.topicContext = this.makeTopicContext()
    const specs = bodySpecs(this.options)
    this.pubSpec = specs.pub
    this.dpubSpec = specs.dpub
    this.mpubSpec = specs.mpub
    const o = this.options
    // As nsqd: a client certificate policy implies TLS required, and TLS cannot be required without a certificate.
    if (o.tlsClientAuthPolicy !== '' && o.tlsRequired === TlsRequired.No) o.tlsRequired = TlsRequired.Yes
    this.tlsOptions = tlsServerOptions(o)
    if (o.tlsRequired !== TlsRequired.No && this.tlsOptions === undefined) {
      throw new Error('cannot require TLS client connections without TLS key and cert')
    }
    if (this.tlsOptions !== undefined) {
      this.tlsUpgrader = new TlsUpgrader(this.tlsOptions, o.tlsClientAuthPolicy === 'require', this.logger)
    }
    this.tcp = new TcpServer(this)
    this.http = new HttpServer(this)
    if (this.tlsOptions !== undefined) this.https = new HttpServer(this, this.tlsOptions)
    this.lookupPeers = new LookupPeers(this)
  }

  async start (): Promise<void> {
    this.logger.info(`nsqd v${VERSION} (built w/nsqts)`)
    this.logger.info(`ID: ${this.options.nodeId}`)
    await this.openStore()
    if (this.options.snappy) this.snappy.find()
    try {
      await this.listen()
    } catch (err) {
      await this.store?.close()
      throw err
    }
  }

  private async listen (): Promise<void> {
    await this.tcp.listen(listenAddress(this.options.tcpAddress))
    this.logger.info(`TCP: listening on ${this.formatAddress(this.tcpAddress)}`)
    // HTTPS first: the plain listener's TLS_REQUIRED answers name its port.
    if (this.https !== undefined && this.options.httpsAddress !== '') {
      await this.https.listen(listenAddress(this.options.httpsAddress))
      this.logger.info(`HTTPS: listening on ${this.formatAddress(this.https.address())}`)
    }
    if (this.options.httpAddress !== '') {
      await this.http.listen(listenAddress(this.options.httpAddress))
      this.logger.info(`HTTP: listening on ${this.formatAddress(this.httpAddress)}`)
    }
    this.lookupPeers.start()
    // Started once listening: the prefix's %s names the bound HTTP port.
    if (this.options.statsdAddress !== '') {
      this.statsd = new StatsdPusher(this)
      this.statsd.start()
    }
  }

  /**
   * Opens the store of --data-path (locking it) and restores its topics and channels, with their paused flags,
   * queued messages and kept deferred ones, before any client can connect.
   */
  private async openStore (): Promise<void> {
    if (this.backendFactory !== undefined) return
    const o = this.options
    const store = await LevelStore.open(o.dataPath, {
      durable: o.durable,
      syncEvery: o.syncEvery,
      syncTimeout: o.syncTimeout,
      // Durable queues keep nothing in memory only, so their read-ahead plays the part of the memory queue. Otherwise
      // it only bridges a load (a few ms): records held longer outlive V8's young generation and die in the old one.
      cacheRecords: o.durable ? Math.max(8192, o.memQueueSize) : 2048,
      logger: this.logger,
      onHealth: (err) => this.setHealth(err),
    })
    this.store = store
    this.backendFactory = (name) => store.queue(name)
    for (const { name } of store.entries()) {
      const i = name.indexOf(':')
      if (i === -1) this.getTopic(name)
      else this.getTopic(name.slice(0, i)).getChannel(name.slice(i + 1))
    }
    await store.collectGarbage()
    this.logger.info(`store: ${store.location}${o.durable ? ' (durable)' : ''}, ${this.topics.size} topic(s) restored`)
  }

  /** A position in the store's stream of writes, to wait later for what was queued after it; see whenStored. */
  writeMark (): number {
    return this.store?.mark() ?? 0
  }

  /** The write that stores what was queued since `mark`, or undefined when nothing was. */
  writeSince (mark: number): PendingWrite | undefined {
    return this.store?.writeSince(mark)
  }

  /** writeSince as a promise: resolves once what was queued since `mark` is stored, rejects with the write's error. */
  async whenStored (mark: number): Promise<void> {
    await this.writeSince(mark)?.settled()
  }

  private formatAddress (a: Address): string {
    return joinHostPort(a.host, a.port)
  }

  get tcpAddress (): Address {
    return this.tcp.address()
  }

  get httpAddress (): Address {
    return this.http.address()
  }

  /** The bound HTTPS address; throws when TLS is off. */
  get httpsAddress (): Address {
    if (this.https === undefined) throw new Error('HTTPS server is not listening')
    return this.https.address()
  }

  /** The TCP and HTTP ports this node announces (--broadcast-*-port, else the bound ones). */
  get broadcastTcpPort (): number {
    return this.options.broadcastTcpPort !== 0 ? this.options.broadcastTcpPort : this.tcpAddress.port
  }

  get broadcastHttpPort (): number {
    return this.options.broadcastHttpPort !== 0 ? this.options.broadcastHttpPort : this.httpAddress.port
  }

  get isExiting (): boolean {
    return this.closing !== undefined
  }

  // ---- events ----

  subscribe (listener: NsqdEvents): () => void {
    this.listeners.push(listener)
    return () => {
      const i = this.listeners.indexOf(listener)
      if (i !== -1) this.listeners.splice(i, 1)
    }
  }

  private emit<K extends keyof NsqdEvents> (event: K, ...args: Parameters<NonNullable<NsqdEvents[K]>>): void {
    for (const l of this.listeners) {
      const fn = l[event] as ((...a: typeof args) => void) | undefined
      try {
        fn?.apply(l, args)
      } catch (err) {
        this.logger.error(`event ${event} listener failed - ${String(err)}`)
      }
    }
  }

  /** A pause flag changed (HTTP pause/unpause): metadata listeners persist it. */
  notifyPauseChanged (): void {
    this.emit('pauseChanged')
  }

  // ---- health ----

  /** Undefined when healthy; otherwise the last storage error, as /ping reports it. */
  get health (): string | undefined {
    return this.healthError
  }

  setHealth (error: Error | undefined): void {
    this.healthError = error === undefined ? undefined : error.message
  }

  // ---- topics ----

  private backendFor (name: string, ephemeral: boolean): BackendQueue {
    if (ephemeral) return new DiscardBackend()
    if (this.backendFactory === undefined) throw new Error('nsqd has no storage before start()')
    return this.backendFactory(name)
  }

  private makeTopicContext (): TopicContext {
    const o = this.options
    return {
      memQueueSize: o.memQueueSize,
      maxMsgTimeoutMs: o.maxMsgTimeout,
      nodeId: o.nodeId,
      e2ePercentiles: o.e2eProcessingLatencyPercentiles,
      e2eWindowMs: o.e2eProcessingLatencyWindowTime,
      backendFor: (name, ephemeral) => this.backendFor(name, ephemeral),
      channelCreated: (topic, channel) => {
        this.logger.info(`TOPIC(${topic.name}): new channel(${channel.name})`)
        this.emit('channelCreated', topic, channel)
      },
      channelDeleted: (topic, channel) => {
        this.logger.info(`TOPIC(${topic.name}): deleting channel ${channel.name}`)
        this.emit('channelDeleted', topic, channel)
      },
      ephemeralTopicIdle: (topic) => { void this.deleteExistingTopic(topic.name) },
      writeMark: () => this.store?.mark() ?? 0,
      publishWait: (mark) => this.store?.publishWait(mark),
      channelPolicyDefaults: this.channelPolicyDefaults,
      topic: (name) => this.getTopic(name),
    }
  }

  /** nsqd's policy flags (--max-attempts, --msg-ttl, --max-channel-depth, --channel-overflow), as channels read them. */
  get channelPolicyDefaults (): ChannelPolicyDefaults {
    const o = this.options
    return { maxAttempts: o.maxAttempts, ttlMs: o.msgTtl, maxDepth: o.maxChannelDepth, overflow: o.channelOverflow }
  }

  /** The topic, created when missing. */
  getTopic (name: string): Topic {
    let topic = this.topics.get(name)
    if (topic !== undefined) return topic
    topic = new Topic(name, this.backendFor(name, isEphemeral(name)), this.topicContext)
    this.topics.set(name, topic)
    this.logger.info(`TOPIC(${name}): created`)
    if (this.lookupPeers.size > 0) {
      topic.started = false
      const starting = topic
      void this.lookupPeers.precreateChannels(starting).finally(() => starting.start())
    }
    this.emit('topicCreated', topic)
    return topic
  }

  getExistingTopic (name: string): Topic | undefined {
    return this.topics.get(name)
  }

  async deleteExistingTopic (name: string): Promise<boolean> {
    const topic = this.topics.get(name)
    if (topic === undefined) return false
    this.topics.delete(name)
    this.logger.info(`TOPIC(${name}): deleting`)
    topic.stop()
    for (const channelName of [...topic.channels.keys()]) await topic.deleteChannel(channelName)
    await topic.backend.delete()
    this.emit('topicDeleted', topic)
    return true
  }

  // ---- clients ----

  newClientId (): number {
    return ++this.nextClientId
  }

  addClient (client: Client): void {
    this.clients.set(client.id, client)
  }

  removeClient (client: Client): void {
    this.clients.delete(client.id)
  }

  // ---- lifecycle ----

  /** Stops listening, closes every client, stops delivery and releases the queues. Safe to call twice. */
  close (): Promise<void> {
    this.closing ??= this.shutdown()
    return this.closing
  }

  /** PUT /config/nsqlookupd_tcp_addresses: connects new peers and drops removed ones, live. */
  setLookupdAddresses (addresses: string[]): void {
    this.options.nsqlookupdTcpAddresses = addresses
    this.lookupPeers.setAddresses(addresses)
  }

  private async shutdown (): Promise<void> {
    this.lookupPeers.close()
    this.statsd?.close()
    await Promise.all([this.tcp.close(), this.http.close(), this.https?.close()])
    for (const topic of this.topics.values()) topic.stop()
    this.persistUnfinished()
    await Promise.all([...this.topics.values()].flatMap((t) => [
      t.backend.close(),
      ...[...t.channels.values()].map((c) => c.backend.close()),
    ]))
    await this.store?.close()
  }

  /**
   * A clean exit keeps every message: what topics hold in memory, and each channel's memory queue, in-flight and
   * deferred messages go to their backends. Unlike NSQ, in-flight ones keep their attempts and deferred ones their due
   * time. Durable backends already hold them; writing them again just records their latest attempts.
   */
  private persistUnfinished (): void {
    for (const topic of this.topics.values()) {
      const now = Date.now()
      for (const msg of topic.takeHeld()) {
        if (msg.deferMs > 0) topic.backend.keep(msg.toStored(), now + msg.deferMs)
        else topic.backend.put(msg.toStored())
      }
      for (const channel of topic.channels.values()) {
        const { queued, inFlight, deferred } = channel.takeUnfinished()
        for (const msg of queued) channel.backend.put(msg.toStored())
        for (const msg of inFlight) channel.backend.put(msg.toStored())
        for (const msg of deferred) channel.backend.keep(msg.toStored(), msg.priority)
      }
    }
  }
}
