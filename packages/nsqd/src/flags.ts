import { parseDuration, type ConfigValue } from '@nsqts/protocol'
import type { NsqdOptions } from './options.js'
import { parseTlsMinVersion, parseTlsRequired } from './tcp/tls.js'

/** tlsRequired and tlsVersion take NSQ's spellings (true/false/tcp-https, tls1.0..tls1.3) and store its numbers. */
type Kind = 'string' | 'int' | 'bool' | 'duration' | 'strings' | 'floats' | 'tlsRequired' | 'tlsVersion'

export interface FlagSpec {
  /** NSQ's command-line name, without dashes. */
  flag: string
  key: keyof NsqdOptions
  kind: Kind
  help: string
  /** The config-file (and GET /config) name when it differs from the flag with - replaced by _. */
  cfg?: string
}

/** nsqd's flags: one table for the command line, the config file and their help text. */
export const NSQD_FLAGS: readonly FlagSpec[] = [
  { flag: 'node-id', key: 'nodeId', kind: 'int', help: 'unique part for message IDs, (int) in range [0,1024) (default is hash of hostname)', cfg: 'id' },
  { flag: 'log-level', key: 'logLevel', kind: 'string', help: 'set log verbosity: debug, info, warn, error, or fatal' },
  { flag: 'log-prefix', key: 'logPrefix', kind: 'string', help: 'log message prefix' },
  { flag: 'tcp-address', key: 'tcpAddress', kind: 'string', help: '<addr>:<port> to listen on for TCP clients' },
  { flag: 'http-address', key: 'httpAddress', kind: 'string', help: '<addr>:<port> to listen on for HTTP clients ("" disables)' },
  { flag: 'https-address', key: 'httpsAddress', kind: 'string', help: '<addr>:<port> to listen on for HTTPS clients' },
  { flag: 'broadcast-address', key: 'broadcastAddress', kind: 'string', help: 'address that will be registered with lookupd (defaults to the OS hostname)' },
  { flag: 'broadcast-tcp-port', key: 'broadcastTcpPort', kind: 'int', help: 'TCP port that will be registered with lookupd (defaults to the TCP port that this nsqd is listening on)' },
  { flag: 'broadcast-http-port', key: 'broadcastHttpPort', kind: 'int', help: 'HTTP port that will be registered with lookupd (defaults to the HTTP port that this nsqd is listening on)' },
  { flag: 'lookupd-tcp-address', key: 'nsqlookupdTcpAddresses', kind: 'strings', help: 'lookupd TCP address (may be given multiple times)', cfg: 'nsqlookupd_tcp_addresses' },
  { flag: 'lookupd-ping-interval', key: 'lookupdPingInterval', kind: 'duration', help: '(nsqts) how often to PING each nsqlookupd; keep it under their --inactive-producer-timeout' },
  { flag: 'lookupd-http-bearer-token', key: 'lookupdHttpBearerToken', kind: 'string', help: '(nsqts) token nsqd sends to the HTTP API of nsqlookupds started with --http-bearer-token' },
  { flag: 'auth-http-address', key: 'authHttpAddresses', kind: 'strings', help: '<addr>:<port> or a full url to query auth server (may be given multiple times)', cfg: 'auth_http_addresses' },
  { flag: 'auth-http-request-method', key: 'authHttpRequestMethod', kind: 'string', help: 'HTTP method to use for auth server requests (get or post)' },
  { flag: 'http-client-connect-timeout', key: 'httpClientConnectTimeout', kind: 'duration', help: 'timeout for HTTP connect' },
  { flag: 'http-client-request-timeout', key: 'httpClientRequestTimeout', kind: 'duration', help: 'timeout for HTTP request' },
  { flag: 'data-path', key: 'dataPath', kind: 'string', help: 'path to store disk-backed messages' },
  { flag: 'mem-queue-size', key: 'memQueueSize', kind: 'int', help: 'number of messages to keep in memory (per topic/channel)' },
  { flag: 'max-bytes-per-file', key: 'maxBytesPerFile', kind: 'int', help: 'number of bytes per diskqueue file before rolling' },
  { flag: 'sync-every', key: 'syncEvery', kind: 'int', help: 'number of messages per diskqueue fsync' },
  { flag: 'sync-timeout', key: 'syncTimeout', kind: 'duration', help: 'duration of time per diskqueue fsync' },
  { flag: 'durable', key: 'durable', kind: 'bool', help: '(nsqts) answer PUB/MPUB/DPUB only once synced to disk and keep every message on disk until FIN, so a crash loses no acknowledged message' },
  { flag: 'max-attempts', key: 'maxAttempts', kind: 'int', help: '(nsqts) default for channels: a message that would be delivered more often goes to the channel\'s dead-letter topic (0 = no limit)' },
  { flag: 'msg-ttl', key: 'msgTtl', kind: 'duration', help: '(nsqts) default for channels: messages older than this (since publish) are not delivered (0 = no limit)' },
  { flag: 'max-channel-depth', key: 'maxChannelDepth', kind: 'int', help: '(nsqts) default for channels: most queued messages a channel keeps (0 = no limit)' },
  { flag: 'channel-overflow', key: 'channelOverflow', kind: 'string', help: '(nsqts) what goes when a channel at --max-channel-depth gets one more: drop-oldest or dead-letter' },
  { flag: 'queue-scan-worker-pool-max', key: 'queueScanWorkerPoolMax', kind: 'int', help: 'max concurrency for checking in-flight and deferred message timeouts' },
  { flag: 'queue-scan-selection-count', key: 'queueScanSelectionCount', kind: 'int', help: 'number of channels to check per cycle (every 100ms) for in-flight and deferred timeouts' },
  { flag: 'msg-timeout', key: 'msgTimeout', kind: 'duration', help: 'default duration to wait before auto-requeing a message' },
  { flag: 'max-msg-timeout', key: 'maxMsgTimeout', kind: 'duration', help: 'maximum duration before a message will timeout' },
  { flag: 'max-msg-size', key: 'maxMsgSize', kind: 'int', help: 'maximum size of a single message in bytes' },
  { flag: 'max-req-timeout', key: 'maxReqTimeout', kind: 'duration', help: 'maximum requeuing timeout for a message' },
  { flag: 'max-body-size', key: 'maxBodySize', kind: 'int', help: 'maximum size of a single command body' },
  { flag: 'max-heartbeat-interval', key: 'maxHeartbeatInterval', kind: 'duration', help: 'maximum client configurable duration of time between client heartbeats' },
  { flag: 'max-rdy-count', key: 'maxRdyCount', kind: 'int', help: 'maximum RDY count for a client' },
  { flag: 'max-output-buffer-size', key: 'maxOutputBufferSize', kind: 'int', help: 'maximum client configurable size (in bytes) for a client output buffer' },
  { flag: 'max-output-buffer-timeout', key: 'maxOutputBufferTimeout', kind: 'duration', help: 'maximum client configurable duration of time between flushing to a client' },
  { flag: 'min-output-buffer-timeout', key: 'minOutputBufferTimeout', kind: 'duration', help: 'minimum client configurable duration of time between flushing to a client' },
  { flag: 'output-buffer-timeout', key: 'outputBufferTimeout', kind: 'duration', help: 'default duration of time between flushing data to clients' },
  { flag: 'max-channel-consumers', key: 'maxChannelConsumers', kind: 'int', help: 'maximum channel consumer connection count per nsqd instance (default 0, i.e., unlimited)' },
  { flag: 'statsd-address', key: 'statsdAddress', kind: 'string', help: 'UDP <addr>:<port> of a statsd daemon for pushing stats' },
  { flag: 'statsd-prefix', key: 'statsdPrefix', kind: 'string', help: 'prefix used for keys sent to statsd (%s for host replacement)' },
  { flag: 'statsd-interval', key: 'statsdInterval', kind: 'duration', help: 'duration between pushing to statsd' },
  { flag: 'statsd-mem-stats', key: 'statsdMemStats', kind: 'bool', help: 'toggle sending memory and GC stats to statsd' },
  { flag: 'statsd-udp-packet-size', key: 'statsdUdpPacketSize', kind: 'int', help: 'the size in bytes of statsd UDP packets' },
  { flag: 'statsd-exclude-ephemeral', key: 'statsdExcludeEphemeral', kind: 'bool', help: 'Skip ephemeral topics and channels when sending stats to statsd' },
  { flag: 'e2e-processing-latency-window-time', key: 'e2eProcessingLatencyWindowTime', kind: 'duration', help: 'calculate end to end latency quantiles for this duration of time' },
  { flag: 'e2e-processing-latency-percentile', key: 'e2eProcessingLatencyPercentiles', kind: 'floats', help: 'message processing time percentiles (as float (0, 1.0]) to track (can be specified multiple times or comma separated)', cfg: 'e2e_processing_latency_percentiles' },
  { flag: 'tls-cert', key: 'tlsCert', kind: 'string', help: 'path to certificate file' },
  { flag: 'tls-key', key: 'tlsKey', kind: 'string', help: 'path to key file' },
  { flag: 'tls-client-auth-policy', key: 'tlsClientAuthPolicy', kind: 'string', help: 'client certificate auth policy (\'require\' or \'require-verify\')' },
  { flag: 'tls-root-ca-file', key: 'tlsRootCaFile', kind: 'string', help: 'path to certificate authority file' },
  { flag: 'tls-required', key: 'tlsRequired', kind: 'tlsRequired', help: 'require TLS for client connections (true, false, tcp-https)' },
  { flag: 'tls-min-version', key: 'tlsMinVersion', kind: 'tlsVersion', help: 'minimum TLS version (tls1.0, tls1.1, tls1.2, tls1.3)' },
  { flag: 'http-bearer-token', key: 'httpBearerToken', kind: 'string', help: '(nsqts) require "Authorization: Bearer <token>" on the HTTP API (except /ping)' },
  { flag: 'deflate', key: 'deflate', kind: 'bool', help: 'enable deflate feature negotiation (client compression)' },
  { flag: 'max-deflate-level', key: 'maxDeflateLevel', kind: 'int', help: 'max deflate compression level a client can negotiate (> values == > nsqd CPU usage)' },
  { flag: 'snappy', key: 'snappy', kind: 'bool', help: 'enable snappy feature negotiation (client compression)' },
  { flag: 'topology-region', key: 'topologyRegion', kind: 'string', help: 'A region represents a larger physical area' },
  { flag: 'topology-zone', key: 'topologyZone', kind: 'string', help: 'A zone represents a logical failure domain' },
]

