import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { commands, decodeMessage, FrameType, type ChannelPolicy, type DecodedMessage, type NsqdStats, type PeekResponse, type TopicPolicy } from '@nsqts/protocol'
import { startNsqd, RawConn, waitFor, type NsqdHandle } from '@nsqts/testkit'
import type { NsqdInit } from '../src/index.js'

// Delivery policies (docs/policies.md) against a live nsqd, driven by raw V2 connections and its HTTP API.

const handles: NsqdHandle[] = []
afterAll(async () => { await Promise.all(handles.map((h) => h.close())) })

async function nsqd (init: NsqdInit = {}): Promise<NsqdHandle> {
  const h = await startNsqd({ msgTimeout: 1000, ...init })
  handles.push(h)
  return h
}

async function api<T = unknown> (d: NsqdHandle, method: 'GET' | 'POST', path: string): Promise<{ status: number, body: T }> {
  const res = await fetch(`${d.httpUrl}${path}`, { method })
  const text = await res.text()
  return { status: res.status, body: (text === '' ? undefined : JSON.parse(text)) as T }
}

async function ok<T> (d: NsqdHandle, method: 'GET' | 'POST', path: string): Promise<T> {
  const r = await api<T>(d, method, path)
  if (r.status !== 200) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`)
  return r.body
}

/** Creates topic/channel (without a consumer) and sets the channel's policy from `query`. */
async function channelWithPolicy (d: NsqdHandle, topic: string, channel: string, query: string): Promise<void> {
  await ok(d, 'POST', `/topic/create?topic=${topic}`)
  await ok(d, 'POST', `/channel/create?topic=${topic}&channel=${channel}`)
  await ok(d, 'POST', `/channel/policy?topic=${topic}&channel=${channel}&${query}`)
}

async function stats (d: NsqdHandle, topic?: string): Promise<NsqdStats> {
  return ok<NsqdStats>(d, 'GET', `/stats?format=json&include_mem=false${topic === undefined ? '' : `&topic=${topic}`}`)
}

async function channelStats (d: NsqdHandle, topic: string, channel: string) {
  const t = (await stats(d, topic)).topics?.[0]
  const c = t?.channels.find((x) => x.channel_name === channel)
  if (c === undefined) throw new Error(`no channel ${topic}/${channel}`)
  return c
}

async function publish (d: NsqdHandle, topic: string, bodies: string[]): Promise<void> {
  const p = await RawConn.open(d.tcp)
  for (const b of bodies) p.write(commands.pub(topic, b))
  for (let i = 0; i < bodies.length; i++) expect(await p.expect(FrameType.Response)).toBe('OK')
  p.close()
}

async function consumer (d: NsqdHandle, topic: string, channel: string, rdy: number): Promise<RawConn> {
  const c = await RawConn.open(d.tcp)
  c.write(commands.sub(topic, channel))
  expect(await c.expect(FrameType.Response)).toBe('OK')
  if (rdy > 0) c.write(commands.rdy(rdy))
  return c
}

async function message (c: RawConn, timeoutMs = 5000): Promise<DecodedMessage> {
  for (;;) {
    const f = await c.frame(timeoutMs)
    if (f.type === FrameType.Response && f.data.toString() === '_heartbeat_') {
      c.write(commands.nop())
      continue
    }
    if (f.type !== FrameType.Message) throw new Error(`expected a message, got ${f.type} ${f.data.toString()}`)
    return decodeMessage(f.data)
  }
}

/** Reads `n` messages, finishing each; returns their bodies in arrival order. */
async function drain (c: RawConn, n: number): Promise<string[]> {
  const out: string[] = []
  for (let i = 0; i < n; i++) {
    const m = await message(c)
    c.write(commands.fin(m.id))
    out.push(m.body.toString())
  }
  return out
}

const numbered = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${i}`)

/** Waits until the clock has moved `ms` past `since`: a TTL is about age, so its tests must let time pass. */
async function olderThan (since: number, ms: number): Promise<void> {
  await waitFor(() => Date.now() > since + ms, ms + 5000, `${ms} ms to pass`)
}

