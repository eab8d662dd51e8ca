import { describe, expect, it } from 'vitest'
// nsqjs, the Node client users already know, is the yardstick for interoperability in both directions.
import nsq from 'nsqjs'
import { Consumer, Producer } from '../src/index.js'
import { waitFor } from '@nsqts/testkit'
import { cleanup, lookupd, nsqd, topicName } from './helpers.js'

interface NsqjsMessage {
  attempts: number
  body: Buffer
  finish (): void
}

describe('interop with nsqjs', () => {
  it('our Producer publishes (PUB, MPUB, DPUB) to an nsqjs Reader', async () => {
    const d = await nsqd()
    const topic = topicName()
    const p = new Producer(d.tcpAddress)
    cleanup(() => p.close())
    const seen = new Map<string, number>()
    const reader = new nsq.Reader(topic, 'ch', { nsqdTCPAddresses: [d.tcpAddress], maxInFlight: 100 })
    reader.on('error', () => {})
    reader.on('message', (msg: NsqjsMessage) => {
      seen.set(msg.body.toString(), (seen.get(msg.body.toString()) ?? 0) + 1)
      msg.finish()
    })
    cleanup(() => reader.close())
    reader.connect()
    await Promise.all(Array.from({ length: 1000 }, (_, i) => p.publish(topic, `pub-${i}`)))
    for (let b = 0; b < 10; b++) await p.publishMany(topic, Array.from({ length: 100 }, (_, i) => `mpub-${b * 100 + i}`))
    await p.publishDeferred(topic, 'dpub', 100)
    await waitFor(() => seen.size === 2001, 20_000, 'the nsqjs Reader to get every message')
    expect([...seen.values()].every((n) => n === 1)).toBe(true)
  })

  it('an nsqjs Writer publishes to our Consumer, found through nsqlookupd', async () => {
    const l = await lookupd()
    const d = await nsqd({ nsqlookupdTcpAddresses: [l.tcpAddress] })
    const topic = topicName()
    const writer = new nsq.Writer('127.0.0.1', d.tcp.port)
    writer.on('error', () => {})
    await new Promise<void>((resolve) => { writer.on('ready', resolve); writer.connect() })
    cleanup(() => writer.close())
    const publish = (msgs: string | string[]): Promise<void> => new Promise((resolve, reject) => {
      writer.publish(topic, msgs, (err?: Error) => { if (err) reject(err); else resolve() })
    })
    await publish('first')
    const c = new Consumer(topic, 'ch', { lookupdHttpAddresses: l.httpAddress, maxInFlight: 50, lookupdPollIntervalMs: 100 })
    cleanup(() => c.close())
    const seen = new Map<string, number>()
    await c.handle((msg) => { seen.set(msg.text(), (seen.get(msg.text()) ?? 0) + 1) }, { concurrency: 50 })
    await Promise.all(Array.from({ length: 999 }, (_, i) => publish(`single-${i}`)))
    for (let b = 0; b < 10; b++) await publish(Array.from({ length: 100 }, (_, i) => `multi-${b * 100 + i}`))
    await waitFor(() => seen.size === 2000 && c.stats().inFlight === 0, 20_000, 'our Consumer to get every message')
    expect([...seen.values()].every((n) => n === 1)).toBe(true)
    expect(c.stats()).toMatchObject({ messagesFinished: 2000, connections: 1 })
  })
})