/** Converts one raw value (a flag's text or a config-file value) to the option's type; throws with a readable text. */
export function convertValue (spec: FlagSpec, raw: ConfigValue, previous?: unknown): unknown {
  const where = `--${spec.flag}`
  const asText = (v: ConfigValue): string => (Array.isArray(v) ? v.join(',') : String(v))
  switch (spec.kind) {
    case 'string':
      return asText(raw)
    case 'int': {
      const n = typeof raw === 'number' ? raw : Number(asText(raw))
      if (!Number.isInteger(n)) throw new Error(`invalid value "${asText(raw)}" for flag ${where}: parse error`)
      return n
    }
    case 'bool': {
      if (typeof raw === 'boolean') return raw
      const t = asText(raw)
      if (['true', '1', 't', 'T', 'TRUE', 'True'].includes(t)) return true
      if (['false', '0', 'f', 'F', 'FALSE', 'False'].includes(t)) return false
      throw new Error(`invalid boolean value "${t}" for flag ${where}`)
    }
    case 'duration': {
      const ms = typeof raw === 'number' ? raw / 1e6 : parseDuration(asText(raw))
      if (ms === undefined) throw new Error(`invalid value "${asText(raw)}" for flag ${where}: invalid duration`)
      return ms
    }
    case 'strings': {
      const items = Array.isArray(raw) ? raw.map(asText) : [asText(raw)]
      return [...(Array.isArray(previous) ? previous as string[] : []), ...items.filter((s) => s !== '')]
    }
    case 'tlsRequired':
      return parseTlsRequired(typeof raw === 'boolean' ? String(raw) : asText(raw))
    case 'tlsVersion':
      return parseTlsMinVersion(asText(raw))
    case 'floats': {
      const items = (Array.isArray(raw) ? raw.map(asText) : asText(raw).split(',')).filter((s) => s.trim() !== '')
      const nums = items.map((s) => {
        const n = Number(s)
        if (!Number.isFinite(n)) throw new Error(`invalid value "${s}" for flag ${where}`)
        return n
      })
      return [...(Array.isArray(previous) ? previous as number[] : []), ...nums]
    }
  }
}