describe('policy routes', () => {
  let d: NsqdHandle
  beforeAll(async () => {
    d = await nsqd()
    await ok(d, 'POST', '/topic/create?topic=routes')
    await ok(d, 'POST', '/channel/create?topic=routes&channel=c')
  })

  it('answer the defaults, set, keep what is left out, and clear with 0 or empty', async () => {
    expect(await ok<ChannelPolicy>(d, 'GET', '/channel/policy?topic=routes&channel=c')).toEqual({
      max_attempts: 0, dead_letter_topic: 'routes.dead', ttl: '', ttl_action: 'drop', max_depth: 0, overflow: 'drop-oldest',
    })
    expect(await ok<ChannelPolicy>(d, 'POST', '/channel/policy?topic=routes&channel=c&max_attempts=3&ttl=90s&ttl_action=dead-letter&dead_letter_topic=dlq')).toEqual({
      max_attempts: 3, dead_letter_topic: 'dlq', ttl: '1m30s', ttl_action: 'dead-letter', max_depth: 0, overflow: 'drop-oldest',
    })
    expect(await ok<ChannelPolicy>(d, 'POST', '/channel/policy?topic=routes&channel=c&max_depth=10&overflow=dead-letter&ttl=')).toEqual({
      max_attempts: 3, dead_letter_topic: 'dlq', ttl: '', ttl_action: 'dead-letter', max_depth: 10, overflow: 'dead-letter',
    })
    expect(await ok<ChannelPolicy>(d, 'POST', '/channel/policy?topic=routes&channel=c&max_attempts=0&dead_letter_topic=&ttl_action=&max_depth=0&overflow=')).toEqual({
      max_attempts: 0, dead_letter_topic: 'routes.dead', ttl: '', ttl_action: 'drop', max_depth: 0, overflow: 'drop-oldest',
    })
    expect(await ok<TopicPolicy>(d, 'GET', '/topic/policy?topic=routes')).toEqual({ ttl: '', max_depth: 0, overflow: 'reject' })
    expect(await ok<TopicPolicy>(d, 'POST', '/topic/policy?topic=routes&max_depth=5&ttl=1h')).toEqual({ ttl: '1h0m0s', max_depth: 5, overflow: 'reject' })
    expect(await ok<TopicPolicy>(d, 'POST', '/topic/policy?topic=routes&max_depth=0&ttl=0')).toEqual({ ttl: '', max_depth: 0, overflow: 'reject' })
  })

  it('refuse bad values with a named 400 and change nothing', async () => {
    await ok(d, 'POST', '/channel/policy?topic=routes&channel=c&max_attempts=2')
    for (const [q, text] of [
      ['max_attempts=-1', 'INVALID_MAX_ATTEMPTS'], ['dead_letter_topic=routes', 'INVALID_DEAD_LETTER_TOPIC'],
      ['ttl=5', 'INVALID_TTL'], ['ttl_action=keep', 'INVALID_TTL_ACTION'], ['max_depth=x', 'INVALID_MAX_DEPTH'],
      ['overflow=reject', 'INVALID_OVERFLOW'], ['max_depth=4&overflow=nope', 'INVALID_OVERFLOW'],
    ]) {
      expect(await api(d, 'POST', `/channel/policy?topic=routes&channel=c&${q}`)).toEqual({ status: 400, body: { message: text } })
    }
    expect(await api(d, 'POST', '/topic/policy?topic=routes&overflow=dead-letter')).toEqual({ status: 400, body: { message: 'INVALID_OVERFLOW' } })
    expect((await ok<ChannelPolicy>(d, 'GET', '/channel/policy?topic=routes&channel=c'))).toMatchObject({ max_attempts: 2, max_depth: 0 })
    await ok(d, 'POST', '/channel/policy?topic=routes&channel=c&max_attempts=0')
  })

  it('never create a topic or channel, and name what is missing as nsqd\'s other routes do', async () => {
    expect(await api(d, 'GET', '/channel/policy?topic=nope&channel=c')).toEqual({ status: 404, body: { message: 'TOPIC_NOT_FOUND' } })
    expect(await api(d, 'POST', '/channel/policy?topic=routes&channel=nope&max_attempts=1')).toEqual({ status: 404, body: { message: 'CHANNEL_NOT_FOUND' } })
    expect(await api(d, 'GET', '/topic/policy?topic=nope')).toEqual({ status: 404, body: { message: 'TOPIC_NOT_FOUND' } })
    expect(await api(d, 'GET', '/channel/policy?channel=c')).toEqual({ status: 400, body: { message: 'MISSING_ARG_TOPIC' } })
    expect(await api(d, 'GET', '/channel/peek?topic=routes')).toEqual({ status: 400, body: { message: 'MISSING_ARG_CHANNEL' } })
    expect(await api(d, 'GET', '/channel/peek?topic=routes&channel=c&n=0')).toEqual({ status: 400, body: { message: 'INVALID_N' } })
    expect(await api(d, 'GET', '/channel/peek?topic=routes&channel=c&n=1001')).toEqual({ status: 400, body: { message: 'INVALID_N' } })
    expect(await api(d, 'POST', '/channel/redrive?topic=routes&channel=c')).toEqual({ status: 400, body: { message: 'MISSING_ARG_TO' } })
    expect(await api(d, 'POST', '/channel/redrive?topic=routes&channel=c&to=bad name')).toEqual({ status: 400, body: { message: 'INVALID_TO' } })
    expect(await api(d, 'POST', '/channel/redrive?topic=routes&channel=c&to=x&n=-2')).toEqual({ status: 400, body: { message: 'INVALID_N' } })
    expect((await stats(d)).topics?.map((t) => t.topic_name)).toEqual(['routes'])
  })
})

