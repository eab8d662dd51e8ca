import { describe, it, expect, afterEach } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { commands, FrameDecoder, FrameType, type ChannelStats, type NsqdStats } from '@nsqts/protocol'
import { waitFor } from '@nsqts/testkit'
import { spawnNsqd, killLeftovers, open, publishNumbered, consumeUntil, numberOf, post, stats, type Received } from './storage-process.js'

// nsqd as a process (packages/nsqd/dist: run `npx tsc -b` first), stopped with SIGTERM and started again.

const dirs: string[] = []
afterEach(async () => {
  killLeftovers()
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
})

async function dataDir (): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'nsqts-restart-'))
  dirs.push(dir)
  return dir
}

async function channelStats (base: string, topic: string, channel: string): Promise<ChannelStats | undefined> {
  const res = await fetch(`${base}/stats?format=json&topic=${topic}&channel=${channel}`)
  const body = await res.json() as NsqdStats
  return body.topics?.[0]?.channels[0]
}

async function dpub (port: number, topic: string, deferMs: number, body: string): Promise<void> {
  const socket = await open(port)
  await new Promise<void>((resolve, reject) => {
    const decoder = new FrameDecoder((type, data) => {
      if (type === FrameType.Response && data.toString() === 'OK') resolve()
      else reject(new Error(data.toString()))
    }, reject)
    socket.on('data', (chunk) => decoder.push(chunk))
    socket.write(commands.dpub(topic, deferMs, body))
  })
  socket.destroy()
}

describe('nsqd process: SIGTERM and restart', () => {
  it('keeps 100,000 messages (--mem-queue-size=1000), topics, channels, paused flags and a 30 s DPUB', async () => {
    const dir = await dataDir()
    const a = await spawnNsqd(dir, ['--mem-queue-size=1000'])
    await post(a.httpUrl, '/topic/create?topic=big')
    await post(a.httpUrl, '/channel/create?topic=big&channel=ch')
    await post(a.httpUrl, '/channel/create?topic=big&channel=held_ch')
    await post(a.httpUrl, '/channel/pause?topic=big&channel=held_ch')
    await post(a.httpUrl, '/channel/create?topic=big&channel=e%23ephemeral')
    await post(a.httpUrl, '/topic/create?topic=stopped')
    await post(a.httpUrl, '/channel/create?topic=stopped&channel=c')
    await post(a.httpUrl, '/topic/pause?topic=stopped')
    await publishNumbered(a.tcpPort, 'big', 100_000, 200, 100)
    await dpub(a.tcpPort, 'big', 30_000, 'deferred-30s')
    expect(await a.stop('SIGTERM')).toBe(0)

    const b = await spawnNsqd(dir, ['--mem-queue-size=1000'])
    const topics = await stats(b.httpUrl)
    const summary = topics.map((t) => ({
      topic: t.topic_name,
      paused: t.paused,
      channels: t.channels.map((c) => [c.channel_name, c.paused, c.depth, c.deferred_count]).sort(),
    })).sort((x, y) => x.topic.localeCompare(y.topic))
    expect(summary).toEqual([
      { topic: 'big', paused: false, channels: [['ch', false, 100_000, 1], ['held_ch', true, 100_000, 1]] },
      { topic: 'stopped', paused: true, channels: [['c', false, 0, 0]] },
    ])

    const got = await consumeUntil(b.tcpPort, 'big', 'ch', (got) => got.length >= 100_000, 60_000)
    const seen = new Uint8Array(100_000)
    for (const m of got) {
      const n = numberOf(m.body)
      expect(m.body.length).toBe(200)
      seen[n] = (seen[n] ?? 0) + 1
    }
    expect(seen.every((count) => count === 1)).toBe(true)
    const after = (await stats(b.httpUrl)).find((t) => t.topic_name === 'big')?.channels.find((c) => c.channel_name === 'ch')
    // Nothing more to deliver, nothing in flight (every message once), and the DPUB still deferred.
    expect([after?.depth, after?.in_flight_count, after?.deferred_count]).toEqual([0, 0, 1])
    expect(await b.stop('SIGTERM')).toBe(0)
  }, 120_000)

  it('default mode, SIGKILL mid-backlog: every message on disk and not yet delivered comes back', async () => {
    const dir = await dataDir()
    const args = ['--mem-queue-size=100']
    const a = await spawnNsqd(dir, args)
    await post(a.httpUrl, '/topic/create?topic=kill')
    await post(a.httpUrl, '/channel/create?topic=kill&channel=ch')
    await publishNumbered(a.tcpPort, 'kill', 20_000, 100, 100)
    // Reads into the backlog, most likely to the middle of a chunk, then stops with RDY 0 and stays connected, so
    // that every message nsqd handed out reaches this consumer and none is requeued into memory.
    const socket = await open(a.tcpPort)
    const first: number[] = []
    const decoder = new FrameDecoder((type, data) => {
      if (type !== FrameType.Message) return
      first.push(numberOf(data.subarray(26)))
      socket.write(commands.fin(data.toString('latin1', 10, 26)))
      if (first.length === 7_003) socket.write(commands.rdy(0))
    }, () => {})
    socket.on('data', (chunk) => decoder.push(chunk))
    socket.write(Buffer.concat([commands.sub('kill', 'ch'), commands.rdy(500)]))
    await waitFor(() => first.length >= 7_003, 30_000, '7,003 messages')
    // Every message nsqd handed out has reached this consumer: its RDY 0 is in force and nothing is in flight, so the
    // kill (no clean exit) loses no message to the network. Whether nsqd has stored what the reads did by then or
    // not, a chunk removed too early would show as a missing message below.
    await waitFor(async () => {
      const ch = await channelStats(a.httpUrl, 'kill', 'ch')
      return ch?.in_flight_count === 0 && ch.clients?.length === 1 && ch.clients.every((c) => c.ready_count === 0)
    }, 10_000, 'RDY 0 in force and nothing in flight')
    expect(await a.stop('SIGKILL')).toBeNull()
    socket.destroy()

    const delivered = new Set(first)
    const missing = new Set(Array.from({ length: 20_000 }, (_, n) => n).filter((n) => !delivered.has(n)))
    const b = await spawnNsqd(dir, args)
    // A chunk read in part when nsqd died comes back whole: some delivered ones may come again, none may be missing.
    let checked = 0
    await consumeUntil(b.tcpPort, 'kill', 'ch', (got) => {
      for (; checked < got.length; checked++) missing.delete(numberOf((got[checked] as Received).body))
      return missing.size === 0
    }, 30_000).catch((err: Error) => {
      throw new Error(`${err.message}; ${missing.size} never delivered are missing, e.g. ${[...missing].slice(0, 5).join(', ')}`)
    })
    expect(missing.size).toBe(0)
    expect(await b.stop('SIGTERM')).toBe(0)
  }, 120_000)
})
