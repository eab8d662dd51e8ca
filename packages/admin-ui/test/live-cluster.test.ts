import { connect } from 'node:net'
import { once } from 'node:events'
import { afterEach, describe, expect, it } from 'vitest'
import { NsqdHttpClient } from '@nsqts/client'
import { silentLogger } from '@nsqts/protocol'
import {
  GO_REFUSED_TRANSFER_ENCODINGS, GO_TAKEN_TRANSFER_ENCODING, GO_UNSUPPORTED_TE_ANSWER, startLookupd, startNsqd, waitFor,
  type LookupdHandle, type NsqdHandle,
} from '@nsqts/testkit'
import { NSQAdmin, type AdminInit, type SeriesPoint } from '@nsqts/admin-ui'

const closers: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
})

async function cluster (): Promise<{ lookupd: LookupdHandle, nsqd: NsqdHandle, client: NsqdHttpClient }> {
  const lookupd = await startLookupd()
  closers.push(() => lookupd.close())
  const nsqd = await startNsqd({ nsqlookupdTcpAddresses: [`127.0.0.1:${lookupd.tcp.port}`] })
  closers.push(() => nsqd.close())
  return { lookupd, nsqd, client: new NsqdHttpClient(nsqd.httpUrl) }
}

async function admin (init: AdminInit): Promise<{
  admin: NSQAdmin
  get: <T>(url: string) => Promise<{ status: number, body: T }>
  post: (url: string, body: unknown) => Promise<number>
}> {
  const a = new NSQAdmin({ logger: silentLogger, historyIntervalMs: 100, historyWindowMs: 60_000, ...init })
  closers.push(() => a.close())
  const app = await a.buildApp()
  return {
    admin: a,
    get: async (url) => {
      const res = await app.inject({ method: 'GET', url })
      return { status: res.statusCode, body: JSON.parse(res.body) }
    },
    post: async (url, body) => (await app.inject({ method: 'POST', url, body: JSON.stringify(body) })).statusCode,
  }
}