describe('dead-letter', () => {
  let d: NsqdHandle
  beforeAll(async () => { d = await nsqd() })

  it('a message REQ\'d max_attempts times goes to <topic>.dead with its body, and no consumer sees it again', async () => {
    const c = await consumer(d, 'dl', 'work', 1)
    await ok(d, 'POST', '/channel/policy?topic=dl&channel=work&max_attempts=3')
    await publish(d, 'dl', ['poison'])
    for (let attempt = 1; attempt <= 3; attempt++) {
      const m = await message(c)
      expect([m.body.toString(), m.attempts]).toEqual(['poison', attempt])
      c.write(commands.req(m.id, attempt === 2 ? 50 : 0))
    }
    const dead = await consumer(d, 'dl.dead', 'ops', 10)
    const m = await message(dead)
    expect([m.body.toString(), m.attempts]).toEqual(['poison', 1])
    // The original's channel is empty, and nothing more comes to its consumer.
    await publish(d, 'dl', ['fine'])
    const next = await message(c)
    expect(next.body.toString()).toBe('fine')
    c.write(commands.fin(next.id))
    const ch = await channelStats(d, 'dl', 'work')
    expect(ch).toMatchObject({
      depth: 0,
      in_flight_count: 0,
      deferred_count: 0,
      requeue_count: 3,
      dead_lettered_count: 1,
      expired_count: 0,
      dropped_count: 0,
    })
    expect(ch.policy).toMatchObject({ max_attempts: 3, dead_letter_topic: 'dl.dead' })
    c.close()
    dead.close()
  })

  it('a message that times out max_attempts times goes to the named dead-letter topic', async () => {
    await channelWithPolicy(d, 'dlt', 'slow', 'max_attempts=1&dead_letter_topic=dlt_failed')
    const c = await consumer(d, 'dlt', 'slow', 1)
    await publish(d, 'dlt', ['stuck'])
    expect((await message(c)).body.toString()).toBe('stuck')
    // Not answered: the 1 s --msg-timeout takes it back, and its next delivery would be the second.
    await waitFor(async () => (await channelStats(d, 'dlt', 'slow')).dead_lettered_count === 1, 5000, 'dead-lettered on timeout')
    const dead = await consumer(d, 'dlt_failed', 'x', 1)
    expect((await message(dead)).body.toString()).toBe('stuck')
    expect(await channelStats(d, 'dlt', 'slow')).toMatchObject({ depth: 0, in_flight_count: 0, timeout_count: 1 })
    c.close()
    dead.close()
  })

  it('--max-attempts applies to every channel that sets none', async () => {
    const f = await nsqd({ maxAttempts: 2 })
    const c = await consumer(f, 'flagged', 'ch', 1)
    await publish(f, 'flagged', ['twice'])
    for (let i = 0; i < 2; i++) c.write(commands.req((await message(c)).id, 0))
    const dead = await consumer(f, 'flagged.dead', 'ch', 1)
    expect((await message(dead)).body.toString()).toBe('twice')
    expect((await channelStats(f, 'flagged', 'ch')).policy).toMatchObject({ max_attempts: 2 })
    c.close()
    dead.close()
  })
})

