import type { RouteTable } from './router.js'
import type { HttpBroker } from './broker.js'
import { VERSION } from '../version.js'
import { collectStats, healthText, memStats } from '../stats.js'
import { first } from './query.js'
import { queryOf, sendV1 } from './respond.js'
import { formatTextStats } from './stats-text.js'

/** include_clients / include_mem: true/1/false/0, anything else (or nothing) means true. */
function flag (value: string | undefined): boolean {
  return !(value === 'false' || value === '0')
}

interface StoreDamageStats { set_aside: number, skipped_records: number, repaired: boolean, log_bytes_dropped: number }

function storeDamage (nsqd: HttpBroker): { store_damage?: StoreDamageStats } {
  const d = nsqd.store?.damage
  if (d === undefined || (d.setAside === 0 && d.skippedRecords === 0 && !d.repaired && d.droppedLogBytes === 0)) {
    return {}
  }
  return {
    store_damage: {
      set_aside: d.setAside,
      skipped_records: d.skippedRecords,
      repaired: d.repaired,
      log_bytes_dropped: d.droppedLogBytes,
    },
  }
}

/** GET /stats: text unless format=json; topic, channel, include_clients and include_mem filters. */
export function statsRoutes (app: RouteTable, nsqd: HttpBroker): void {
  app.get('/stats', async (call) => {
    const query = queryOf(call)
    const includeMem = flag(first(query, 'include_mem'))
    const stats = collectStats(nsqd, {
      topic: first(query, 'topic') ?? '',
      channel: first(query, 'channel') ?? '',
      includeClients: flag(first(query, 'include_clients')),
    })
    const memory = includeMem ? memStats() : undefined
    const health = healthText(nsqd)
    if (first(query, 'format') !== 'json') {
      await sendV1(call, formatTextStats(stats, memory, {
        banner: `nsqd v${VERSION} (built w/nsqts)`,
        startTime: nsqd.startTime,
        uptimeNs: process.hrtime.bigint() - nsqd.startedAtHr,
        health,
        nowMs: Date.now(),
      }))
      return
    }
    await sendV1(call, {
      version: VERSION,
      health,
      start_time: nsqd.startTime,
      topics: stats.topics,
      // include_mem=false leaves the key out altogether.
      ...(memory === undefined ? {} : { memory }),
      producers: stats.producers,
      // nsqts: damage the store found and worked around (see storage.md); absent when there is none, as in NSQ.
      ...storeDamage(nsqd),
    })
  })
}