describe('against our nsqd and nsqlookupd', () => {
  it('lists a new topic, reads channel depth, pauses and empties the channel on nsqd', async () => {
    const { lookupd, client } = await cluster()
    const { get, post } = await admin({ lookupdHttpAddresses: [`127.0.0.1:${lookupd.http.port}`] })
    await client.createTopic('live')
    await client.createChannel('live', 'ch')
    await client.publishMany('live', ['a', 'b', 'c'])
    await waitFor(async () => (await get<{ topics: string[] }>('/api/topics')).body.topics.includes('live'), 5000, 'topic in lookupd')
    await waitFor(async () => (await get<{ depth?: number }>('/api/topics/live/ch')).body.depth === 3, 5000, 'channel depth 3')

    expect(await post('/api/topics/live/ch', { action: 'pause' })).toBe(200)
    const paused = await client.stats({ topic: 'live', channel: 'ch' })
    expect(paused.topics?.[0]?.channels[0]?.paused).toBe(true)
    expect((await get<{ paused: boolean }>('/api/topics/live/ch')).body.paused).toBe(true)

    expect(await post('/api/topics/live/ch', { action: 'empty' })).toBe(200)
    const emptied = await client.stats({ topic: 'live', channel: 'ch' })
    expect(emptied.topics?.[0]?.channels[0]?.depth).toBe(0)
  })

  it('history: a rate while messages flow, and a node that stops answering is down (null), not zero', async () => {
    const { lookupd, nsqd, client } = await cluster()
    const { admin: a, get } = await admin({ lookupdHttpAddresses: [`127.0.0.1:${lookupd.http.port}`] })
    a.history.start()
    await client.createTopic('rates')
    // Valid NSQ topic names that an object keyed by name would resolve to Object.prototype's members.
    const odd = ['__proto__', 'constructor']
    for (const name of odd) await client.publish(name, 'x')
    const node = `127.0.0.1:${nsqd.http.port}`
    const series = async (): Promise<SeriesPoint[]> => (await get<{ points: SeriesPoint[] }>('/api/history?topic=rates')).body.points
    let n = 0
    await waitFor(async () => {
      await client.publish('rates', `m${n++}`)
      return (await series()).some((p) => (p.nodes[node]?.rate ?? 0) > 0)
    }, 10_000, 'a positive rate')
    const summary = (await get<{ topics: Record<string, { messages: number }> }>('/api/history/topics')).body
    expect(summary.topics.rates?.messages).toBeGreaterThan(0)
    expect(odd.map((name) => Object.hasOwn(summary.topics, name) ? summary.topics[name]?.messages : 'missing')).toEqual([1, 1])
    expect(Object.prototype).not.toHaveProperty('depth')

    await nsqd.close()
    await waitFor(async () => (await series()).at(-1)?.nodes[node] === null, 10_000, 'node marked down')
    const down = (await get<{ down: string[] }>('/api/history/topics')).body.down
    expect(down).toEqual([node])
  })

  it('a lookupd that does not answer: 502 UPSTREAM_ERROR; one of two: the data plus a WARNING', async () => {
    const { lookupd, client } = await cluster()
    await client.createTopic('seen')
    await waitFor(async () => (await (await fetch(`${lookupd.httpUrl}/topics`)).json() as { topics: string[] }).topics.includes('seen'), 5000, 'registration')
    const dead = '127.0.0.1:1'
    const none = await admin({ lookupdHttpAddresses: [dead] })
    const failed = await none.get<{ message: string }>('/api/topics')
    expect(failed.status).toBe(502)
    expect(failed.body.message).toMatch(/^UPSTREAM_ERROR: failed to query any nsqlookupd: /)
    const half = await admin({ lookupdHttpAddresses: [`127.0.0.1:${lookupd.http.port}`, dead] })
    const partial = await half.get<{ topics: string[], message: string }>('/api/topics')
    expect(partial.status).toBe(200)
    expect(partial.body.topics).toEqual(['seen'])
    expect(partial.body.message).toMatch(/^WARNING: /)
  })

  it('works from --nsqd-http-address alone: topics, nodes, node, create', async () => {
    const { nsqd, client } = await cluster()
    const address = `127.0.0.1:${nsqd.http.port}`
    const { get, post } = await admin({ nsqdHttpAddresses: [address] })
    expect(await post('/api/topics', { topic: 'direct', channel: 'c1' })).toBe(200)
    expect((await client.stats({ topic: 'direct' })).topics?.[0]?.channels.map((c) => c.channel_name)).toEqual(['c1'])
    expect((await get<{ topics: string[] }>('/api/topics')).body.topics).toEqual(['direct'])
    const nodes = (await get<{ nodes: Array<{ topics: Array<{ topic: string }> }> }>('/api/nodes')).body.nodes
    expect(nodes.map((n) => n.topics.map((t) => t.topic))).toEqual([['direct']])
    const node = await get<{ node: string, topics: Array<{ topic_name: string }> }>(`/api/nodes/${address}`)
    expect(node.status).toBe(200)
    expect(node.body.topics.map((t) => t.topic_name)).toEqual(['direct'])
    expect((await get<{ channel_name: string }>('/api/topics/direct/c1')).body.channel_name).toBe('c1')
  })

  it('answers as Go\'s server does, then closes: refused Host headers, versions other than 1.x, bad %-escapes in the path, Transfer-Encodings other than chunked, unparsable requests', async () => {
    const a = new NSQAdmin({ httpAddress: '127.0.0.1:0', nsqdHttpAddresses: ['127.0.0.1:1'], logger: silentLogger })
    await a.start()
    closers.push(async () => { await a.close() })
    const exchange = async (request: string): Promise<string> => {
      const socket = connect(a.httpAddress.port, '127.0.0.1')
      socket.on('error', () => {})
      const chunks: Buffer[] = []
      socket.on('data', (c: Buffer) => chunks.push(c))
      socket.write(request)
      await once(socket, 'close')
      return Buffer.concat(chunks).toString('latin1')
    }
    const goRefusal = (text: string): string =>
      `HTTP/1.1 ${text}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n${text}`
    expect(await exchange('GET /ping HTTP/1.1\r\n\r\n')).toBe(goRefusal('400 Bad Request: missing required Host header'))
    expect(await exchange('GET /ping HTTP/1.0\r\nHost: a/b\r\n\r\n')).toBe(goRefusal('400 Bad Request: malformed Host header'))
    expect(await exchange('GET /ping HTTP/1.1\r\nHost x\r\n\r\n')).toBe(goRefusal('400 Bad Request'))
    expect(await exchange('GET /api/topics/%zz HTTP/1.1\r\nHost: a\r\n\r\n')).toBe(goRefusal('400 Bad Request'))
    expect(await exchange('GET /ping HTTP/2.0\r\nHost: a\r\n\r\n'))
      .toBe(goRefusal('505 HTTP Version Not Supported: unsupported protocol version'))
    expect(await exchange('GET /ping HTTP/1.0\r\n\r\n')).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nOK$/)
    for (const request of GO_REFUSED_TRANSFER_ENCODINGS) {
      expect(await exchange(request), request).toBe(GO_UNSUPPORTED_TE_ANSWER)
    }
    expect(await exchange(GO_TAKEN_TRANSFER_ENCODING)).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nOK$/)
  })

  it('close() returns while a browser holds a connection with a request half sent', async () => {
    const a = new NSQAdmin({ httpAddress: '127.0.0.1:0', nsqdHttpAddresses: ['127.0.0.1:1'], logger: silentLogger })
    await a.start()
    // A browser's preconnected or stalled socket is not idle to node's http server, which would otherwise wait for it.
    const socket = connect(a.httpAddress.port, '127.0.0.1')
    await once(socket, 'connect')
    socket.write('GET /api/topics HTTP/1.1\r\nHost: 127.0.0.1\r\n')
    // The server ends it by destroying it, which the client may see as a reset.
    socket.on('error', () => {})
    const closedByServer = new Promise((resolve) => socket.once('close', resolve))
    await a.close()
    await closedByServer
  })
})
