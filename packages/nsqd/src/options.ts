import { createHash } from 'node:crypto'
import { hostname } from 'node:os'
import { isLogLevel, hostAndPort, type LogLevelName } from '@nsqts/protocol'
import { MAX_ATTEMPTS_LIMIT, type ChannelOverflow } from './policy.js'

/** Every nsqd setting. Durations are in ms here; NSQ reports them in ns (GET /config, /info). */
export interface NsqdOptions {
  nodeId: number
  logLevel: LogLevelName
  logPrefix: string
  tcpAddress: string
  httpAddress: string
  httpsAddress: string
  broadcastAddress: string
  broadcastTcpPort: number
  broadcastHttpPort: number
  nsqlookupdTcpAddresses: string[]
  /** nsqts extension: how often to PING each nsqlookupd (NSQ hard-codes 15 s). */
  lookupdPingInterval: number
  /**
   * nsqts extension (--lookupd-http-bearer-token): sent as `Authorization: Bearer <token>` when nsqd asks nsqlookupd
   * over HTTP for a new topic's channels, for lookupds started with --http-bearer-token.
   */
  lookupdHttpBearerToken: string
  authHttpAddresses: string[]
  authHttpRequestMethod: 'get' | 'post'
  httpClientConnectTimeout: number
  httpClientRequestTimeout: number
  dataPath: string
  memQueueSize: number
  maxBytesPerFile: number
  syncEvery: number
  syncTimeout: number
  /**
   * nsqts only (--durable): PUB, MPUB and DPUB answer OK once their messages are synced to disk, and every message
   * stays on disk until it is finished, so a crash (kill -9) loses no acknowledged message.
   */
  durable: boolean
  /**
   * nsqts delivery policies (docs/policies.md), the defaults of every channel that does not set its own; all off (0)
   * by default, so that nsqd delivers as NSQ does. --max-attempts: a message that would be delivered once more goes
   * to the channel's dead-letter topic instead. --msg-ttl (ms): a message older than this is not delivered.
   * --max-channel-depth: at most this many queued messages; --channel-overflow says which goes when one more comes.
   */
  maxAttempts: number
  msgTtl: number
  maxChannelDepth: number
  channelOverflow: ChannelOverflow
  queueScanWorkerPoolMax: number
  queueScanSelectionCount: number
  msgTimeout: number
  maxMsgTimeout: number
  maxMsgSize: number
  maxBodySize: number
  maxReqTimeout: number
  clientTimeout: number
  maxHeartbeatInterval: number
  maxRdyCount: number
  maxOutputBufferSize: number
  maxOutputBufferTimeout: number
  minOutputBufferTimeout: number
  outputBufferTimeout: number
  maxChannelConsumers: number
  statsdAddress: string
  statsdPrefix: string
  statsdInterval: number
  statsdMemStats: boolean
  statsdUdpPacketSize: number
  statsdExcludeEphemeral: boolean
  e2eProcessingLatencyWindowTime: number
  e2eProcessingLatencyPercentiles: number[]
  tlsCert: string
  tlsKey: string
  tlsClientAuthPolicy: string
  tlsRootCaFile: string
  /** 0 not required, 1 for TCP only (tcp-https), 2 for TCP and HTTP; as NSQ numbers it. */
  tlsRequired: number
  /** The lowest TLS version accepted, as Go numbers it (0x0301 = TLS 1.0 .. 0x0304 = TLS 1.3). */
  tlsMinVersion: number
  /**
   * nsqts only (--http-bearer-token): when set, the HTTP API answers 401 to requests without
   * `Authorization: Bearer <token>` (except /ping). NSQ's API is open to anyone who can reach it.
   */
  httpBearerToken: string
  deflate: boolean
  maxDeflateLevel: number
  snappy: boolean
  topologyRegion: string
  topologyZone: string
}

/** nsqd's default node id: crc32(md5(hostname)) % 1024. */
export function defaultNodeId (host = hostname()): number {
  const md5 = createHash('md5').update(host).digest()
  return crc32(md5) % 1024
}

function crc32 (data: Buffer): number {
  let crc = 0xffffffff
  for (const byte of data) {
    crc ^= byte
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1))
  }
  return (crc ^ 0xffffffff) >>> 0
}

