import { describe, expect, it } from 'vitest'
import { ClosedError, ConnectionError, Consumer, NsqError, Producer } from '../src/index.js'
import type { Message } from '../src/index.js'
import { waitFor } from '@nsqts/testkit'
import { cleanup, nsqd, topicName } from './helpers.js'

function producer (addresses: string | string[], options = {}): Producer {
  const p = new Producer(addresses, options)
  cleanup(() => p.close())
  return p
}

/** Reads `count` messages of `topic` from one nsqd, finishing each. */
async function drain (address: string, topic: string, count: number): Promise<Message[]> {
  const consumer = new Consumer(topic, 'check', { nsqdTcpAddresses: address, maxInFlight: 100 })
  cleanup(() => consumer.close())
  const got: Message[] = []
  for await (const msg of consumer) {
    got.push(msg)
    msg.finish()
    if (got.length === count) break
  }
  return got
}

describe('Producer', () => {
  it('publishes with PUB, MPUB and DPUB and resolves when nsqd answered', async () => {
    const d = await nsqd()
    const p = producer(d.tcpAddress)
    const topic = topicName()
    await p.publish(topic, 'one')
    await p.publishMany(topic, ['two', Buffer.from('three'), new Uint8Array([0x66, 0x6f, 0x75, 0x72])])
    const before = Date.now()
    await p.publishDeferred(topic, 'five', 300)
    const got = await drain(d.tcpAddress, topic, 5)
    expect(got.map((m) => m.text())).toEqual(['one', 'two', 'three', 'four', 'five'])
    expect(Date.now() - before).toBeGreaterThanOrEqual(300)
    expect(got[0]!.attempts).toBe(1)
    expect(got[0]!.nsqdAddress).toBe(d.tcpAddress)
  })

  it('pipelines thousands of publishes on one connection', async () => {
    const d = await nsqd()
    const p = producer(d.tcpAddress)
    const topic = topicName()
    let connections = 0
    p.on('connected', () => { connections++ })
    await Promise.all(Array.from({ length: 5000 }, (_, i) => p.publish(topic, `m${i}`)))
    expect(connections).toBe(1)
    const got = await drain(d.tcpAddress, topic, 5000)
    expect(new Set(got.map((m) => m.text())).size).toBe(5000)
  })

  it('refuses what nsqd would refuse fatally before it reaches the wire, so pipelined publishes survive', async () => {
    const d = await nsqd()
    const p = producer(d.tcpAddress)
    const topic = topicName()
    const results = await Promise.allSettled([
      p.publish(topic, 'a'),
      p.publish('bad!topic', 'b'),
      p.publish(topic, ''),
      p.publishMany(topic, []),
      p.publishDeferred(topic, 'c', -1),
      p.publish(topic, 'd'),
    ])
    expect(results.map((r) => r.status === 'rejected' ? (r.reason as NsqError).code : 'ok'))
      .toEqual(['ok', 'E_BAD_TOPIC', 'E_BAD_MESSAGE', 'E_BAD_BODY', 'E_INVALID', 'ok'])
  })

  it('fails the publishes behind a fatal error with a clear error, then reconnects on the next one', async () => {
    const d = await nsqd({ maxMsgSize: 100 })
    const p = producer(d.tcpAddress)
    const topic = topicName()
    await p.publish(topic, 'warm up')
    const tooBig = p.publish(topic, Buffer.alloc(101, 1))
    const behind = p.publish(topic, 'behind')
    await expect(tooBig).rejects.toMatchObject({ name: 'NsqError', code: 'E_BAD_MESSAGE' })
    await expect(behind).rejects.toMatchObject({ name: 'ConnectionClosedError' })
    await waitFor(() => p.address === undefined, 5000, 'the producer to notice the close')
    await p.publish(topic, 'after')
    const got = await drain(d.tcpAddress, topic, 2)
    expect(got.map((m) => m.text())).toEqual(['warm up', 'after'])
  })

  it('fails over to the next nsqd when one is down', async () => {
    const dead = await nsqd()
    const deadAddress = dead.tcpAddress
    await dead.close()
    const a = await nsqd()
    const b = await nsqd()
    const p = producer([deadAddress, a.tcpAddress, b.tcpAddress])
    const topic = topicName()
    await p.publish(topic, 'to a')
    expect(p.address).toBe(a.tcpAddress)
    // a goes away with publishes in flight: each one settles, none hangs; later publishes go to b.
    const inFlight = Promise.allSettled(Array.from({ length: 200 }, (_, i) => p.publish(topic, `x${i}`)))
    await a.close()
    const settled = await inFlight
    for (const r of settled) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(ConnectionError)
    await p.publish(topic, 'to b')
    expect(p.address).toBe(b.tcpAddress)
    const got = await drain(b.tcpAddress, topic, 1)
    expect(got[0]!.text()).toBe('to b')
  })

  it('rejects with every node\'s reason when none accepts a connection', async () => {
    const d = await nsqd()
    const address = d.tcpAddress
    await d.close()
    const p = producer([address, address])
    const err = await p.publish(topicName(), 'x').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ConnectionError)
    expect((err as Error).cause).toBeInstanceOf(AggregateError)
  })

  it('close() waits for outstanding publishes; later ones reject', async () => {
    const d = await nsqd()
    const p = producer(d.tcpAddress)
    const topic = topicName()
    let answered = 0
    const all = Array.from({ length: 500 }, () => p.publish(topic, 'x').then(() => { answered++ }))
    await p.close()
    expect(answered).toBe(500)
    await Promise.all(all)
    await expect(p.publish(topic, 'late')).rejects.toBeInstanceOf(ClosedError)
  })
})