describe('ttl', () => {
  it('a message older than the ttl never reaches a consumer, in memory, on disk and deferred', async () => {
    for (const memQueueSize of [10000, 0]) {
      const d = await nsqd({ memQueueSize })
      await channelWithPolicy(d, 'ttl', 'c', 'ttl=1s')
      await publish(d, 'ttl', numbered('old', 5))
      const p = await RawConn.open(d.tcp)
      p.write(commands.dpub('ttl', 300, 'deferred-old'))
      expect(await p.expect(FrameType.Response)).toBe('OK')
      p.close()
      // Timed from when the publishes were answered: the messages are at least this old. The fresh one gets a whole
      // second to be delivered, however loaded the machine.
      await olderThan(Date.now(), 1100)
      await publish(d, 'ttl', ['fresh'])
      const c = await consumer(d, 'ttl', 'c', 10)
      expect(await drain(c, 1)).toEqual(['fresh'])
      await waitFor(async () => (await channelStats(d, 'ttl', 'c')).expired_count === 6, 5000, 'all six expired')
      expect(c.pending()).toEqual([])
      expect(await channelStats(d, 'ttl', 'c')).toMatchObject({ depth: 0, deferred_count: 0, in_flight_count: 0, expired_count: 6 })
      c.close()
    }
  })

  it('ttl_action=dead-letter moves expired messages to the dead-letter topic', async () => {
    const d = await nsqd()
    await channelWithPolicy(d, 'ttld', 'c', 'ttl=300ms&ttl_action=dead-letter')
    await publish(d, 'ttld', ['late'])
    await olderThan(Date.now(), 400)
    const c = await consumer(d, 'ttld', 'c', 1)
    const dead = await consumer(d, 'ttld.dead', 'c', 1)
    expect((await message(dead)).body.toString()).toBe('late')
    expect(await channelStats(d, 'ttld', 'c')).toMatchObject({ dead_lettered_count: 1, expired_count: 0, depth: 0 })
    expect(c.pending()).toEqual([])
    c.close()
    dead.close()
  })

  it('a topic\'s ttl drops what its own queue held too long', async () => {
    const d = await nsqd()
    await ok(d, 'POST', '/topic/create?topic=ttlt')
    await ok(d, 'POST', '/topic/policy?topic=ttlt&ttl=1s')
    await publish(d, 'ttlt', ['stale'])
    await olderThan(Date.now(), 1100)
    await publish(d, 'ttlt', ['new'])
    const c = await consumer(d, 'ttlt', 'c', 5)
    expect(await drain(c, 1)).toEqual(['new'])
    const t = (await stats(d, 'ttlt')).topics?.[0]
    expect(t).toMatchObject({ depth: 0, expired_count: 1, rejected_count: 0, dropped_count: 0 })
    c.close()
  })
})

