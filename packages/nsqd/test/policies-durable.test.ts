import { describe, it, expect, afterEach } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { commands, FrameDecoder, FrameType, type ChannelPolicy, type PeekResponse } from '@nsqts/protocol'
import { waitFor } from '@nsqts/testkit'
import { spawnNsqd, killLeftovers, open, post, publishNumbered, numbered, numberOf, stats, type Daemon } from './storage-process.js'

// Delivery policies in nsqd --durable run as a process (packages/nsqd/dist: `npx tsc -b` first), killed with SIGKILL
// at random moments while messages are dead-lettered and redriven: no acknowledged message may be lost; duplicates
// (a message in two places after a crash) are allowed and counted.

const dirs: string[] = []
afterEach(async () => {
  killLeftovers()
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
})

const randomMs = (min: number, max: number): number => min + Math.floor(Math.random() * (max - min))

/**
 * Subscribes to topic/channel: REQs the bodies `poison` says, FINs the rest and records each finished body (with
 * repeats). Runs until the connection closes (the daemon is killed) or stop() is called.
 */
async function worker (
  port: number, topic: string, channel: string, poison: (n: number) => boolean, finished: string[],
): Promise<{ stop (): void }> {
  const socket = await open(port)
  const decoder = new FrameDecoder((type, data) => {
    if (type === FrameType.Message) {
      const id = data.toString('latin1', 10, 26)
      const body = data.subarray(26)
      if (poison(numberOf(body))) {
        socket.write(commands.req(id, 0))
      } else {
        finished.push(body.toString())
        socket.write(commands.fin(id))
      }
    } else if (data.toString() === '_heartbeat_') {
      socket.write(commands.NOP)
    }
  }, () => {})
  socket.on('data', (chunk) => decoder.push(chunk))
  socket.write(Buffer.concat([commands.sub(topic, channel), commands.rdy(100)]))
  return { stop: () => socket.destroy() }
}

/** Publishes numbered bodies one PUB at a time, a few in flight, recording each number answered OK. */
async function publisher (
  port: number, topic: string, next: { n: number }, acked: Set<number>,
): Promise<{ stop (): void }> {
  const socket = await open(port)
  const pending: number[] = []
  const state = { stopped: false }
  const send = (): void => {
    while (!state.stopped && pending.length < 8) {
      const n = next.n++
      pending.push(n)
      socket.write(commands.pub(topic, numbered(n, 32)))
    }
  }
  const decoder = new FrameDecoder((type, data) => {
    if (type === FrameType.Response && data.toString() === '_heartbeat_') return socket.write(commands.NOP)
    const n = pending.shift()
    if (type === FrameType.Response && n !== undefined) acked.add(n)
    send()
  }, () => {})
  socket.on('data', (chunk) => decoder.push(chunk))
  socket.on('close', () => { state.stopped = true })
  send()
  return {
    stop: () => {
      state.stopped = true
      socket.destroy()
    },
  }
}

async function depthOf (d: Daemon, topic: string, channel: string): Promise<number | undefined> {
  const t = (await stats(d.httpUrl)).find((x) => x.topic_name === topic)
  const c = t?.channels.find((x) => x.channel_name === channel)
  return c === undefined ? undefined : c.depth + c.in_flight_count + c.deferred_count
}

