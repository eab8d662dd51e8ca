import type { HttpCall, RouteTable } from './router.js'
import { LOG_LEVELS, type LogLevelName } from '@nsqts/protocol'
import type { HttpBroker } from './broker.js'
import { HttpError, readBody, sendV1 } from './respond.js'
import { statsdPrefix } from '../statsd.js'

type ConfigValue = string | number | boolean | readonly string[] | readonly number[]

const ns = (ms: number): number => Math.round(ms * 1e6)

/**
 * Every option GET /config/<name> knows, under nsqd 1.3.0's config names (the `cfg` name: `id`, not `node_id`),
 * with NSQ's value types: durations in nanoseconds, log_level as its number, ports as bound.
 */
type OptionGetter = (nsqd: HttpBroker) => ConfigValue
const OPTIONS: ReadonlyMap<string, OptionGetter> = new Map<string, OptionGetter>([
  ['id', (d) => d.options.nodeId],
  ['log_level', (d) => LOG_LEVELS[d.options.logLevel]],
  ['log_prefix', (d) => d.options.logPrefix],
  ['tcp_address', (d) => d.options.tcpAddress],
  ['http_address', (d) => d.options.httpAddress],
  ['https_address', (d) => d.options.httpsAddress],
  ['broadcast_address', (d) => d.options.broadcastAddress],
  ['broadcast_tcp_port', (d) => d.broadcastTcpPort],
  ['broadcast_http_port', (d) => d.broadcastHttpPort],
  ['nsqlookupd_tcp_addresses', (d) => d.options.nsqlookupdTcpAddresses],
  ['auth_http_addresses', (d) => d.options.authHttpAddresses],
  ['http_client_connect_timeout', (d) => ns(d.options.httpClientConnectTimeout)],
  ['http_client_request_timeout', (d) => ns(d.options.httpClientRequestTimeout)],
  ['data_path', (d) => d.options.dataPath],
  ['mem_queue_size', (d) => d.options.memQueueSize],
  ['max_bytes_per_file', (d) => d.options.maxBytesPerFile],
  ['sync_every', (d) => d.options.syncEvery],
  ['sync_timeout', (d) => ns(d.options.syncTimeout)],
  ['queue_scan_selection_count', (d) => d.options.queueScanSelectionCount],
  ['queue_scan_worker_pool_max', (d) => d.options.queueScanWorkerPoolMax],
  ['msg_timeout', (d) => ns(d.options.msgTimeout)],
  ['max_msg_timeout', (d) => ns(d.options.maxMsgTimeout)],
  ['max_msg_size', (d) => d.options.maxMsgSize],
  ['max_body_size', (d) => d.options.maxBodySize],
  ['max_req_timeout', (d) => ns(d.options.maxReqTimeout)],
  ['max_heartbeat_interval', (d) => ns(d.options.maxHeartbeatInterval)],
  ['max_rdy_count', (d) => d.options.maxRdyCount],
  ['max_output_buffer_size', (d) => d.options.maxOutputBufferSize],
  ['max_output_buffer_timeout', (d) => ns(d.options.maxOutputBufferTimeout)],
  ['min_output_buffer_timeout', (d) => ns(d.options.minOutputBufferTimeout)],
  ['output_buffer_timeout', (d) => ns(d.options.outputBufferTimeout)],
  ['max_channel_consumers', (d) => d.options.maxChannelConsumers],
  ['statsd_address', (d) => d.options.statsdAddress],
  ['statsd_prefix', statsdPrefix],
  ['statsd_interval', (d) => ns(d.options.statsdInterval)],
  ['statsd_mem_stats', (d) => d.options.statsdMemStats],
  ['statsd_udp_packet_size', (d) => d.options.statsdUdpPacketSize],
  ['statsd_exclude_ephemeral', (d) => d.options.statsdExcludeEphemeral],
  ['e2e_processing_latency_window_time', (d) => ns(d.options.e2eProcessingLatencyWindowTime)],
  ['e2e_processing_latency_percentiles', (d) => d.options.e2eProcessingLatencyPercentiles],
  ['tls_cert', (d) => d.options.tlsCert],
  ['tls_key', (d) => d.options.tlsKey],
  ['tls_client_auth_policy', (d) => d.options.tlsClientAuthPolicy],
  ['tls_root_ca_file', (d) => d.options.tlsRootCaFile],
  ['tls_required', (d) => d.options.tlsRequired],
  ['tls_min_version', (d) => d.options.tlsMinVersion],
  ['deflate', (d) => d.options.deflate],
  ['max_deflate_level', (d) => d.options.maxDeflateLevel],
  ['snappy', (d) => d.options.snappy],
])

/** Strings go out raw as text (an empty one as an empty body), everything else as JSON. */
function sendOption (nsqd: HttpBroker, call: HttpCall, name: string): Promise<void> {
  const get = OPTIONS.get(name)
  if (get === undefined) throw new HttpError(400, 'INVALID_OPTION')
  const value = get(nsqd)
  return sendV1(call, typeof value === 'string' ? (value === '' ? null : value) : value)
}

function parseAddresses (body: Buffer): string[] {
  let value: unknown
  try {
    value = JSON.parse(body.toString('utf8'))
  } catch {
    throw new HttpError(400, 'INVALID_VALUE')
  }
  // Go decodes into a []string: null empties the list, anything but an array of strings is refused.
  if (value === null) return []
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw new HttpError(400, 'INVALID_VALUE')
  return value as string[]
}

function parseLogLevel (body: Buffer): LogLevelName {
  // Case-insensitive but not trimmed, like nsqd: "info\n" is refused.
  const name = body.toString('utf8').toLowerCase()
  if (!Object.hasOwn(LOG_LEVELS, name)) throw new HttpError(400, 'INVALID_VALUE')
  return name as LogLevelName
}

/** GET /config/:opt reads any option; PUT changes the two nsqd allows at runtime and answers the new value. */
export function configRoutes (app: RouteTable, nsqd: HttpBroker): void {
  // httprouter does not match an empty parameter: /config/ is the router's 404.
  app.get('/config/:opt', async (call) => {
    await sendOption(nsqd, call, call.param)
  })

  app.put('/config/:opt', async (call) => {
    const opt = call.param
    // The body is checked before the name: an empty PUT to any option is 413.
    const body = await readBody(call, nsqd.options.maxMsgSize)
    if (body.tooBig || body.data.length === 0) throw new HttpError(413, 'INVALID_VALUE')
    switch (opt) {
      case 'nsqlookupd_tcp_addresses':
        nsqd.setLookupdAddresses(parseAddresses(body.data))
        break
      case 'log_level':
        // The logger reads the level on every line.
        nsqd.options.logLevel = parseLogLevel(body.data)
        break
      default:
        throw new HttpError(400, 'INVALID_OPTION')
    }
    await sendOption(nsqd, call, opt)
  })
}
