import { describe, it, expect, beforeAll, afterAll } from 'vitest'
// nsqjs knows nothing of nsqts's delivery policies: they must hold for it as they do for any NSQ client.
import nsq from 'nsqjs'
import { startNsqd, waitFor, type NsqdHandle } from '@nsqts/testkit'

interface NsqjsMessage {
  id: string
  attempts: number
  body: Buffer
  finish (): void
  requeue (delay?: number, backoff?: boolean): void
}

let d: NsqdHandle
beforeAll(async () => { d = await startNsqd({ msgTimeout: 1000 }) })
afterAll(async () => { await d.close() })

async function post (path: string): Promise<unknown> {
  const res = await fetch(`${d.httpUrl}${path}`, { method: 'POST' })
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`)
  return res.json().catch(() => undefined)
}

async function openWriter (): Promise<nsq.Writer> {
  const w = new nsq.Writer('127.0.0.1', d.tcp.port)
  await new Promise<void>((resolve, reject) => {
    w.on('ready', () => resolve())
    w.on('error', reject)
    w.connect()
  })
  w.on('error', () => {})
  return w
}

function publish (w: nsq.Writer, topic: string, msgs: string | string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    w.publish(topic, msgs, (err?: Error) => (err ? reject(err) : resolve()))
  })
}

function reader (topic: string, channel: string, onMessage: (msg: NsqjsMessage) => void): nsq.Reader {
  const r = new nsq.Reader(topic, channel, { nsqdTCPAddresses: [`127.0.0.1:${d.tcp.port}`], maxInFlight: 10 })
  r.on('error', () => {})
  r.on('message', onMessage)
  r.connect()
  return r
}

describe('delivery policies with nsqjs', () => {
  it('a message an nsqjs Reader keeps requeueing lands in the dead-letter topic after max_attempts, body intact', async () => {
    await post('/topic/create?topic=nj_dl')
    await post('/channel/create?topic=nj_dl&channel=work')
    await post('/channel/policy?topic=nj_dl&channel=work&max_attempts=4')
    const attempts: number[] = []
    const r = reader('nj_dl', 'work', (msg) => {
      attempts.push(msg.attempts)
      msg.requeue(0, false)
    })
    const dead: string[] = []
    const r2 = reader('nj_dl.dead', 'ops', (msg) => {
      dead.push(msg.body.toString())
      msg.finish()
    })
    const w = await openWriter()
    await publish(w, 'nj_dl', 'bad input ✗')
    await waitFor(() => dead.length === 1, 10_000, 'dead-lettered')
    expect(dead).toEqual(['bad input ✗'])
    expect(attempts).toEqual([1, 2, 3, 4])
    r.close()
    r2.close()
    w.close()
  })

  it('an nsqjs Reader never receives a message older than the channel ttl', async () => {
    await post('/topic/create?topic=nj_ttl')
    await post('/channel/create?topic=nj_ttl&channel=c')
    await post('/channel/policy?topic=nj_ttl&channel=c&ttl=1s')
    const w = await openWriter()
    await publish(w, 'nj_ttl', ['old-1', 'old-2'])
    // Timed from the answer: the messages are at least this old; the fresh one has a second to be delivered.
    const published = Date.now()
    await waitFor(() => Date.now() > published + 1100, 5000, 'the ttl to pass')
    await publish(w, 'nj_ttl', 'new')
    const got: string[] = []
    const r = reader('nj_ttl', 'c', (msg) => {
      got.push(msg.body.toString())
      msg.finish()
    })
    await waitFor(() => got.length === 1, 5000, 'the fresh message')
    const ch = d.nsqd.topics.get('nj_ttl')!.channels.get('c')!
    await waitFor(() => ch.depth === 0 && ch.inFlightCount === 0, 5000, 'channel drained')
    expect(got).toEqual(['new'])
    r.close()
    w.close()
  })

  it('an nsqjs Writer publishing to a full topic gets E_PUB_FAILED, and a new Writer succeeds once it drains', async () => {
    await post('/topic/create?topic=nj_full')
    await post('/topic/policy?topic=nj_full&max_depth=2')
    const w = await openWriter()
    await publish(w, 'nj_full', ['a', 'b'])
    await expect(publish(w, 'nj_full', 'c')).rejects.toThrow(/E_PUB_FAILED/)
    w.close()
    const got: string[] = []
    const r = reader('nj_full', 'c', (msg) => {
      got.push(msg.body.toString())
      msg.finish()
    })
    await waitFor(() => got.length === 2, 5000, 'the backlog')
    const w2 = await openWriter()
    await publish(w2, 'nj_full', 'c')
    await waitFor(() => got.length === 3, 5000, 'the new message')
    expect(got).toEqual(['a', 'b', 'c'])
    r.close()
    w2.close()
  })
})
