import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Consumer, Producer } from '../src/index.js'
import type { ConsumerOptions, Message } from '../src/index.js'
import { waitFor } from '@nsqts/testkit'
import { cleanup, deferred, nsqd, topicName } from './helpers.js'
import { memoryBackendFactory } from '@nsqts/nsqd/internal'

function consumer (topic: string, options: ConsumerOptions, channel = 'ch'): Consumer {
  const c = new Consumer(topic, channel, options)
  cleanup(() => c.close())
  return c
}

async function publish (address: string, topic: string, bodies: string[]): Promise<void> {
  const p = new Producer(address)
  try {
    for (let i = 0; i < bodies.length; i += 500) await p.publishMany(topic, bodies.slice(i, i + 500))
  } finally {
    await p.close()
  }
}

const range = (n: number, prefix = 'm'): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`)

describe('Consumer (against nsqd)', () => {
  it('handler style: resolve finishes, every message once', async () => {
    const d = await nsqd()
    const topic = topicName()
    await publish(d.tcpAddress, topic, range(1000))
    const c = consumer(topic, { nsqdTcpAddresses: d.tcpAddress, maxInFlight: 50 })
    const seen = new Set<string>()
    const connected = deferred<string>()
    c.on('connected', connected.resolve)
    await c.handle(async (msg) => { seen.add(msg.text()) }, { concurrency: 10 })
    expect(await connected.promise).toBe(d.tcpAddress)
    await waitFor(() => c.stats().messagesFinished === 1000, 10_000, '1000 FINs')
    expect(seen.size).toBe(1000)
    expect(c.stats()).toMatchObject({
      messagesReceived: 1000, messagesRequeued: 0, connections: 1, inFlight: 0, backoffLevel: 0,
    })
  })

  it('iterator style: messages are answered by hand and leaving the loop closes the consumer', async () => {
    const d = await nsqd()
    const topic = topicName()
    await publish(d.tcpAddress, topic, range(20))
    const c = consumer(topic, { nsqdTcpAddresses: d.tcpAddress, maxInFlight: 5 })
    const bodies: string[] = []
    for await (const msg of c) {
      bodies.push(msg.text())
      msg.finish()
      if (bodies.length === 20) break
    }
    expect(bodies).toEqual(range(20))
    expect(c.stats().connections).toBe(0)
  })

  it('never holds more than maxInFlight messages at once', async () => {
    const d = await nsqd()
    const topic = topicName()
    await publish(d.tcpAddress, topic, range(300))
    const c = consumer(topic, { nsqdTcpAddresses: d.tcpAddress, maxInFlight: 7 })
    let peak = 0
    const held: Message[] = []
    let done = 0
    for await (const msg of c) {
      held.push(msg)
      peak = Math.max(peak, held.length)
      // Answer in bursts, so nsqd always has the chance to overfill.
      if (held.length === 7 || done + held.length === 300) {
        for (const m of held.splice(0)) { m.finish(); done++ }
      }
      if (done === 300) break
    }
    expect(peak).toBe(7)
  })

  it('requeue(delay) redelivers with attempts counted; touch keeps a message', async () => {
    const d = await nsqd()
    const topic = topicName()
    await publish(d.tcpAddress, topic, ['again'])
    const c = consumer(topic, { nsqdTcpAddresses: d.tcpAddress, msgTimeoutMs: 1000 })
    const attempts: number[] = []
    for await (const msg of c) {
      attempts.push(msg.attempts)
      if (msg.attempts === 1) {
        msg.requeue(50, { backoff: false })
        continue
      }
      msg.touch()
      msg.finish()
      break
    }
    expect(attempts).toEqual([1, 2])
    expect(c.stats()).toMatchObject({ messagesRequeued: 1, messagesFinished: 1, backoffLevel: 0 })
  })

  it('a failing handler drives backoff: each failure raises the level, each success lowers it, then resume', async () => {
    const d = await nsqd()
    const topic = topicName()
    await publish(d.tcpAddress, topic, range(10))
    const c = consumer(topic, { nsqdTcpAddresses: d.tcpAddress, backoffMultiplierMs: 10, requeueDelayMs: 0 })
    const events: string[] = []
    c.on('backoff', (level, ms) => events.push(`backoff ${level} ${ms}ms`))
    c.on('resume', () => events.push('resume'))
    c.on('error', () => {})
    let failures = 3
    const finished = new Set<string>()
    await c.handle((msg) => {
      if (failures-- > 0) throw new Error('boom')
      finished.add(msg.text())
    })
    await waitFor(() => finished.size === 10, 10_000, 'recovery')
    expect(events).toEqual([
      'backoff 1 20ms', 'backoff 2 40ms', 'backoff 3 80ms', 'backoff 2 40ms', 'backoff 1 20ms', 'resume',
    ])
    expect(c.stats()).toMatchObject({ backoffLevel: 0, messagesRequeued: 3, messagesFinished: 10 })
  })

  it('in backoff nsqd is told RDY 0, then RDY 1 to test the waters, then the full RDY again', async () => {
    const d = await nsqd()
    const topic = topicName()
    await publish(d.tcpAddress, topic, range(40))
    const c = consumer(topic, {
      nsqdTcpAddresses: d.tcpAddress, maxInFlight: 20, backoffMultiplierMs: 10, requeueDelayMs: 0,
    })
    c.on('error', () => {})
    const rdy = traceRdy(c)
    let failing = true
    const finished = new Set<string>()
    await c.handle(async (msg) => {
      await new Promise((resolve) => setImmediate(resolve))
      if (failing) {
        failing = false
        throw new Error('boom')
      }
      finished.add(msg.text())
    }, { concurrency: 20 })
    await waitFor(() => finished.size === 40, 10_000, 'all messages')
    expect(rdy).toEqual([20, 0, 1, 20])
  })

  it('maxAttempts: exhausted messages are discarded to the hook and the dead-letter topic', async () => {
    const d = await nsqd()
    const topic = topicName()
    const dlq = `${topic}_dead`
    await publish(d.tcpAddress, topic, ['poison', 'fine'])
    const discarded: string[] = []
    const c = consumer(topic, {
      nsqdTcpAddresses: d.tcpAddress,
      maxAttempts: 2,
      requeueDelayMs: 0,
      backoffMultiplierMs: 1,
      deadLetterTopic: dlq,
      onDiscard: (msg) => { discarded.push(`${msg.text()}@${msg.attempts}`) },
    })
    c.on('error', () => {})
    const handled: string[] = []
    await c.handle((msg) => {
      handled.push(msg.text())
      if (msg.text() === 'poison') throw new Error('cannot handle')
    })
    await waitFor(() => discarded.length === 1 && handled.includes('fine'), 10_000, 'the discard')
    expect(discarded).toEqual(['poison@3'])
    expect(handled.filter((h) => h === 'poison')).toHaveLength(2)
    const dead = consumer(dlq, { nsqdTcpAddresses: d.tcpAddress }, 'inspect')
    const { value: dlqMessage } = await dead[Symbol.asyncIterator]().next()
    expect(dlqMessage?.text()).toBe('poison')
    dlqMessage?.finish()
    await waitFor(() => c.stats().messagesDiscarded === 1 && c.stats().inFlight === 0, 5000, 'the FIN')
  })

  it('close() waits for handlers to finish and requeues what was not handed out yet', async () => {
    const d = await nsqd()
    const topic = topicName()
    await publish(d.tcpAddress, topic, range(10))
    const c = consumer(topic, { nsqdTcpAddresses: d.tcpAddress, maxInFlight: 10 })
    const release = deferred()
    const started = deferred()
    const done: string[] = []
    await c.handle(async (msg) => {
      started.resolve()
      await release.promise
      done.push(msg.text())
    })
    await started.promise
    await waitFor(() => c.stats().messagesReceived === 10, 5000, 'ten messages buffered')
    let closed = false
    const closing = c.close().then(() => { closed = true })
    await waitFor(() => c.stats().messagesRequeued === 9, 5000, 'the nine waiting messages requeued')
    expect(closed).toBe(false)
    release.resolve()
    await closing
    expect(done).toEqual(['m0'])
    expect(c.stats()).toMatchObject({ messagesFinished: 1, messagesRequeued: 9, connections: 0 })
    // Nothing is lost: the nine come back to the next consumer.
    const next = consumer(topic, { nsqdTcpAddresses: d.tcpAddress, maxInFlight: 10 })
    const rest = new Set<string>()
    for await (const msg of next) {
      rest.add(msg.text())
      msg.finish()
      if (rest.size === 9) break
    }
    expect([...rest].sort()).toEqual(range(10).slice(1).sort())
  })

  it('close() waits for CLOSE_WAIT, so messages still in nsqd\'s output buffer are requeued, not stranded', async () => {
    const d = await nsqd({ backendFactory: memoryBackendFactory })
    const topic = topicName()
    // nsqd holds these frames in its output buffer for up to 5 s (RDY 10 leaves the window open).
    const c = consumer(topic, { nsqdTcpAddresses: d.tcpAddress, maxInFlight: 10, outputBufferTimeoutMs: 5000 })
    await c.handle(async () => {})
    await publish(d.tcpAddress, topic, range(3))
    const channel = (): { inFlightCount: number, depth: number } | undefined => d.nsqd.topics.get(topic)?.channels.get('ch')
    await waitFor(() => channel()?.inFlightCount === 3, 5000, '3 messages buffered for the consumer')
    await c.close()
    // Well inside nsqd's 5 s buffer time and its 60 s message timeout: they came back by REQ.
    await waitFor(() => channel()?.inFlightCount === 0 && channel()?.depth === 3, 2000, 'the buffered messages requeued')
  })

  it('a consumer killed mid-stream: its in-flight messages come back through the timeout, nothing lost', async () => {
    const d = await nsqd()
    const topic = topicName()
    await publish(d.tcpAddress, topic, range(200))
    const seen = new Map<string, number>()
    const victim = consumer(topic, {
      nsqdTcpAddresses: d.tcpAddress, maxInFlight: 20, msgTimeoutMs: 1000, closeTimeoutMs: 0,
    })
    // The victim takes messages and never answers them, then its process "dies" (sockets destroyed, no CLS).
    const held: Message[] = []
    victim.on('error', () => {})
    await victim.handle((msg) => new Promise(() => { held.push(msg) }), { concurrency: 20 })
    await waitFor(() => held.length === 20, 5000, 'the victim to hold 20 messages')
    const survivor = consumer(topic, { nsqdTcpAddresses: d.tcpAddress, maxInFlight: 20 })
    await survivor.handle((msg) => { seen.set(msg.text(), (seen.get(msg.text()) ?? 0) + 1) }, { concurrency: 20 })
    kill(victim)
    await waitFor(() => victim.stats().connections === 0, 5000, 'the victim to lose its connection')
    // A dead process does not come back: stop the victim before it reconnects.
    await victim.close()
    await waitFor(() => seen.size === 200, 15_000, 'all 200 messages')
    for (const m of held) expect(seen.get(m.text())).toBe(1)
  })

  it('an nsqd that goes down mid-stream and comes back: the consumer reconnects and nothing is lost', async () => {
    const dataPath = await mkdtemp(join(tmpdir(), 'nsqts-client-'))
    cleanup(() => rm(dataPath, { recursive: true, force: true }))
    const first = await nsqd({ dataPath })
    const address = first.tcpAddress
    const topic = topicName()
    await publish(address, topic, range(2000))
    const c = consumer(topic, { nsqdTcpAddresses: address, maxInFlight: 50 })
    c.on('error', () => {})
    const seen = new Set<string>()
    const down = deferred()
    await c.handle(async (msg) => {
      await new Promise((resolve) => setImmediate(resolve))
      seen.add(msg.text())
      if (seen.size === 500) down.resolve()
    }, { concurrency: 50 })
    await down.promise
    // nsqd writes what is queued and in flight to its store when it exits, and restores it at start.
    await first.close()
    await nsqd({ dataPath, tcpAddress: address })
    await waitFor(() => seen.size === 2000, 15_000, 'all 2000 messages after the restart')
    expect(c.stats().connections).toBe(1)
  })
})

/** Records the RDY counts the consumer sends (it has one connection in these tests). */
function traceRdy (c: Consumer): number[] {
  const counts: number[] = []
  c.once('connected', () => {
    const nodes = (c as unknown as { nodes: Map<string, { connection: { send: (b: Buffer) => void } }> }).nodes
    for (const node of nodes.values()) {
      const send = node.connection.send.bind(node.connection)
      node.connection.send = (bytes) => {
        const text = bytes.toString('latin1')
        if (text.startsWith('RDY ')) counts.push(Number(text.slice(4)))
        send(bytes)
      }
    }
  })
  return counts
}

/** Simulates a crashed process: the sockets go away without CLS or FIN. */
function kill (c: Consumer): void {
  const nodes = (c as unknown as { nodes: Map<string, { connection: { destroy: () => void } }> }).nodes
  for (const node of nodes.values()) node.connection.destroy()
}
