/**
 * nsqadmin's delivery-policy routes (nsqts) against real nsqds registered with a real nsqlookupd, and against NSQ
 * 1.3.0's nsqd replayed from the captures (which has no policies).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { NsqdHttpClient } from '@nsqts/client'
import { silentLogger } from '@nsqts/protocol'
import { startLookupd, startNsqd, waitFor, type LookupdHandle, type NsqdHandle } from '@nsqts/testkit'
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

  it('NSQ 1.3.0\'s nsqd (replayed from captures) has no policies: the read says so per node, no failure', async () => {
    const replay = await startReplayCluster()
    closers.push(() => replay.close())
    const { get } = await admin(replay.lookupd)
    expect(await get('/api/policy/orders/billing'))
      .toEqual({ status: 200, body: { nodes: [{ node: replay.node, policy: null }], message: '' } })
    expect(await get('/api/policy/orders'))
      .toEqual({ status: 200, body: { nodes: [{ node: replay.node, policy: null }], message: '' } })
  })
})