describe('bounded depth', () => {
  it('drop-oldest keeps exactly max_depth, the newest, in memory and on disk', async () => {
    for (const memQueueSize of [10000, 0]) {
      const d = await nsqd({ memQueueSize })
      await channelWithPolicy(d, 'bound', 'c', 'max_depth=5')
      await publish(d, 'bound', numbered('m', 20))
      await waitFor(async () => (await channelStats(d, 'bound', 'c')).depth === 5, 5000, 'depth 5')
      expect(await channelStats(d, 'bound', 'c')).toMatchObject({ depth: 5, dropped_count: 15, message_count: 20 })
      const c = await consumer(d, 'bound', 'c', 10)
      expect(await drain(c, 5)).toEqual(numbered('m', 20).slice(15))
      c.close()
    }
  })

  it('overflow=dead-letter sends the oldest to the dead-letter topic', async () => {
    const d = await nsqd()
    await channelWithPolicy(d, 'boundd', 'c', 'max_depth=2&overflow=dead-letter')
    await publish(d, 'boundd', numbered('m', 5))
    const dead = await consumer(d, 'boundd.dead', 'c', 10)
    expect(await drain(dead, 3)).toEqual(['m-0', 'm-1', 'm-2'])
    const c = await consumer(d, 'boundd', 'c', 10)
    expect(await drain(c, 2)).toEqual(['m-3', 'm-4'])
    expect(await channelStats(d, 'boundd', 'c')).toMatchObject({ dead_lettered_count: 3, dropped_count: 0 })
    c.close()
    dead.close()
  })

  it('a full topic rejects PUB, MPUB (whole) and DPUB and HTTP publishes, and takes them again once it drains', async () => {
    const d = await nsqd()
    await ok(d, 'POST', '/topic/create?topic=full')
    await ok(d, 'POST', '/topic/policy?topic=full&max_depth=3')
    await publish(d, 'full', ['a', 'b'])
    const refused = async (cmd: Buffer, text: string): Promise<void> => {
      const p = await RawConn.open(d.tcp)
      p.write(cmd)
      expect([await p.expect(FrameType.Error)]).toEqual([text])
      await p.waitClosed()
    }
    await refused(commands.mpub('full', ['c', 'd']), 'E_MPUB_FAILED MPUB failed topic full')
    await publish(d, 'full', ['c'])
    await refused(commands.pub('full', 'd'), 'E_PUB_FAILED PUB failed topic full')
    await refused(commands.dpub('full', 100, 'd'), 'E_DPUB_FAILED DPUB failed topic full')
    const http = await fetch(`${d.httpUrl}/pub?topic=full`, { method: 'POST', body: 'd' })
    expect([http.status, await http.text()]).toEqual([503, '{"message":"TOPIC_FULL"}'])
    const mhttp = await fetch(`${d.httpUrl}/mpub?topic=full`, { method: 'POST', body: 'd\ne' })
    expect(mhttp.status).toBe(503)
    expect((await stats(d, 'full')).topics?.[0]).toMatchObject({ depth: 3, message_count: 3, rejected_count: 7 })
    // A channel drains the topic; publishes go through again.
    const c = await consumer(d, 'full', 'c', 10)
    expect(await drain(c, 3)).toEqual(['a', 'b', 'c'])
    await publish(d, 'full', ['e'])
    expect(await drain(c, 1)).toEqual(['e'])
    c.close()
  })

  it('a topic with overflow=drop-oldest keeps its newest max_depth, in memory and on disk', async () => {
    for (const memQueueSize of [10000, 0]) {
      const d = await nsqd({ memQueueSize })
      await ok(d, 'POST', '/topic/create?topic=tdrop')
      await ok(d, 'POST', '/topic/policy?topic=tdrop&max_depth=4&overflow=drop-oldest')
      await publish(d, 'tdrop', numbered('m', 10))
      await waitFor(async () => (await stats(d, 'tdrop')).topics?.[0]?.depth === 4, 5000, 'topic depth 4')
      const c = await consumer(d, 'tdrop', 'c', 10)
      expect(await drain(c, 4)).toEqual(numbered('m', 10).slice(6))
      expect((await stats(d, 'tdrop')).topics?.[0]).toMatchObject({ dropped_count: 6 })
      c.close()
    }
  })

  it('with memory and disk both holding messages, the oldest go (not the next to deliver)', async () => {
    const d = await nsqd({ memQueueSize: 2 })
    await ok(d, 'POST', '/topic/create?topic=mixed')
    await ok(d, 'POST', '/channel/create?topic=mixed&channel=c')
    await ok(d, 'POST', '/topic/create?topic=mixedt')
    for (const [i, name] of numbered('m', 6).entries()) {
      await publish(d, 'mixed', [name])
      await publish(d, 'mixedt', [name])
      // Distinct publish times, so that "oldest" is unambiguous.
      await olderThan(Date.now(), i === 5 ? 0 : 2)
    }
    await ok(d, 'POST', '/channel/policy?topic=mixed&channel=c&max_depth=4')
    await ok(d, 'POST', '/topic/policy?topic=mixedt&max_depth=3&overflow=drop-oldest')
    const c = await consumer(d, 'mixed', 'c', 10)
    expect((await drain(c, 4)).sort()).toEqual(numbered('m', 6).slice(2))
    const t = await consumer(d, 'mixedt', 'c', 10)
    expect((await drain(t, 3)).sort()).toEqual(numbered('m', 6).slice(3))
    c.close()
    t.close()
  })
})

