import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import nsq from 'nsqjs'
import { startNsqd, startLookupd, waitFor, type NsqdHandle, type LookupdHandle } from '@nsqts/testkit'

/**
 * A cluster on loopback: 2 nsqlookupd and 3 nsqd registered with both. Lookupd timeouts are shortened so that
 * inactivity and tombstones play out in seconds.
 */
const INACTIVE_MS = 1500
const TOMBSTONE_MS = 1500
const PING_MS = 200

let lookupds: LookupdHandle[] = []
const nodes: NsqdHandle[] = []

interface Producer { broadcast_address: string, tcp_port: number, http_port: number }

async function lookup (l: LookupdHandle, topic: string): Promise<{ status: number, ports: number[] }> {
  const res = await fetch(`${l.httpUrl}/lookup?topic=${topic}`)
  const body = await res.json() as { producers?: Producer[] }
  return { status: res.status, ports: (body.producers ?? []).map((p) => p.tcp_port).sort((a, b) => a - b) }
}

const ports = (...ns: NsqdHandle[]): number[] => ns.map((n) => n.tcp.port).sort((a, b) => a - b)
const samePorts = (got: number[], want: number[]): boolean => JSON.stringify(got) === JSON.stringify(want)

beforeAll(async () => {
  lookupds = [await startLookupd({ inactiveProducerTimeout: INACTIVE_MS, tombstoneLifetime: TOMBSTONE_MS }),
    await startLookupd({ inactiveProducerTimeout: INACTIVE_MS, tombstoneLifetime: TOMBSTONE_MS })]
  const addresses = lookupds.map((l) => `127.0.0.1:${l.tcp.port}`)
  for (let i = 0; i < 3; i++) {
    nodes.push(await startNsqd({ nsqlookupdTcpAddresses: addresses, lookupdPingInterval: PING_MS }))
  }
})

afterAll(async () => {
  for (const n of nodes) await n.close()
  for (const l of lookupds) await l.close()
})

async function pub (n: NsqdHandle, topic: string, body: string): Promise<void> {
  const res = await fetch(`${n.httpUrl}/pub?topic=${topic}`, { method: 'POST', body })
  expect(res.status).toBe(200)
}

