/**
 * The cluster NSQ's nsqadmin saw when the captures were taken, rebuilt for our nsqadmin: a real nsqlookupd (ours)
 * holding the captured registrations, and an nsqd stand-in that answers /stats and /info with the captured nsqd
 * 1.3.0 bodies (filtered by topic/channel/include_clients as nsqd does) and records every admin POST it receives.
 * Replaying the real daemon's bytes is what lets the comparison with the nsqadmin captures be exact, down to the
 * connected consumer and its e2e percentiles, which a live nsqd cannot reproduce.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { loadHttpCapture, RawConn, startLookupd, type LookupdHandle } from '@nsqts/testkit'
import type { NsqdStats } from '@nsqts/client'

export interface ReplayCluster {
  lookupd: LookupdHandle
  /** host:port of the stand-in nsqd's HTTP API (its node name in nsqadmin). */
  node: string
  nsqdPort: number
  /** `METHOD /path?query` of every POST the stand-in received. */
  posts: string[]
  /** Replaces the stand-in's address with the captured 127.0.0.1:4151 and our lookupd's with 127.0.0.1:4161. */
  normalise: (json: string) => string
  close: () => Promise<void>
}

function capturedJson<T> (file: string): T {
  return JSON.parse(loadHttpCapture(file).body.toString()) as T
}

function filterStats (full: NsqdStats, q: URLSearchParams): NsqdStats {
  const stats: NsqdStats = structuredClone(full)
  const topic = q.get('topic')
  const channel = q.get('channel')
  if (topic !== null) {
    stats.topics = (stats.topics ?? []).filter((t) => t.topic_name === topic)
    if (stats.topics.length === 0) return { ...stats, topics: null, producers: null }
  }
  if (channel !== null) {
    for (const t of stats.topics ?? []) t.channels = t.channels.filter((c) => c.channel_name === channel)
  }
  if (q.get('include_clients') === 'false') {
    stats.producers = null
    for (const t of stats.topics ?? []) for (const c of t.channels) c.clients = null
  }
  if (q.get('include_mem') === 'false') delete stats.memory
  return stats
}

export async function startReplayCluster (): Promise<ReplayCluster> {
  const stats = capturedJson<NsqdStats>('nsqd_stats_json.http')
  const posts: string[] = []
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-nsq-content-type': 'nsq; version=1.0' })
      res.end(body === undefined ? '' : JSON.stringify(body))
    }
    if (req.method === 'POST') {
      posts.push(`POST ${url.pathname}${url.search}`)
      send(200, undefined)
    } else if (url.pathname === '/stats') {
      send(200, filterStats(stats, url.searchParams))
    } else if (url.pathname === '/info') {
      send(200, { ...capturedJson<object>('nsqd_info.http'), http_port: port })
    } else {
      send(404, { message: 'NOT_FOUND' })
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port

  const lookupd = await startLookupd()
  // Register the stand-in as nsqd 1.3.0 registered itself: IDENTIFY, then every topic/channel it had.
  const conn = await RawConn.open(lookupd.tcp, { magic: '  V1', mode: 'lookupd' })
  const identify = Buffer.from(JSON.stringify({ broadcast_address: '127.0.0.1', hostname: 'vm', tcp_port: 4150, http_port: port, version: '1.3.0' }))
  const size = Buffer.alloc(4)
  size.writeUInt32BE(identify.length)
  conn.write(Buffer.concat([Buffer.from('IDENTIFY\n'), size, identify]))
  await conn.frame()
  for (const line of ['REGISTER orders billing', 'REGISTER orders audit#ephemeral', 'REGISTER empty_topic']) {
    conn.write(`${line}\n`)
    await conn.frame()
  }
  // Keys lookupd kept with no producer: a topic created on lookupd only, and one deleted on nsqd.
  for (const path of ['topic/create?topic=lookup_only', 'channel/create?topic=lookup_only&channel=lc', 'topic/create?topic=scratch', 'channel/create?topic=scratch&channel=sc']) {
    const res = await fetch(`${lookupd.httpUrl}/${path}`, { method: 'POST' })
    if (!res.ok) throw new Error(`lookupd ${path}: ${res.status}`)
  }
  const localPort = conn.socket.localPort as number
  const lookupdAddr = `127.0.0.1:${lookupd.http.port}`
  return {
    lookupd,
    node: `127.0.0.1:${port}`,
    nsqdPort: port,
    posts,
    normalise: (json) => json
      .replaceAll(`127.0.0.1:${port}`, '127.0.0.1:4151')
      .replaceAll(`"http_port":${port}`, '"http_port":4151')
      .replaceAll(`${lookupdAddr}/127.0.0.1:${localPort}`, '127.0.0.1:4161/127.0.0.1:38186')
      .replaceAll(`"remote_address":"127.0.0.1:${localPort}"`, '"remote_address":"127.0.0.1:38186"'),
    async close () {
      conn.close()
      await lookupd.close()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
