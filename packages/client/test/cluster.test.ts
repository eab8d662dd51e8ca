import { describe, expect, it } from 'vitest'
import { Consumer, NsqdHttpClient, Producer } from '../src/index.js'
import type { ConsumerOptions } from '../src/index.js'
import { waitFor } from '@nsqts/testkit'
import { cleanup, lookupd, nsqd, topicName } from './helpers.js'

type Node = Awaited<ReturnType<typeof nsqd>>

/** Polls every node's /stats for the channel and keeps the peaks of Σ ready_count and Σ in_flight_count. */
function watchStats (
  nodes: Node[], topic: string, channel: string,
): { stop: () => Promise<{ ready: number, inFlight: number, polls: number }> } {
  const clients = nodes.map((n) => new NsqdHttpClient(n.httpAddress))
  const peak = { ready: 0, inFlight: 0, polls: 0 }
  const state = { running: true }
  const loop = (async () => {
    while (state.running) {
      const polls = clients.map((c) => c.stats({ topic, channel, includeMem: false }))
      const all = await Promise.all(polls).catch((err: unknown) => {
        // Only the end of a test (its nodes closing) stops the polls early.
        if (state.running) throw err
        return []
      })
      let ready = 0
      let inFlight = 0
      for (const s of all) {
        for (const ch of s.topics?.[0]?.channels ?? []) {
          for (const client of ch.clients ?? []) {
            ready += client.ready_count
            inFlight += client.in_flight_count
          }
        }
      }
      peak.ready = Math.max(peak.ready, ready)
      peak.inFlight = Math.max(peak.inFlight, inFlight)
      peak.polls++
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  })()
  const stop = async (): Promise<typeof peak> => {
    state.running = false
    await loop
    return peak
  }
  cleanup(stop)
  return { stop }
}

async function cluster (size: number): Promise<{ nodes: Node[], lookupds: string[] }> {
  const l1 = await lookupd()
  const l2 = await lookupd()
  const nodes: Node[] = []
  for (let i = 0; i < size; i++) nodes.push(await nsqd({ nsqlookupdTcpAddresses: [l1.tcpAddress, l2.tcpAddress] }))
  return { nodes, lookupds: [l1.httpAddress, l2.httpAddress] }
}

function consumer (topic: string, options: ConsumerOptions): Consumer {
  const c = new Consumer(topic, 'ch', options)
  cleanup(() => c.close())
  return c
}

describe('Consumer across nsqd nodes found through nsqlookupd', () => {
  it('100,000 messages over 3 nsqd: each handled exactly once with FIN, maxInFlight never exceeded in /stats', async () => {
    const total = 100_000
    const maxInFlight = 200
    const { nodes, lookupds } = await cluster(3)
    const topic = topicName('big')
    // The consumer starts before the topic exists anywhere: nodes are connected as lookupd starts listing them.
    const c = consumer(topic, { lookupdHttpAddresses: lookupds, maxInFlight, lookupdPollIntervalMs: 100 })
    const seen = new Uint8Array(total)
    let handled = 0
    await c.handle((msg) => {
      seen[msg.body.readUInt32BE(0)]!++
      handled++
    }, { concurrency: maxInFlight })
    const stats = watchStats(nodes, topic, 'ch')
    const producers = nodes.map((n) => new Producer(n.tcpAddress))
    for (const p of producers) cleanup(() => p.close())
    const batch = 250
    const publishing: Array<Promise<void>> = []
    for (let start = 0; start < total; start += batch) {
      const bodies = Array.from({ length: Math.min(batch, total - start) }, (_, i) => {
        const body = Buffer.alloc(32)
        body.writeUInt32BE(start + i, 0)
        return body
      })
      publishing.push(producers[(start / batch) % producers.length]!.publishMany(topic, bodies))
      // Keep a bounded number of batches on the wire.
      if (publishing.length >= 24) await publishing.shift()
    }
    await Promise.all(publishing)
    await waitFor(() => handled === total && c.stats().inFlight === 0, 50_000, 'every message handled')
    const peak = await stats.stop()
    expect(seen.every((n) => n === 1)).toBe(true)
    expect(c.stats()).toMatchObject({
      messagesReceived: total, messagesFinished: total, messagesRequeued: 0, connections: 3,
    })
    expect(peak.polls).toBeGreaterThan(5)
    expect(peak.ready).toBeGreaterThan(0)
    expect(peak.ready).toBeLessThanOrEqual(maxInFlight)
    expect(peak.inFlight).toBeLessThanOrEqual(maxInFlight)
    for (const n of nodes) {
      const ch = (await new NsqdHttpClient(n.httpAddress).stats({ topic, channel: 'ch' })).topics![0]!.channels[0]!
      expect([ch.depth, ch.in_flight_count, ch.requeue_count, ch.timeout_count]).toEqual([0, 0, 0, 0])
    }
  }, 90_000)

  it('with more nodes than maxInFlight, RDY rotates to idle-free nodes and every node is drained', async () => {
    const { nodes, lookupds } = await cluster(3)
    const topic = topicName()
    for (const n of nodes) {
      const p = new Producer(n.tcpAddress)
      await p.publishMany(topic, Array.from({ length: 50 }, (_, i) => `${n.tcp.port}-${i}`))
      await p.close()
    }
    const stats = watchStats(nodes, topic, 'ch')
    const c = consumer(topic, {
      lookupdHttpAddresses: lookupds,
      maxInFlight: 2,
      rdyRedistributeIntervalMs: 20,
      lowRdyIdleTimeoutMs: 50,
      lowRdyTimeoutMs: 100,
    })
    const seen = new Set<string>()
    await c.handle((msg) => { seen.add(msg.text()) }, { concurrency: 2 })
    expect(c.stats().connections).toBe(3)
    await waitFor(() => seen.size === 150, 20_000, 'all three nodes drained')
    const peak = await stats.stop()
    expect(peak.ready).toBeLessThanOrEqual(2)
    expect(peak.inFlight).toBeLessThanOrEqual(2)
  })
})