describe('a cluster of 2 nsqlookupd and 3 nsqd', () => {
  it('lists on every lookupd the producers of each topic', async () => {
    const [a, b, c] = nodes as [NsqdHandle, NsqdHandle, NsqdHandle]
    await pub(a, 'cl_orders', 'x')
    await pub(b, 'cl_orders', 'x')
    await pub(c, 'cl_audit', 'x')
    for (const l of lookupds) {
      await waitFor(async () => {
        const [orders, audit] = [await lookup(l, 'cl_orders'), await lookup(l, 'cl_audit')]
        return samePorts(orders.ports, ports(a, b)) && samePorts(audit.ports, ports(c))
      }, 5000, 'producers on each lookupd')
    }
  })

  it('an nsqjs Reader given both lookupds consumes every message from all 3 nodes exactly once', async () => {
    const perNode = 300
    const seen = new Map<string, number>()
    for (const [i, n] of nodes.entries()) {
      const body = Array.from({ length: perNode }, (_, k) => `n${i}-m${k}`).join('\n')
      expect((await fetch(`${n.httpUrl}/mpub?topic=cl_all`, { method: 'POST', body })).status).toBe(200)
    }
    const reader = new nsq.Reader('cl_all', 'ch', {
      lookupdHTTPAddresses: lookupds.map((l) => `127.0.0.1:${l.http.port}`),
      lookupdPollInterval: 1,
      maxInFlight: 50,
    })
    reader.on('error', () => {})
    reader.on('message', (msg: { body: Buffer, finish (): void }) => {
      const body = msg.body.toString()
      seen.set(body, (seen.get(body) ?? 0) + 1)
      msg.finish()
    })
    reader.connect()
    try {
      await waitFor(() => seen.size === 3 * perNode, 20_000, 'every message')
      await waitFor(() => nodes.every((n) => n.nsqd.topics.get('cl_all')?.channels.get('ch')?.inFlightCount === 0), 5000, 'all finished')
      expect([...seen.values()].every((count) => count === 1)).toBe(true)
    } finally {
      reader.close()
    }
  })

  it('filters a tombstoned node for the tombstone lifetime, then lists it again', async () => {
    const [a, b] = nodes as [NsqdHandle, NsqdHandle]
    const l = lookupds[0] as LookupdHandle
    const res = await fetch(`${l.httpUrl}/topic/tombstone?topic=cl_orders&node=127.0.0.1:${a.http.port}`, { method: 'POST' })
    expect(res.status).toBe(200)
    expect((await lookup(l, 'cl_orders')).ports).toEqual(ports(b))
    // The other lookupd knows nothing of it.
    expect((await lookup(lookupds[1] as LookupdHandle, 'cl_orders')).ports).toEqual(ports(a, b))
    await waitFor(async () => JSON.stringify((await lookup(l, 'cl_orders')).ports) === JSON.stringify(ports(a, b)), TOMBSTONE_MS * 3, 'tombstone expiry')
  })

  it('drops a node that stops answering after the inactive timeout', async () => {
    const dataPath = await mkdtemp(join(tmpdir(), 'nsqts-cluster-'))
    const bin = new URL('../packages/nsqd/dist/bin/nsqd.js', import.meta.url).pathname
    const child: ChildProcess = spawn(process.execPath, [bin, '--tcp-address=127.0.0.1:0', '--http-address=127.0.0.1:0',
      '--broadcast-address=127.0.0.1', `--data-path=${dataPath}`, `--lookupd-ping-interval=${PING_MS}ms`,
      ...lookupds.map((l) => `--lookupd-tcp-address=127.0.0.1:${l.tcp.port}`)], { stdio: ['ignore', 'ignore', 'pipe'] })
    try {
      let log = ''
      const httpPort = await new Promise<number>((resolve, reject) => {
        child.stderr?.on('data', (chunk: Buffer) => {
          log += chunk.toString()
          const m = /HTTP: listening on [^\s]+:(\d+)/.exec(log)
          if (m !== null) resolve(Number(m[1]))
        })
        child.once('exit', (code) => reject(new Error(`nsqd exited ${code}: ${log}`)))
      })
      await fetch(`http://127.0.0.1:${httpPort}/topic/create?topic=cl_frozen`, { method: 'POST' })
      const l = lookupds[1] as LookupdHandle
      await waitFor(async () => (await lookup(l, 'cl_frozen')).ports.length === 1, 5000, 'the child registered')
      // Frozen, not closed: its connection stays open but it no longer pings.
      child.kill('SIGSTOP')
      await waitFor(async () => (await lookup(l, 'cl_frozen')).ports.length === 0, INACTIVE_MS * 4, 'the frozen node filtered out')
      // The live nodes, pinging, are still listed.
      expect((await lookup(l, 'cl_orders')).ports).toHaveLength(2)
    } finally {
      child.kill('SIGKILL')
      await rm(dataPath, { recursive: true, force: true })
    }
  })

  it('repopulates a restarted lookupd from the nsqd peers', async () => {
    const old = lookupds[1] as LookupdHandle
    const port = old.tcp.port
    await old.close()
    const fresh = await startLookupd({ tcpAddress: `127.0.0.1:${port}`, inactiveProducerTimeout: INACTIVE_MS, tombstoneLifetime: TOMBSTONE_MS })
    lookupds[1] = fresh
    const [a, b, c] = nodes as [NsqdHandle, NsqdHandle, NsqdHandle]
    await waitFor(async () => {
      const [orders, audit, all] = [await lookup(fresh, 'cl_orders'), await lookup(fresh, 'cl_audit'), await lookup(fresh, 'cl_all')]
      return samePorts(orders.ports, ports(a, b)) && samePorts(audit.ports, ports(c)) && all.ports.length === 3
    }, 10_000, 'repopulated registrations')
  })
})
