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
