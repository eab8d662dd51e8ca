/**
 * nsqadmin's delivery-policy routes (nsqts) against real nsqds registered with a real nsqlookupd, and against NSQ
 * 1.3.0's nsqd replayed from the captures (which has no policies).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { NsqdHttpClient } from '@nsqts/client'
import { silentLogger, type ChannelPolicy, type TopicPolicy } from '@nsqts/protocol'
import {
  CAPTURES_AVAILABLE, startLookupd, startNsqd, waitFor, type LookupdHandle, type NsqdHandle,
} from '@nsqts/testkit'
import { NSQAdmin, type AdminInit } from '@nsqts/admin-ui'
import { startReplayCluster } from './replay.js'

const closers: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
})

interface Node { handle: NsqdHandle, client: NsqdHttpClient, name: string }

async function cluster (nodes: number): Promise<{ lookupd: LookupdHandle, nodes: Node[] }> {
  const lookupd = await startLookupd()
  closers.push(() => lookupd.close())
  const out: Node[] = []
  for (let i = 0; i < nodes; i++) {
    const handle = await startNsqd({ nsqlookupdTcpAddresses: [`127.0.0.1:${lookupd.tcp.port}`] })
    closers.push(() => handle.close())
    out.push({ handle, client: new NsqdHttpClient(handle.httpUrl), name: `127.0.0.1:${handle.http.port}` })
  }
  out.sort((a, b) => a.name.localeCompare(b.name))
  return { lookupd, nodes: out }
}

interface Answer<T> { status: number, body: T & { message: string } }

async function admin (lookupd: LookupdHandle, init: AdminInit = {}): Promise<{
  get: <T>(url: string, headers?: Record<string, string>) => Promise<Answer<T>>
  post: <T>(url: string, body: unknown, headers?: Record<string, string>) => Promise<Answer<T>>
}> {
  const a = new NSQAdmin({ logger: silentLogger, lookupdHttpAddresses: [`127.0.0.1:${lookupd.http.port}`], ...init })
  closers.push(() => a.close())
  const app = await a.buildApp()
  const call = async <T>(method: 'GET' | 'POST', url: string, body: unknown, headers: Record<string, string> = {}):
  Promise<Answer<T>> => {
    const res = await app.inject({ method, url, headers, body: body === undefined ? undefined : JSON.stringify(body) })
    return { status: res.statusCode, body: JSON.parse(res.body) }
  }
  return {
    get: async (url, headers) => await call('GET', url, undefined, headers),
    post: async (url, body, headers) => await call('POST', url, body, headers),
  }
}

/** Waits until lookupd lists `count` nsqds for the topic, so nsqadmin sees every node that has it. */
async function registered (lookupd: LookupdHandle, topic: string, count: number): Promise<void> {
  await waitFor(async () => {
    const res = await fetch(`${lookupd.httpUrl}/lookup?topic=${topic}`)
    return res.ok && ((await res.json()) as { producers: unknown[] }).producers.length === count
  }, 5000, `${count} producers of ${topic} in lookupd`)
}

