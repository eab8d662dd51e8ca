import type { RouteTable } from './router.js'
import type { HttpBroker } from './broker.js'
import { VERSION } from '../version.js'
import { healthText } from '../stats.js'
import { sendPlain, sendV1 } from './respond.js'

/** GET /ping (plain text, no V1 header: load balancers read it) and GET /info. */
export function pingRoutes (app: RouteTable, nsqd: HttpBroker): void {
  app.get('/ping', async (call) => {
    await sendPlain(call, nsqd.health === undefined ? 200 : 500, healthText(nsqd))
  })

  app.get('/info', async (call) => {
    const o = nsqd.options
    await sendV1(call, {
      version: VERSION,
      broadcast_address: o.broadcastAddress,
      hostname: nsqd.hostname,
      // The bound ports, not the broadcast ones.
      http_port: nsqd.httpAddress.port,
      tcp_port: nsqd.tcpAddress.port,
      start_time: nsqd.startTime,
      // Go durations: nanoseconds.
      max_heartbeat_interval: o.maxHeartbeatInterval * 1e6,
      max_output_buffer_size: o.maxOutputBufferSize,
      max_output_buffer_timeout: o.maxOutputBufferTimeout * 1e6,
      max_deflate_level: o.maxDeflateLevel,
    })
  })
}
