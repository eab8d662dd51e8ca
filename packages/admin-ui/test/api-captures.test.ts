import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { silentLogger } from '@nsqts/protocol'
import { header, loadHttpCapture, waitFor } from '@nsqts/testkit'
import { NSQAdmin, type AdminInit } from '@nsqts/admin-ui'
import { startReplayCluster, type ReplayCluster } from './replay.js'

type Injected = Awaited<ReturnType<Awaited<ReturnType<NSQAdmin['buildApp']>>['inject']>>

/** Client `connected` is "now - connect_ts": the one value that depends on when the test runs. */
function stable (body: string): unknown {
  return body.startsWith('{') || body.startsWith('[') ? JSON.parse(body.replace(/"connected":\d+/g, '"connected":0')) : body
}

function expectCapture (res: Injected, file: string, normalise: (s: string) => string): void {
  const cap = loadHttpCapture(file)
  expect(res.statusCode).toBe(cap.status)
  expect(res.headers['content-type']).toBe(header(cap, 'content-type'))
  const nsqContentType = header(cap, 'x-nsq-content-type')
  if (nsqContentType !== undefined) expect(res.headers['x-nsq-content-type']).toBe(nsqContentType)
  else expect(res.headers['x-nsq-content-type']).toBeUndefined()
  expect(stable(normalise(res.body))).toEqual(stable(cap.body.toString()))
}

async function adminFor (cluster: ReplayCluster, init: AdminInit = {}): Promise<NSQAdmin> {
  return new NSQAdmin({ lookupdHttpAddresses: [`127.0.0.1:${cluster.lookupd.http.port}`], logger: silentLogger, ...init })
}

describe('reads, against the captured cluster', () => {
  let cluster: ReplayCluster
  let admin: NSQAdmin
  const get = async (url: string): Promise<Injected> => await (await admin.buildApp()).inject({ method: 'GET', url })

  beforeAll(async () => {
    cluster = await startReplayCluster()
    admin = await adminFor(cluster)
  })
  afterAll(async () => {
    await admin.close()
    await cluster.close()
  })

  const cases: Array<[string, string]> = [
    ['/api/topics', 'nsqadmin_api_topics.http'],
    ['/api/topics?inactive=true', 'nsqadmin_api_topics_inactive.http'],
    ['/api/topics/orders', 'nsqadmin_api_topic_orders.http'],
    ['/api/topics/empty_topic', 'nsqadmin_api_topic_empty_topic.http'],
    ['/api/topics/missing', 'nsqadmin_api_topic_missing.http'],
    ['/api/topics/orders/billing', 'nsqadmin_api_topic_orders_billing.http'],
    ['/api/topics/orders/audit%23ephemeral', 'nsqadmin_api_topic_orders_audit_ephemeral.http'],
    ['/api/topics/orders/missing', 'nsqadmin_api_channel_missing.http'],
    ['/api/nodes', 'nsqadmin_api_nodes.http'],
    ['/api/nodes/127.0.0.1:9999', 'nsqadmin_api_node_missing.http'],
    ['/api/counter', 'nsqadmin_api_counter.http'],
    ['/api/bogus', 'nsqadmin_not_found.http'],
    ['/ping', 'nsqadmin_ping.http'],
  ]
  for (const [url, file] of cases) {
    it(`GET ${url} answers as ${file}`, async () => {
      expectCapture(await get(url), file, cluster.normalise)
    })
  }

  it('GET /api/nodes/:node answers as nsqadmin_api_node_127.0.0.1-4151.http', async () => {
    expectCapture(await get(`/api/nodes/${cluster.node}`), 'nsqadmin_api_node_127.0.0.1-4151.http', cluster.normalise)
  })

  it('GET /config/nsqlookupd_http_addresses lists the lookupds', async () => {
    const res = await get('/config/nsqlookupd_http_addresses')
    expect(res.statusCode).toBe(200)
    expect(JSON.parse(res.body)).toEqual([`127.0.0.1:${cluster.lookupd.http.port}`])
  })

  it('reads ask nsqd only what they need: the topic page without clients, the channel page with them', async () => {
    expect((await get('/api/topics/orders')).statusCode).toBe(200)
    expect((await get('/api/topics/orders/billing')).statusCode).toBe(200)
    expect(cluster.posts).toEqual([])
  })
})