describe('peek', () => {
  it('lists the next messages in delivery order, from memory and disk, and changes nothing', async () => {
    for (const memQueueSize of [3, 0]) {
      const d = await nsqd({ memQueueSize })
      await ok(d, 'POST', '/topic/create?topic=pk')
      await ok(d, 'POST', '/channel/create?topic=pk&channel=c')
      await publish(d, 'pk', numbered('m', 8))
      const p = await RawConn.open(d.tcp)
      p.write(commands.pub('pk', Buffer.from([0xff, 0xfe, 0x00])))
      expect(await p.expect(FrameType.Response)).toBe('OK')
      p.close()
      const snapshot = async (): Promise<string> => JSON.stringify(await ok(d, 'GET', '/stats?format=json&include_mem=false&include_clients=false'))
      const before = await snapshot()
      const peeked = await ok<PeekResponse>(d, 'GET', '/channel/peek?topic=pk&channel=c&n=20')
      expect(await snapshot()).toBe(before)
      // With memQueueSize 0 all are on disk, in publish order; with 3 in memory, delivery interleaves memory and disk.
      const bodies = peeked.messages.map((m) => m.body)
      if (memQueueSize === 0) expect(bodies).toEqual([...numbered('m', 8), '//4A'])
      else expect([...bodies].sort()).toEqual(['//4A', ...numbered('m', 8)])
      expect(peeked.messages.filter((m) => m.body_encoding === 'base64').map((m) => m.body)).toEqual(['//4A'])
      expect(peeked.messages.every((m) => m.attempts === 0 && m.id.length === 16 && m.timestamp > 1e18)).toBe(true)
      const first = await ok<PeekResponse>(d, 'GET', '/channel/peek?topic=pk&channel=c')
      expect(first.messages.length).toBe(9)
      expect((await ok<PeekResponse>(d, 'GET', '/channel/peek?topic=pk&channel=c&n=2')).messages).toEqual(peeked.messages.slice(0, 2))
      // A consumer still gets every message once, in the order peek showed.
      const c = await consumer(d, 'pk', 'c', 20)
      const got: string[] = []
      for (let i = 0; i < 9; i++) {
        const m = await message(c)
        c.write(commands.fin(m.id))
        got.push(m.id)
      }
      expect(got).toEqual(peeked.messages.map((m) => m.id))
      c.close()
    }
  })
})

describe('redrive', () => {
  it('moves each queued message of a channel to a topic exactly once, n at a time or all', async () => {
    const d = await nsqd({ memQueueSize: 4 })
    await ok(d, 'POST', '/topic/create?topic=rd.dead')
    await ok(d, 'POST', '/channel/create?topic=rd.dead&channel=ops')
    await publish(d, 'rd.dead', numbered('m', 10))
    const c = await consumer(d, 'rd', 'work', 20)
    // In the source channel's delivery order (memory and disk interleaved), which peek shows.
    const order = (await ok<PeekResponse>(d, 'GET', '/channel/peek?topic=rd.dead&channel=ops')).messages.map((m) => m.body)
    expect(await ok(d, 'POST', '/channel/redrive?topic=rd.dead&channel=ops&to=rd&n=4')).toEqual({ moved: 4 })
    expect(await drain(c, 4)).toEqual(order.slice(0, 4))
    expect(await channelStats(d, 'rd.dead', 'ops')).toMatchObject({ depth: 6 })
    expect(await ok(d, 'POST', '/channel/redrive?topic=rd.dead&channel=ops&to=rd')).toEqual({ moved: 6 })
    const rest = await drain(c, 6)
    expect([...order.slice(0, 4), ...rest].sort()).toEqual(numbered('m', 10))
    expect(await ok(d, 'POST', '/channel/redrive?topic=rd.dead&channel=ops&to=rd')).toEqual({ moved: 0 })
    expect(await channelStats(d, 'rd.dead', 'ops')).toMatchObject({ depth: 0, in_flight_count: 0 })
    expect(c.pending()).toEqual([])
    c.close()
  })
})

