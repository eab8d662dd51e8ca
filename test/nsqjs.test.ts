import { describe, it, expect, beforeAll, afterAll } from 'vitest'
// nsqjs is a real NSQ client that none of us wrote: the compatibility yardstick.
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

async function openWriter (): Promise<nsq.Writer> {
  const w = new nsq.Writer('127.0.0.1', d.tcp.port)
  await new Promise<void>((resolve, reject) => {
    w.on('ready', () => resolve())
    w.on('error', reject)
    w.connect()
  })
  return w
}

function publish (w: nsq.Writer, topic: string, msgs: string | string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    w.publish(topic, msgs, (err?: Error) => (err ? reject(err) : resolve()))
  })
}

function reader (topic: string, channel: string, opts: Record<string, unknown> = {}): nsq.Reader {
  const r = new nsq.Reader(topic, channel, { nsqdTCPAddresses: [`127.0.0.1:${d.tcp.port}`], maxInFlight: 200, ...opts })
  r.on('error', () => {})
  r.connect()
  return r
}

describe('nsqjs against our nsqd', () => {
  it('publishes 10,000 singly and 10,000 with MPUB; a Reader gets each exactly once with FIN', async () => {
    const w = await openWriter()
    const total = 20_000
    const seen = new Map<string, number>()
    const r = reader('nsqjs_bulk', 'ch')
    r.on('message', (msg: NsqjsMessage) => {
      const body = msg.body.toString()
      seen.set(body, (seen.get(body) ?? 0) + 1)
      msg.finish()
    })
    await Promise.all(Array.from({ length: 10_000 }, (_, i) => publish(w, 'nsqjs_bulk', `single-${i}`)))
    for (let batch = 0; batch < 100; batch++) {
      await publish(w, 'nsqjs_bulk', Array.from({ length: 100 }, (_, i) => `multi-${batch * 100 + i}`))
    }
    const channel = (): ReturnType<typeof d.nsqd.topics.get> => d.nsqd.topics.get('nsqjs_bulk')
    await waitFor(() => seen.size === total && channel()!.channels.get('ch')!.inFlightCount === 0, 30_000, 'all messages finished')
    expect([...seen.values()].every((n) => n === 1)).toBe(true)
    const ch = channel()!.channels.get('ch')!
    expect([ch.depth, ch.inFlightCount, ch.requeueCount, ch.timeoutCount]).toEqual([0, 0, 0, 0])
    r.close()
    w.close()
  })

  it('redelivers a REQ\'d message and a timed-out message with attempts incremented', async () => {
    const w = await openWriter()
    const attempts = new Map<string, number[]>()
    const r = reader('nsqjs_redeliver', 'ch', { maxInFlight: 10 })
    r.on('message', (msg: NsqjsMessage) => {
      const body = msg.body.toString()
      const list = attempts.get(body) ?? []
      list.push(msg.attempts)
      attempts.set(body, list)
      if (list.length > 1) msg.finish()
      else if (body === 'requeue-me') msg.requeue(0, false)
      // 'time-me-out' is left alone on its first delivery: nsqd's 1 s msg-timeout sends it again.
    })
    await publish(w, 'nsqjs_redeliver', ['requeue-me', 'time-me-out'])
    await waitFor(() => (attempts.get('requeue-me')?.length ?? 0) === 2 && (attempts.get('time-me-out')?.length ?? 0) === 2, 10_000, 'redeliveries')
    expect(attempts.get('requeue-me')).toEqual([1, 2])
    expect(attempts.get('time-me-out')).toEqual([1, 2])
    const ch = d.nsqd.topics.get('nsqjs_redeliver')!.channels.get('ch')!
    await waitFor(() => ch.inFlightCount === 0)
    expect([ch.requeueCount, ch.timeoutCount]).toEqual([1, 1])
    r.close()
    w.close()
  })
})

async function post (path: string): Promise<void> {
  const res = await fetch(`${d.httpUrl}${path}`, { method: 'POST' })
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`)
}

/** A Reader (maxInFlight 10) whose messages go to `onMessage`. */
function readerOf (topic: string, channel: string, onMessage: (msg: NsqjsMessage) => void): nsq.Reader {
  const r = reader(topic, channel, { maxInFlight: 10 })
  r.on('message', onMessage)
  return r
}

// nsqjs knows nothing of nsqts's delivery policies (docs/policies.md): they must hold for it as for any NSQ client.
describe('delivery policies with nsqjs', () => {
  it('a message an nsqjs Reader keeps requeueing lands in the dead-letter topic after max_attempts, body intact', async () => {
    await post('/topic/create?topic=nj_dl')
    await post('/channel/create?topic=nj_dl&channel=work')
    await post('/channel/policy?topic=nj_dl&channel=work&max_attempts=4')
    const attempts: number[] = []
    const r = readerOf('nj_dl', 'work', (msg) => {
      attempts.push(msg.attempts)
      msg.requeue(0, false)
    })
    const dead: string[] = []
    const r2 = readerOf('nj_dl.dead', 'ops', (msg) => {
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
    const r = readerOf('nj_ttl', 'c', (msg) => {
      got.push(msg.body.toString())
      msg.finish()
    })
    const ch = (): ReturnType<typeof d.nsqd.topics.get> => d.nsqd.topics.get('nj_ttl')
    await waitFor(() => got.length === 1 && ch()!.channels.get('c')!.depth === 0 && ch()!.channels.get('c')!.inFlightCount === 0, 5000, 'channel drained')
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
    const r = readerOf('nj_full', 'c', (msg) => {
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