describe('policies in nsqd --durable: SIGKILL at random moments', () => {
  it('dead-lettering loses nothing: every acknowledged message is finished on its channel or on the dead-letter topic', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nsqts-policies-durable-'))
    dirs.push(dir)
    const args = ['--durable', '--mem-queue-size=200', '--max-attempts=2']
    const poison = (n: number): boolean => n % 5 === 0
    const acked = new Set<number>()
    const finished: string[] = []
    const dead: string[] = []
    const next = { n: 0 }

    for (let round = 0; round < 5; round++) {
      const d = await spawnNsqd(dir, args)
      if (round === 0) {
        await post(d.httpUrl, '/topic/create?topic=pd')
        await post(d.httpUrl, '/channel/create?topic=pd&channel=work')
        // Its own dead-letter topic: the policy must survive the kills too.
        await post(d.httpUrl, '/channel/policy?topic=pd&channel=work&dead_letter_topic=pd_failed')
      }
      const policy = await (await fetch(`${d.httpUrl}/channel/policy?topic=pd&channel=work`)).json() as ChannelPolicy
      expect(policy).toMatchObject({ max_attempts: 2, dead_letter_topic: 'pd_failed' })
      const w = await worker(d.tcpPort, 'pd', 'work', poison, finished)
      const w2 = await worker(d.tcpPort, 'pd_failed', 'ops', () => false, dead)
      const p = await publisher(d.tcpPort, 'pd', next, acked)
      // Kill while publishes, requeues and dead-letterings are under way.
      const target = acked.size + randomMs(200, 3000)
      await waitFor(() => acked.size >= target, 30_000, 'publishes acknowledged')
      expect(await d.stop('SIGKILL')).toBeNull()
      for (const x of [w, w2, p]) x.stop()
    }

    // The last start: let everything drain.
    const d = await spawnNsqd(dir, args)
    const w = await worker(d.tcpPort, 'pd', 'work', poison, finished)
    const w2 = await worker(d.tcpPort, 'pd_failed', 'ops', () => false, dead)
    await waitFor(async () => (await depthOf(d, 'pd', 'work')) === 0 && (await depthOf(d, 'pd_failed', 'ops')) === 0, 60_000, 'both channels drained')
    w.stop()
    w2.stop()

    const good = new Set(finished.map((b) => numberOf(Buffer.from(b))))
    const failed = new Set(dead.map((b) => numberOf(Buffer.from(b))))
    const missing = [...acked].filter((n) => !(poison(n) ? failed : good).has(n))
    const duplicates = finished.length - good.size + dead.length - failed.size
    console.log(`policies --durable: ${acked.size} acknowledged, ${good.size} finished, ${failed.size} dead-lettered, ${duplicates} duplicates`)
    expect(missing).toEqual([])
    // No poison message was ever finished on its own channel, and nothing good was dead-lettered.
    expect([...good].filter(poison)).toEqual([])
    expect([...failed].filter((n) => !poison(n))).toEqual([])
    expect(failed.size).toBeGreaterThan(0)
    expect(await d.stop('SIGTERM')).toBe(0)
  }, 180_000)

  it('a redrive killed midway leaves every message in the source or the target (duplicates at most)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nsqts-policies-redrive-'))
    dirs.push(dir)
    const args = ['--durable', '--mem-queue-size=100']
    const N = 20_000
    let d = await spawnNsqd(dir, args)
    await post(d.httpUrl, '/topic/create?topic=src.dead')
    await post(d.httpUrl, '/channel/create?topic=src.dead&channel=ops')
    await post(d.httpUrl, '/topic/create?topic=dst')
    await post(d.httpUrl, '/channel/create?topic=dst&channel=c')
    await publishNumbered(d.tcpPort, 'src.dead', N, 32, 200)
    const peek = await (await fetch(`${d.httpUrl}/channel/peek?topic=src.dead&channel=ops&n=3`)).json() as PeekResponse
    expect(peek.messages.map((m) => numberOf(Buffer.from(m.body)))).toEqual([0, 1, 2])
    // The redrive runs while the daemon is killed: its answer never comes.
    void fetch(`${d.httpUrl}/channel/redrive?topic=src.dead&channel=ops&to=dst`, { method: 'POST' }).catch(() => {})
    await waitFor(async () => ((await depthOf(d, 'dst', 'c')) ?? 0) > 0, 10_000, 'the redrive to start')
    const until = Date.now() + randomMs(0, 100)
    await waitFor(() => Date.now() >= until, 5000, 'a random moment')
    expect(await d.stop('SIGKILL')).toBeNull()

    d = await spawnNsqd(dir, args)
    const left = await depthOf(d, 'src.dead', 'ops') ?? 0
    const moved = await (await fetch(`${d.httpUrl}/channel/redrive?topic=src.dead&channel=ops&to=dst`, { method: 'POST' })).json() as { moved: number }
    expect(moved.moved).toBe(left)
    const got: string[] = []
    const w = await worker(d.tcpPort, 'dst', 'c', () => false, got)
    await waitFor(async () => (await depthOf(d, 'dst', 'c')) === 0 && (await depthOf(d, 'src.dead', 'ops')) === 0, 60_000, 'dst drained')
    w.stop()
    const seen = new Set(got.map((b) => numberOf(Buffer.from(b))))
    const missing = Array.from({ length: N }, (_, i) => i).filter((n) => !seen.has(n))
    console.log(`redrive --durable: ${N} messages, ${got.length - seen.size} duplicates after the kill`)
    expect(missing).toEqual([])
    expect(await d.stop('SIGTERM')).toBe(0)
  }, 180_000)
})