describe('actions, against the captured cluster', () => {
  let cluster: ReplayCluster
  let notifications: Array<Record<string, unknown>>
  let notifyServer: Server
  let endpoint: string
  const started: NSQAdmin[] = []

  beforeAll(async () => {
    notifications = []
    notifyServer = createServer((req, res) => {
      let body = ''
      req.on('data', (c: Buffer) => { body += c.toString() })
      req.on('end', () => {
        notifications.push(JSON.parse(body) as Record<string, unknown>)
        res.end()
      })
    })
    await new Promise<void>((resolve) => notifyServer.listen(0, '127.0.0.1', resolve))
    endpoint = `http://127.0.0.1:${(notifyServer.address() as AddressInfo).port}/notify`
  })
  afterEach(async () => {
    await Promise.all(started.splice(0).map(async (a) => { await a.close() }))
    await cluster.close()
  })
  afterAll(async () => {
    await new Promise<void>((resolve) => notifyServer.close(() => resolve()))
  })

  type Inject = (method: string, url: string, body?: string, headers?: Record<string, string>) => Promise<Injected>
  async function setup (init: AdminInit = {}): Promise<Inject> {
    cluster = await startReplayCluster()
    cluster.posts.length = 0
    notifications.length = 0
    const admin = await adminFor(cluster, { notificationHttpEndpoint: endpoint, ...init })
    started.push(admin)
    const app = await admin.buildApp()
    return async (method, url, body, headers) => await app.inject({ method: method as 'GET', url, body, headers: { 'user-agent': 'test-agent', ...headers } })
  }

  it('pause and unpause a channel: nsqd /channel/pause, /channel/unpause, answers as captured, notifies', async () => {
    const req = await setup()
    expectCapture(await req('POST', '/api/topics/orders/billing', '{"action":"pause"}'), 'nsqadmin_post_channel_pause.http', cluster.normalise)
    expectCapture(await req('POST', '/api/topics/orders/billing', '{"action":"unpause"}'), 'nsqadmin_post_channel_unpause.http', cluster.normalise)
    expect(cluster.posts).toEqual(['POST /channel/pause?topic=orders&channel=billing', 'POST /channel/unpause?topic=orders&channel=billing'])
    await waitFor(() => notifications.length === 2, 5000, 'two notifications')
    const pause = notifications.find((n) => n.action === 'pause_channel')
    expect(pause).toMatchObject({ action: 'pause_channel', topic: 'orders', channel: 'billing', user_agent: 'test-agent', url: '/api/topics/orders/billing' })
    expect(typeof pause?.timestamp).toBe('number')
    expect(typeof pause?.via).toBe('string')
    expect(typeof pause?.remote_ip).toBe('string')
    expect(notifications.map((n) => n.action).sort()).toEqual(['pause_channel', 'unpause_channel'])
  })

  it('pause, unpause and empty a topic; empty a channel', async () => {
    const req = await setup()
    expectCapture(await req('POST', '/api/topics/empty_topic', '{"action":"pause"}'), 'nsqadmin_post_topic_pause.http', cluster.normalise)
    expectCapture(await req('POST', '/api/topics/empty_topic', '{"action":"unpause"}'), 'nsqadmin_post_topic_unpause.http', cluster.normalise)
    expect((await req('POST', '/api/topics/orders', '{"action":"empty"}')).statusCode).toBe(200)
    expect((await req('POST', '/api/topics/orders/billing', '{"action":"empty"}')).statusCode).toBe(200)
    expect(cluster.posts).toEqual([
      'POST /topic/pause?topic=empty_topic', 'POST /topic/unpause?topic=empty_topic',
      'POST /topic/empty?topic=orders', 'POST /channel/empty?topic=orders&channel=billing',
    ])
    await waitFor(() => notifications.length === 4, 5000, 'four notifications')
    expect(notifications.map((n) => n.action).sort()).toEqual(['empty_channel', 'empty_topic', 'pause_topic', 'unpause_topic'])
  })

  it('refuses a bad action and bad JSON as nsqadmin does', async () => {
    const req = await setup()
    expectCapture(await req('POST', '/api/topics/orders/billing', '{"action":"bogus"}'), 'nsqadmin_post_channel_bad_action.http', cluster.normalise)
    expectCapture(await req('POST', '/api/topics/orders/billing', '{"action":'), 'nsqadmin_post_channel_bad_json.http', cluster.normalise)
    expect(cluster.posts).toEqual([])
  })

  it('creates a topic and channel in lookupd, lists it as inactive, deletes it', async () => {
    const req = await setup()
    expectCapture(await req('POST', '/api/topics', '{"topic":"bad!topic"}'), 'nsqadmin_post_topics_create_invalid.http', cluster.normalise)
    expectCapture(await req('POST', '/api/topics', '{"topic":"admin_topic","channel":"admin_ch"}'), 'nsqadmin_post_topics_create.http', cluster.normalise)
    expectCapture(await req('GET', '/api/topics?inactive=true'), 'nsqadmin_api_topics_inactive_after_create.http', cluster.normalise)
    expectCapture(await req('DELETE', '/api/topics/admin_topic'), 'nsqadmin_delete_topic_admin_topic.http', cluster.normalise)
    expectCapture(await req('GET', '/api/topics?inactive=true'), 'nsqadmin_api_topics_inactive.http', cluster.normalise)
    await waitFor(() => notifications.length === 3, 5000, 'three notifications')
    expect(notifications.map((n) => n.action).sort()).toEqual(['create_channel', 'create_topic', 'delete_topic'])
    expect(notifications.find((n) => n.action === 'create_channel')).toMatchObject({ topic: 'admin_topic', channel: 'admin_ch' })
  })

  it('lists an inactive topic named __proto__ like any other', async () => {
    const req = await setup()
    const name = '__proto__'
    expect((await req('POST', '/api/topics', JSON.stringify({ topic: name, channel: 'c' }))).statusCode).toBe(200)
    const topics = JSON.parse((await req('GET', '/api/topics?inactive=true')).body).topics as Record<string, string[]>
    expect(Object.hasOwn(topics, name) ? topics[name] : 'missing').toEqual(['c'])
  })

  it('creating a channel of a produced topic creates it on the nsqd too; deleting a channel deletes it on lookupd and nsqd', async () => {
    const req = await setup()
    expect((await req('POST', '/api/topics', '{"topic":"orders","channel":"extra"}')).statusCode).toBe(200)
    expect(cluster.posts).toEqual(['POST /channel/create?topic=orders&channel=extra'])
    expect((await req('DELETE', '/api/topics/orders/extra')).statusCode).toBe(200)
    expect(cluster.posts.at(-1)).toBe('POST /channel/delete?topic=orders&channel=extra')
    const channels = await (await fetch(`${cluster.lookupd.httpUrl}/channels?topic=orders`)).json() as { channels: string[] }
    expect(channels.channels).not.toContain('extra')
    await waitFor(() => notifications.length === 3, 5000, 'three notifications')
    expect(notifications.map((n) => n.action).sort()).toEqual(['create_channel', 'create_topic', 'delete_channel'])
  })

  it('deleting a produced topic deletes it on lookupd and on its nsqd', async () => {
    const req = await setup()
    expect((await req('DELETE', '/api/topics/orders')).statusCode).toBe(200)
    expect(cluster.posts).toEqual(['POST /topic/delete?topic=orders'])
    const topics = await (await fetch(`${cluster.lookupd.httpUrl}/topics`)).json() as { topics: string[] }
    expect(topics.topics).not.toContain('orders')
  })

  it('tombstones a topic on a node: lookupd marks it, the node deletes it; /api/nodes as captured after', async () => {
    const req = await setup()
    const res = await req('DELETE', `/api/nodes/${cluster.node}`, '{"topic":"orders"}')
    expect(res.statusCode).toBe(200)
    expect(JSON.parse(res.body)).toEqual({ message: '' })
    expect(cluster.posts).toEqual(['POST /topic/delete?topic=orders'])
    expectCapture(await req('GET', '/api/nodes'), 'nsqadmin_api_nodes_after_tombstone.http', cluster.normalise)
    await waitFor(() => notifications.length === 1, 5000, 'a notification')
    expect(notifications[0]).toMatchObject({ action: 'tombstone_topic_producer', topic: 'orders', node: cluster.node })
    expect((await req('DELETE', `/api/nodes/${cluster.node}`, '{"topic":"bad!"}')).statusCode).toBe(400)
  })

  it('with --admin-user, changes need the ACL header to name an admin (403 FORBIDDEN otherwise); reads stay open', async () => {
    const req = await setup({ adminUsers: ['alice'], aclHttpHeader: 'X-Auth-User' })
    const attempts: Array<[string, string, string?]> = [
      ['POST', '/api/topics', '{"topic":"t1"}'],
      ['POST', '/api/topics/orders', '{"action":"pause"}'],
      ['POST', '/api/topics/orders/billing', '{"action":"empty"}'],
      ['DELETE', '/api/topics/orders'],
      ['DELETE', '/api/topics/orders/billing'],
      ['DELETE', `/api/nodes/${cluster.node}`, '{"topic":"orders"}'],
    ]
    for (const [method, url, body] of attempts) {
      for (const headers of [{}, { 'x-auth-user': 'mallory' }] as Array<Record<string, string>>) {
        const res = await req(method, url, body, headers)
        expect(res.statusCode, `${method} ${url}`).toBe(403)
        expect(JSON.parse(res.body)).toEqual({ message: 'FORBIDDEN' })
      }
    }
    expect(cluster.posts).toEqual([])
    expect((await req('GET', '/api/topics')).statusCode).toBe(200)
    expect((await req('POST', '/api/topics/orders/billing', '{"action":"pause"}', { 'x-auth-user': 'alice' })).statusCode).toBe(200)
    expect(cluster.posts).toEqual(['POST /channel/pause?topic=orders&channel=billing'])
    await waitFor(() => notifications.length === 1, 5000, 'a notification')
    expect(notifications[0]).toMatchObject({ action: 'pause_channel', user: 'alice' })
  })

  it('serves the API under --base-path', async () => {
    const req = await setup({ basePath: '/admin' })
    expect(JSON.parse((await req('GET', '/admin/api/topics')).body)).toEqual({ topics: ['empty_topic', 'lookup_only', 'orders', 'scratch'], message: '' })
    expect((await req('GET', '/api/topics')).statusCode).toBe(404)
  })
})
