import { describe, it, expect, afterEach } from 'vitest'
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { waitFor } from '@nsqts/testkit'
import { spawnNsqd, killLeftovers, publishNumbered, type Daemon } from './storage-process.js'

// 2,000 consumers of one nsqd (a process, from packages/nsqd/dist) lose it to kill -9, and once it is back all dial
// at once (and again every 20 ms until they are in). nsqd must stay up and keep answering /ping the whole time.

const CLIENTS = 2000
// Issue 14's bound. The file runs alone (vitest.config.ts), so the /ping sampler in this process and nsqd share the
// machine with nothing of the suite's.
const PING_BOUND_MS = 100
const CLIENTS_BIN = new URL('./storm-clients.mjs', import.meta.url).pathname

const dirs: string[] = []
let clients: ChildProcess | undefined
afterEach(async () => {
  clients?.kill('SIGKILL')
  clients = undefined
  killLeftovers()
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
})

/** Why this process's children cannot hold `wanted` open files (the soft limit they inherit), or undefined. */
function tooFewFiles (wanted: number): string | undefined {
  const limit = execFileSync('sh', ['-c', 'ulimit -n']).toString().trim()
  return limit === 'unlimited' || Number(limit) >= wanted ? undefined : `ulimit -n is ${limit}, ${wanted} needed`
}

/** Samples GET /ping back to back; `max` is the slowest answer seen, `failures` the ones that were not 200 OK. */
function pingSampler (base: string): { stop: () => Promise<{ max: number, samples: number, failures: string[] }> } {
  const state = { running: true }
  let max = 0
  let samples = 0
  const failures: string[] = []
  const loop = (async () => {
    while (state.running) {
      const t = performance.now()
      try {
        const res = await fetch(`${base}/ping`, { signal: AbortSignal.timeout(5000) })
        const text = await res.text()
        if (res.status !== 200 || text !== 'OK') failures.push(`${res.status} ${text}`)
      } catch (err) {
        failures.push((err as Error).message)
      }
      max = Math.max(max, performance.now() - t)
      samples++
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  })()
  return {
    async stop () {
      state.running = false
      await loop
      return { max, samples, failures }
    },
  }
}

describe('reconnect storm', () => {
  it(`${CLIENTS} consumers reconnect at once to a restarted nsqd: it stays up and answers every /ping within ${PING_BOUND_MS} ms`, async (ctx) => {
    // nsqd holds a descriptor per client, the client process one per connection.
    const refused = tooFewFiles(CLIENTS + 1000)
    if (refused !== undefined) {
      console.warn(`reconnect-storm test skipped: ${refused}`)
      ctx.skip()
      return
    }
    const dir = await mkdtemp(join(tmpdir(), 'nsqts-storm-'))
    dirs.push(dir)
    const first: Daemon = await spawnNsqd(dir, ['--durable'])
    const fixed = [`--tcp-address=127.0.0.1:${first.tcpPort}`, `--http-address=${first.httpUrl.slice('http://'.length)}`, '--durable']
    await publishNumbered(first.tcpPort, 'storm', 20_000, 100, 200)

    const child = spawn(process.execPath, [CLIENTS_BIN, String(first.tcpPort), String(CLIENTS), 'storm', 'ch'],
      { stdio: ['pipe', 'pipe', 'inherit'] })
    clients = child
    let out = ''
    child.stdout?.on('data', (chunk: Buffer) => { out += chunk.toString() })
    const lastSubscribed = (): number => Number([...out.matchAll(/subscribed (\d+)/g)].at(-1)?.[1] ?? -1)
    await waitFor(() => lastSubscribed() === CLIENTS, 60_000, `${CLIENTS} subscribed`)

    expect(await first.stop('SIGKILL')).toBeNull()
    await waitFor(() => lastSubscribed() === 0, 30_000, 'every client noticing the kill')
    const second = await spawnNsqd(dir, fixed)
    // A new process answers its first requests slowly whatever its load: those are not the storm's.
    for (let i = 0; i < 20; i++) await fetch(`${second.httpUrl}/ping`).then((res) => res.text())
    const sampler = pingSampler(second.httpUrl)
    child.stdin?.write('go\n')
    await waitFor(() => lastSubscribed() === CLIENTS, 60_000, `${CLIENTS} subscribed again`)
    // A settled crowd: heartbeats only.
    const settled = Date.now() + 2000
    await waitFor(() => Date.now() > settled, 3000, 'two seconds')
    const ping = await sampler.stop()
    console.log(`reconnect storm: ${ping.samples} /ping, slowest ${ping.max.toFixed(1)} ms`)
    // The reconnected crowd gets new messages too (the first ones were all delivered before the kill).
    const finishedNow = (): number => Number([...out.matchAll(/finished (\d+)/g)].at(-1)?.[1] ?? 0)
    const before = finishedNow()
    await publishNumbered(second.tcpPort, 'storm', 10_000, 100, 200)
    await waitFor(() => finishedNow() >= before + 10_000, 30_000, 'messages delivered to the reconnected clients')

    expect(ping.failures).toEqual([])
    expect(ping.samples).toBeGreaterThan(20)
    expect(ping.max, `slowest /ping of ${ping.samples} during the storm`).toBeLessThan(PING_BOUND_MS)
    expect(await second.stop('SIGTERM')).toBe(0)
  }, 240_000)
})