describe('nsqadmin policy, peek and redrive routes', () => {
  it('checks bodies before asking nsqd; admin-only with --admin-user; a topic lookupd lacks is its 502', async () => {
    const { lookupd, nodes } = await cluster(1)
    const node = nodes[0] as Node
    const { get, post } = await admin(lookupd)
    await node.client.createTopic('orders')
    await node.client.createChannel('orders', 'billing')
    await registered(lookupd, 'orders', 1)

    expect(await post('/api/policy/orders/billing', { max_attempts: '3' }))
      .toEqual({ status: 400, body: { message: 'INVALID_MAX_ATTEMPTS' } })
    expect(await post('/api/policy/orders', { ttl: 30 })).toEqual({ status: 400, body: { message: 'INVALID_TTL' } })
    expect(await post('/api/policy/orders', [1]))
      .toEqual({ status: 400, body: { message: 'json: cannot unmarshal body into an object' } })
    expect(await post('/api/redrive/orders/billing', { n: 1 }))
      .toEqual({ status: 400, body: { message: 'INVALID_TO' } })
    expect(await post('/api/redrive/orders/billing', { to: 'x', n: 0 }))
      .toEqual({ status: 400, body: { message: 'INVALID_N' } })
    expect(await get('/api/peek/orders/billing?n=-1')).toEqual({ status: 400, body: { message: 'INVALID_N' } })
    // As nsqadmin's other routes: lookupd's 404 for a topic it does not know is an upstream error.
    const unknown = await get('/api/policy/nowhere')
    expect(unknown.status).toBe(502)
    expect(unknown.body.message).toMatch(/^UPSTREAM_ERROR: failed to query any nsqlookupd: got response 404/)

    const guarded = await admin(lookupd, { adminUsers: ['ops'] })
    expect((await guarded.post('/api/policy/orders/billing', { max_attempts: 3 })).status).toBe(403)
    expect((await guarded.post('/api/redrive/orders/billing', { to: 'orders2' })).status).toBe(403)
    expect((await guarded.get('/api/peek/orders/billing')).status).toBe(403)
  })

  // The replayed nsqd answers with the captured bodies, which a release tarball does not ship.
  it.skipIf(!CAPTURES_AVAILABLE)('NSQ 1.3.0\'s nsqd (replayed) has no policies: reads say so per node', async () => {
    const replay = await startReplayCluster()
    closers.push(() => replay.close())
    const { get } = await admin(replay.lookupd)
    expect(await get('/api/policy/orders/billing'))
      .toEqual({ status: 200, body: { nodes: [{ node: replay.node, policy: null }], message: '' } })
    expect(await get('/api/policy/orders'))
      .toEqual({ status: 200, body: { nodes: [{ node: replay.node, policy: null }], message: '' } })
  })

  it('sets a policy on each node with the topic or channel, answers per node; bad values change nothing', async () => {
    const { lookupd, nodes } = await cluster(2)
    const [a, b] = nodes as [Node, Node]
    const { get, post } = await admin(lookupd)
    for (const n of nodes) {
      await n.client.createTopic('orders')
      await n.client.createChannel('orders', 'billing')
    }
    await a.client.createChannel('orders', 'audit')
    await registered(lookupd, 'orders', 2)

    const set = await post<{ nodes: Array<{ node: string, policy: ChannelPolicy }> }>(
      '/api/policy/orders/billing', { max_attempts: 3, ttl: '30s' })
    expect(set.status).toBe(200)
    expect(set.body.message).toBe('')
    expect(set.body.nodes.map((n) => [n.node, n.policy.max_attempts, n.policy.ttl]))
      .toEqual([[a.name, 3, '30s'], [b.name, 3, '30s']])
    for (const n of nodes) {
      expect(await n.client.getChannelPolicy('orders', 'billing'))
        .toMatchObject({ max_attempts: 3, ttl: '30s', dead_letter_topic: 'orders.dead' })
    }
    const read = await get<{ nodes: Array<{ node: string, policy: ChannelPolicy }> }>('/api/policy/orders/billing')
    expect(read.body.nodes).toEqual(set.body.nodes)

    // Only node a has the channel: b's CHANNEL_NOT_FOUND leaves it out, with no warning.
    const audit = await post<{ nodes: Array<{ node: string }> }>('/api/policy/orders/audit', { max_depth: 5 })
    expect([audit.status, audit.body.message, audit.body.nodes.map((n) => n.node)]).toEqual([200, '', [a.name]])
    expect((await a.client.getChannelPolicy('orders', 'audit')).max_depth).toBe(5)
    expect(await get('/api/policy/orders/missing')).toEqual({ status: 404, body: { message: 'CHANNEL_NOT_FOUND' } })

    expect(await post('/api/policy/orders/billing', { max_attempts: -1, ttl: '1m' }))
      .toEqual({ status: 400, body: { message: 'INVALID_MAX_ATTEMPTS' } })
    for (const n of nodes) expect((await n.client.getChannelPolicy('orders', 'billing')).ttl).toBe('30s')

    const topic = await post<{ nodes: Array<{ node: string, policy: TopicPolicy }> }>(
      '/api/policy/orders', { max_depth: 100, overflow: 'drop-oldest' })
    expect(topic.body.nodes.map((n) => n.node)).toEqual([a.name, b.name])
    for (const n of nodes) {
      expect(await n.client.getTopicPolicy('orders')).toEqual({ ttl: '', max_depth: 100, overflow: 'drop-oldest' })
    }
    expect(await post('/api/policy/orders', { overflow: 'dead-letter' }))
      .toEqual({ status: 400, body: { message: 'INVALID_OVERFLOW' } })

    const asOps = { 'x-forwarded-user': 'ops' }
    const guarded = await admin(lookupd, { adminUsers: ['ops'] })
    expect((await guarded.post('/api/policy/orders/billing', { max_attempts: 4 }, asOps)).status).toBe(200)
    expect((await guarded.get('/api/peek/orders/billing', asOps)).status).toBe(200)
  })

  it('peek lists each node\'s next messages, changing nothing; redrive moves each once, up to n in all', async () => {
    const { lookupd, nodes } = await cluster(2)
    const [a, b] = nodes as [Node, Node]
    const { get, post } = await admin(lookupd)
    for (const n of nodes) {
      await n.client.createTopic('jobs.dead')
      await n.client.createChannel('jobs.dead', 'c')
      await n.client.createTopic('jobs')
      await n.client.createChannel('jobs', 'work')
    }
    await a.client.publishMany('jobs.dead', ['a1', 'a2'])
    await b.client.publishMany('jobs.dead', ['b1', 'b2', 'b3'])
    await registered(lookupd, 'jobs.dead', 2)
    const depth = async (n: Node, topic: string, channel: string): Promise<number | undefined> =>
      (await n.client.stats({ topic, channel })).topics?.[0]?.channels[0]?.depth
    await waitFor(async () => await depth(a, 'jobs.dead', 'c') === 2 && await depth(b, 'jobs.dead', 'c') === 3,
      5000, 'messages in both channels')

    type Peeked = { messages: Array<{ node: string, id: string, body: string, attempts: number }> }
    const peeked = await get<Peeked>('/api/peek/jobs.dead/c?n=10')
    expect(peeked.status).toBe(200)
    expect(peeked.body.messages.map((m) => [m.node, m.body]))
      .toEqual([[a.name, 'a1'], [a.name, 'a2'], [b.name, 'b1'], [b.name, 'b2'], [b.name, 'b3']])
    expect((await get<Peeked>('/api/peek/jobs.dead/c?n=1')).body.messages.map((m) => m.body)).toEqual(['a1', 'b1'])
    expect([await depth(a, 'jobs.dead', 'c'), await depth(b, 'jobs.dead', 'c')]).toEqual([2, 3])

    const first = await post<{ moved: number, nodes: Array<{ node: string, moved: number }> }>(
      '/api/redrive/jobs.dead/c', { to: 'jobs', n: 3 })
    expect(first.body)
      .toEqual({ moved: 3, nodes: [{ node: a.name, moved: 2 }, { node: b.name, moved: 1 }], message: '' })
    const rest = await post<{ moved: number }>('/api/redrive/jobs.dead/c', { to: 'jobs' })
    expect(rest.body.moved).toBe(2)
    expect([await depth(a, 'jobs.dead', 'c'), await depth(b, 'jobs.dead', 'c')]).toEqual([0, 0])
    await waitFor(async () => await depth(a, 'jobs', 'work') === 2 && await depth(b, 'jobs', 'work') === 3,
      5000, 'the messages on jobs')
    const moved = [
      ...(await a.client.peekChannel('jobs', 'work')).messages,
      ...(await b.client.peekChannel('jobs', 'work')).messages,
    ]
    expect(moved.map((m) => m.body).sort()).toEqual(['a1', 'a2', 'b1', 'b2', 'b3'])
  })

  it('the channel and topic answers carry the policy counts, summed over nodes', async () => {
    const { lookupd, nodes } = await cluster(2)
    const { get, post } = await admin(lookupd)
    for (const n of nodes) {
      await n.client.createTopic('feed')
      await n.client.createChannel('feed', 'slow')
      await n.client.createTopic('full')
    }
    await registered(lookupd, 'feed', 2)
    await registered(lookupd, 'full', 2)
    expect((await post('/api/policy/feed/slow', { max_depth: 2, overflow: 'drop-oldest' })).status).toBe(200)
    expect((await post('/api/policy/full', { max_depth: 1, overflow: 'reject' })).status).toBe(200)
    for (const n of nodes) {
      await n.client.publishMany('feed', ['1', '2', '3', '4', '5'])
      await n.client.publish('full', 'kept')
      await expect(n.client.publish('full', 'refused')).rejects.toMatchObject({ status: 503 })
    }
    await waitFor(async () => (await get<{ dropped_count?: number }>('/api/topics/feed/slow')).body.dropped_count === 6,
      5000, 'three dropped on each node')
    const slow = await get<{ depth: number, nodes: Array<{ dropped_count?: number }> }>('/api/topics/feed/slow')
    expect([slow.body.depth, slow.body.nodes.map((n) => n.dropped_count)]).toEqual([4, [3, 3]])
    const full = await get<{ rejected_count?: number, depth: number }>('/api/topics/full')
    expect([full.body.rejected_count, full.body.depth]).toEqual([2, 2])
  })
})