export function defaultOptions (): NsqdOptions {
  return {
    nodeId: defaultNodeId(),
    logLevel: 'info',
    logPrefix: '[nsqd] ',
    tcpAddress: '0.0.0.0:4150',
    httpAddress: '0.0.0.0:4151',
    httpsAddress: '0.0.0.0:4152',
    broadcastAddress: hostname(),
    broadcastTcpPort: 0,
    broadcastHttpPort: 0,
    nsqlookupdTcpAddresses: [],
    lookupdPingInterval: 15_000,
    lookupdHttpBearerToken: '',
    authHttpAddresses: [],
    authHttpRequestMethod: 'get',
    httpClientConnectTimeout: 2000,
    httpClientRequestTimeout: 5000,
    dataPath: process.cwd(),
    memQueueSize: 10000,
    maxBytesPerFile: 100 * 1024 * 1024,
    syncEvery: 2500,
    syncTimeout: 2000,
    durable: false,
    maxAttempts: 0,
    msgTtl: 0,
    maxChannelDepth: 0,
    channelOverflow: 'drop-oldest',
    queueScanWorkerPoolMax: 4,
    queueScanSelectionCount: 20,
    msgTimeout: 60_000,
    maxMsgTimeout: 15 * 60_000,
    maxMsgSize: 1024 * 1024,
    maxBodySize: 5 * 1024 * 1024,
    maxReqTimeout: 60 * 60_000,
    clientTimeout: 60_000,
    maxHeartbeatInterval: 60_000,
    maxRdyCount: 2500,
    maxOutputBufferSize: 64 * 1024,
    maxOutputBufferTimeout: 30_000,
    minOutputBufferTimeout: 25,
    outputBufferTimeout: 250,
    maxChannelConsumers: 0,
    statsdAddress: '',
    statsdPrefix: 'nsq.%s',
    statsdInterval: 60_000,
    statsdMemStats: true,
    statsdUdpPacketSize: 508,
    statsdExcludeEphemeral: false,
    e2eProcessingLatencyWindowTime: 10 * 60_000,
    e2eProcessingLatencyPercentiles: [],
    tlsCert: '',
    tlsKey: '',
    tlsClientAuthPolicy: '',
    tlsRootCaFile: '',
    tlsRequired: 0,
    tlsMinVersion: 0x0301,
    httpBearerToken: '',
    deflate: true,
    maxDeflateLevel: 6,
    snappy: true,
    topologyRegion: '',
    topologyZone: '',
  }
}

/**
 * Where a listener binds: `host:port` split as Go's net.SplitHostPort does, the port in decimal (0 picks a free one),
 * an empty host meaning every interface.
 */
export function listenAddress (address: string): { host: string, port: number } {
  let at: { host: string, port: number }
  try {
    at = hostAndPort(address)
  } catch (err) {
    if (!address.includes(':')) throw new Error(`address ${address} has no port`)
    throw err
  }
  return { host: at.host === '' ? '0.0.0.0' : at.host, port: at.port }
}

/** Throws a readable error for settings nsqd would refuse to start with. */
export function validateOptions (o: NsqdOptions): void {
  const fail = (msg: string): never => { throw new Error(msg) }
  // The listeners nsqd will open: a bad address fails here, not as a Node error from listen().
  listenAddress(o.tcpAddress)
  if (o.httpAddress !== '') listenAddress(o.httpAddress)
  if (o.tlsCert !== '' && o.tlsKey !== '' && o.httpsAddress !== '') listenAddress(o.httpsAddress)
  if (!Number.isInteger(o.nodeId) || o.nodeId < 0 || o.nodeId >= 1024) fail(`--node-id must be [0,1024) (got ${o.nodeId})`)
  if (o.maxDeflateLevel < 1 || o.maxDeflateLevel > 9) fail('--max-deflate-level must be [1,9]')
  if (o.memQueueSize < 0) fail('--mem-queue-size must be >= 0')
  if (o.authHttpRequestMethod !== 'get' && o.authHttpRequestMethod !== 'post') fail('--auth-http-request-method must be get or post')
  if (!isLogLevel(o.logLevel)) fail(`invalid log level ${String(o.logLevel)}`)
  for (const p of o.e2eProcessingLatencyPercentiles) {
    if (!(p > 0 && p <= 1)) fail(`Invalid e2e processing latency percentile: ${p}`)
  }
  if (!Number.isInteger(o.maxAttempts) || o.maxAttempts < 0 || o.maxAttempts > MAX_ATTEMPTS_LIMIT) fail(`--max-attempts must be [0,${MAX_ATTEMPTS_LIMIT}]`)
  if (!(o.msgTtl >= 0)) fail('--msg-ttl must be >= 0')
  if (!Number.isSafeInteger(o.maxChannelDepth) || o.maxChannelDepth < 0) fail('--max-channel-depth must be >= 0')
  if (o.channelOverflow !== 'drop-oldest' && o.channelOverflow !== 'dead-letter') fail('--channel-overflow must be drop-oldest or dead-letter')
  for (const [name, v] of [['--msg-timeout', o.msgTimeout], ['--max-msg-size', o.maxMsgSize], ['--max-body-size', o.maxBodySize],
    ['--max-rdy-count', o.maxRdyCount], ['--max-heartbeat-interval', o.maxHeartbeatInterval]] as const) {
    if (!(v > 0)) fail(`${name} must be > 0`)
  }
}

/** Merges partial settings over the defaults, sorts the percentiles as nsqd does (descending) and validates. */
export function resolveOptions (partial: Partial<NsqdOptions> = {}): NsqdOptions {
  const o = { ...defaultOptions(), ...partial }
  o.e2eProcessingLatencyPercentiles = [...o.e2eProcessingLatencyPercentiles].sort((a, b) => b - a)
  validateOptions(o)
  return o
}