describe('/stats', () => {
  it('carries the policy fields only on topics and channels with a policy or a count', async () => {
    const d = await nsqd()
    await ok(d, 'POST', '/topic/create?topic=plain')
    await ok(d, 'POST', '/channel/create?topic=plain&channel=c')
    await ok(d, 'POST', '/channel/create?topic=plain&channel=p')
    await ok(d, 'POST', '/channel/policy?topic=plain&channel=p&max_attempts=4')
    const t = (await stats(d, 'plain')).topics?.[0]
    expect(Object.keys(t ?? {})).not.toContain('policy')
    const [c, p] = t?.channels ?? []
    expect(Object.keys(c ?? {})).not.toContain('policy')
    expect(p).toMatchObject({ policy: { max_attempts: 4 }, dead_lettered_count: 0, expired_count: 0, dropped_count: 0 })
    const text = await (await fetch(`${d.httpUrl}/stats?topic=plain`)).text()
    expect(text).toMatch(/\[p {24}\] depth: 0 .* msgs: 0 +dlq: 0 +expired: 0 +dropped: 0 +e2e%: \n/)
    expect(text).not.toMatch(/\[c {24}\].*dlq/)
    const metrics = await (await fetch(`${d.httpUrl}/metrics`)).text()
    expect(metrics).toContain('nsqd_channel_dead_lettered_total{topic="plain",channel="p"} 0')
    expect(metrics).toContain('nsqd_topic_rejected_total{topic="plain"} 0')
    await ok(d, 'POST', '/topic/policy?topic=plain&max_depth=9')
    expect(await (await fetch(`${d.httpUrl}/stats?topic=plain`)).text()).toMatch(/\[plain +\] depth: 0 .* msgs: 0 +rejected: 0 +expired: 0 +dropped: 0 +e2e%: \n/)
  })

  it('the policy flags are not /config options, like nsqd\'s other nsqts-only flags', async () => {
    const d = await nsqd({ maxAttempts: 3, msgTtl: 60_000 })
    for (const name of ['max_attempts', 'msg_ttl', 'max_channel_depth', 'channel_overflow']) {
      expect(await api(d, 'GET', `/config/${name}`)).toEqual({ status: 400, body: { message: 'INVALID_OPTION' } })
    }
  })
})

describe('after a clean restart (SIGTERM)', () => {
  it('policies, dead letters and queued messages are all still there, and the policies still act', async () => {
    const first = await startNsqd({ msgTimeout: 1000 })
    const dataPath = first.dataPath
    try {
      await channelWithPolicy(first, 'rs', 'c', 'max_attempts=1&ttl=1h&max_depth=3')
      await ok(first, 'POST', '/topic/policy?topic=rs&max_depth=100')
      const c = await consumer(first, 'rs', 'c', 1)
      await publish(first, 'rs', ['dies'])
      c.write(commands.req((await message(c)).id, 0))
      await waitFor(async () => (await channelStats(first, 'rs', 'c')).dead_lettered_count === 1, 5000, 'dead-lettered')
      c.close()
      await publish(first, 'rs', numbered('q', 5))
      expect(await channelStats(first, 'rs', 'c')).toMatchObject({ depth: 3, dropped_count: 2 })
      await first.nsqd.close()

      const again = await nsqd({ dataPath })
      expect(await ok(again, 'GET', '/channel/policy?topic=rs&channel=c')).toMatchObject({ max_attempts: 1, ttl: '1h0m0s', max_depth: 3 })
      expect(await ok(again, 'GET', '/topic/policy?topic=rs')).toEqual({ ttl: '', max_depth: 100, overflow: 'reject' })
      // Counts start again at 0 (as NSQ's counters do); the fields stay, since the policy is in force.
      expect(await channelStats(again, 'rs', 'c')).toMatchObject({ depth: 3, dead_lettered_count: 0, dropped_count: 0 })
      const dead = await consumer(again, 'rs.dead', 'ops', 5)
      expect(await drain(dead, 1)).toEqual(['dies'])
      await publish(again, 'rs', ['q-5'])
      // The oldest is on disk: the drop waits for the restored messages to be read back.
      await waitFor(async () => (await channelStats(again, 'rs', 'c')).dropped_count === 1, 5000, 'the oldest dropped')
      const c2 = await consumer(again, 'rs', 'c', 10)
      // The oldest went; delivery interleaves the restored (disk) and new (memory) messages.
      expect((await drain(c2, 3)).sort()).toEqual(['q-3', 'q-4', 'q-5'])
      c2.close()
      dead.close()
    } finally {
      await first.close()
    }
  })
})
