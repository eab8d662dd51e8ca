import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connect } from 'node:net'
import { Registry } from 'prom-client'
import { silentLogger } from '@nsqts/protocol'
import { GO_REFUSED_TRANSFER_ENCODINGS, GO_TAKEN_TRANSFER_ENCODING, GO_UNSUPPORTED_TE_ANSWER } from '@nsqts/testkit'
import { buildHttpApp, buildRouter, RegistrationDB } from '../src/internal.js'
import type { NSQLookupd } from '../src/index.js'
import { api, fakeNsqd, rawHttp, significantHeaders, startLookupd, stopAll } from './helpers.js'

let lookupd: NSQLookupd
beforeAll(async () => { lookupd = await startLookupd() })
afterAll(stopAll)

const get = async (target: string, method = 'GET'): Promise<{ status: string, headers: Array<[string, string]>, body: string }> => {
  const { statusLine, headers, body } = await rawHttp(lookupd.httpAddress.port, method, target)
  return { status: statusLine, headers: significantHeaders(headers), body: body.toString('latin1') }
}

describe('NSQ\'s router (julienschmidt/httprouter) around the routes', () => {
  it('redirects a GET with a trailing slash or the wrong case to the route, keeping the query', async () => {
    expect(await get('/ping/')).toEqual({
      status: 'HTTP/1.1 301 Moved Permanently',
      headers: [['Content-Length', '40'], ['Content-Type', 'text/html; charset=utf-8'], ['Location', '/ping']],
      body: '<a href="/ping">Moved Permanently</a>.\n\n',
    })
    expect((await get('/LOOKUP?topic=a&b=<')).headers).toContainEqual(['Location', '/lookup?topic=a&b=<'])
    expect((await get('/LOOKUP?topic=a&b=<')).body).toBe('<a href="/lookup?topic=a&amp;b=&lt;">Moved Permanently</a>.\n\n')
    expect((await get('//nodes/./')).headers).toContainEqual(['Location', '/nodes'])
    expect((await get('/ping?')).status).toBe('HTTP/1.1 200 OK')
    expect((await get('/PING?')).headers).toContainEqual(['Location', '/ping?'])
  })

  it('redirects other methods with 307 and no body', async () => {
    expect(await get('/topic/create/?topic=x', 'POST')).toEqual({
      status: 'HTTP/1.1 307 Temporary Redirect',
      headers: [['Content-Length', '0'], ['Location', '/topic/create?topic=x']],
      body: '',
    })
  })

  it('routes on the %-decoded path as Go does', async () => {
    expect((await get('/p%69ng')).body).toBe('OK')
    expect((await get('/topic%2Fcreate?topic=enc', 'POST')).status).toBe('HTTP/1.1 200 OK')
    expect((await get('/%zz')).status).toBe('HTTP/1.1 400 Bad Request')
  })

  it('answers OPTIONS with the Allow list, and 405 or 404 otherwise', async () => {
    expect(await get('/topic/create', 'OPTIONS')).toEqual({
      status: 'HTTP/1.1 200 OK',
      headers: [['Allow', 'OPTIONS, POST'], ['Content-Length', '0']],
      body: '',
    })
    expect((await get('/bogus', 'OPTIONS')).status).toBe('HTTP/1.1 404 Not Found')
    const head = await get('/ping', 'HEAD')
    expect(head.status).toBe('HTTP/1.1 405 Method Not Allowed')
    expect(head.headers).toContainEqual(['Allow', 'GET, OPTIONS'])
    expect(head.body).toBe('')
    expect(await get('/lookup', 'DELETE')).toEqual({
      status: 'HTTP/1.1 405 Method Not Allowed',
      headers: [['Allow', 'GET, OPTIONS'], ['Content-Length', '32'], ['Content-Type', 'application/json; charset=utf-8'], ['X-Nsq-Content-Type', 'nsq; version=1.0']],
      body: '{"message":"METHOD_NOT_ALLOWED"}',
    })
    expect((await get('/ping/', 'POST')).body).toBe('{"message":"NOT_FOUND"}')
    expect((await get('/')).body).toBe('{"message":"NOT_FOUND"}')
    expect((await get('/debug/pprof/')).status).toBe('HTTP/1.1 404 Not Found')
    // Methods fastify does not route itself, or refuses early, still get the router's answer.
    for (const method of ['PURGE', 'PROPFIND', 'QUERY', 'TRACE']) {
      const answer = await get('/nodes', method)
      expect(answer.status, method).toBe('HTTP/1.1 405 Method Not Allowed')
      expect(answer.headers, method).toContainEqual(['Allow', 'GET, OPTIONS'])
    }
    expect((await get('/bogus', 'PURGE')).body).toBe('{"message":"NOT_FOUND"}')
  })
})

/** Sends `request` as it is and reads the answer until the server closes (`closed` false if it did not in 3 s). */
async function exchange (request: string): Promise<{ text: string, closed: boolean }> {
  const socket = connect(lookupd.httpAddress.port, '127.0.0.1')
  const chunks: Buffer[] = []
  socket.on('data', (c: Buffer) => chunks.push(c))
  socket.on('error', () => {})
  socket.write(request)
  const closed = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 3000)
    socket.on('close', () => { clearTimeout(timer); resolve(true) })
  })
  socket.destroy()
  return { text: Buffer.concat(chunks).toString('latin1'), closed }
}

describe('requests Go\'s server refuses before routing', () => {
  const goRefusal = (text: string): string =>
    `HTTP/1.1 ${text}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n${text}`

  it('versions other than 1.x, Host headers missing from HTTP/1.1 or malformed: Go\'s answer, then a close', async () => {
    for (const [head, text] of [
      ['GET /ping HTTP/1.1\r\n\r\n', '400 Bad Request: missing required Host header'],
      ['GET /ping HTTP/1.0\r\nHost: a\tb\r\n\r\n', '400 Bad Request: malformed Host header'],
      ['GET /ping HTTP/2.0\r\n\r\n', '505 HTTP Version Not Supported: unsupported protocol version'],
      ['GET /%zz HTTP/1.1\r\n\r\n', '400 Bad Request'],
    ] as const) {
      expect(await exchange(head), head).toEqual({ text: goRefusal(text), closed: true })
    }
    expect((await exchange('GET /ping HTTP/1.0\r\n\r\n')).text).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nOK$/)
    // Go 1.19 takes two Host headers.
    const twoHosts = 'GET /ping HTTP/1.1\r\nHost: a\r\nHOST: a\r\nConnection: close\r\n\r\n'
    expect((await exchange(twoHosts)).text).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nOK$/)
  })

  it('a Transfer-Encoding other than one chunked: Go\'s 501, once, then a close', async () => {
    for (const request of GO_REFUSED_TRANSFER_ENCODINGS) {
      expect(await exchange(request), request).toEqual({ text: GO_UNSUPPORTED_TE_ANSWER, closed: true })
    }
    expect((await exchange(GO_TAKEN_TRANSFER_ENCODING)).text).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nOK$/)
  })

  it('a request that does not parse: Go\'s plain 400, or 431 for headers past the limit, then a close', async () => {
    expect(await exchange('GET /ping HTTP/1.1\r\nHost x\r\n\r\n')).toEqual({ text: goRefusal('400 Bad Request'), closed: true })
    const big = `GET /ping HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`
    expect(await exchange(big)).toEqual({ text: goRefusal('431 Request Header Fields Too Large'), closed: true })
  })
})

describe('query parameters, read as Go\'s url.ParseQuery', () => {
  it('answers 400 INVALID_REQUEST to a malformed query, whatever else it holds', async () => {
    for (const q of ['topic=a&%zz', 'topic=a;b', 'topic=%4']) {
      expect(await api(lookupd, 'GET', `/lookup?${q}`)).toEqual({ status: 400, body: { message: 'INVALID_REQUEST' } })
    }
    // Handlers that take no parameters never parse them.
    expect((await api(lookupd, 'GET', '/topics?%zz')).status).toBe(200)
  })

  it('decodes + and %XX and takes the first of repeated values', async () => {
    await api(lookupd, 'POST', '/channel/create?topic=q_topic&channel=first&channel=second')
    expect((await api(lookupd, 'GET', '/channels?topic=q%5Ftopic')).body).toEqual({ channels: ['first'] })
    expect((await api(lookupd, 'POST', '/topic/create?topic=a+b')).body).toEqual({ message: 'INVALID_ARG_TOPIC' })
    expect((await api(lookupd, 'GET', '/lookup?topic=')).body).toEqual({ message: 'TOPIC_NOT_FOUND' })
  })

  it('never reads request bodies, whatever their content type', async () => {
    for (const type of ['application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/octet-stream']) {
      const res = await fetch(`http://127.0.0.1:${lookupd.httpAddress.port}/topic/create?topic=with_body`, {
        method: 'POST', headers: { 'content-type': type }, body: '{not json',
      })
      expect(res.status).toBe(200)
      expect(await res.text()).toBe('')
    }
  })
})

describe('GET /metrics', () => {
  it('exposes registry counts and process metrics from a registry per daemon', async () => {
    const other = await startLookupd()
    const nsqd = await fakeNsqd(other.tcpAddress.port)
    await nsqd.request('REGISTER m_topic m_channel\n')
    await nsqd.request('REGISTER m_topic2\n')
    const text = (await api(other, 'GET', '/metrics')).body as string
    expect(text).toContain('\nnsqlookupd_topics 2\n')
    expect(text).toContain('\nnsqlookupd_channels 1\n')
    expect(text).toContain('\nnsqlookupd_producers 1\n')
    expect(text).toContain('\nnsqlookupd_tcp_connections 1\n')
    expect(text).toContain('\nnsqlookupd_topic_producers{topic="m_topic"} 1\n')
    expect(text).toContain('process_cpu_user_seconds_total')
    expect(text).toContain('nodejs_heap_size_used_bytes')
    // The first daemon counts its own registry only.
    expect((await api(lookupd, 'GET', '/metrics')).body).not.toContain('m_topic')
    const res = await fetch(`http://127.0.0.1:${other.httpAddress.port}/metrics`)
    expect(res.headers.get('content-type')).toBe(Registry.PROMETHEUS_CONTENT_TYPE)
    nsqd.destroy()
  })
})

describe('the app without a socket (inject)', () => {
  it('serves the same answers in-process', async () => {
    const db = new RegistrationDB()
    db.addRegistration('topic', 'injected', '')
    const router = buildRouter({
      db, logger: silentLogger, inactiveProducerTimeout: 300_000, tombstoneLifetime: 45_000, metrics: new Registry(),
    })
    const app = buildHttpApp(router, silentLogger)
    try {
      const topics = await app.inject({ method: 'GET', url: '/topics' })
      expect(topics.statusCode).toBe(200)
      expect(topics.body).toBe('{"topics":["injected"]}')
      expect(topics.headers['x-nsq-content-type']).toBe('nsq; version=1.0')
      const missing = await app.inject({ method: 'GET', url: '/lookup' })
      expect(missing.statusCode).toBe(400)
      expect(missing.body).toBe('{"message":"MISSING_ARG_TOPIC"}')
      const created = await app.inject({ method: 'POST', url: '/topic/create?topic=made' })
      expect(created.statusCode).toBe(200)
      expect(created.headers['content-length']).toBe('0')
      expect(created.headers['content-type']).toBeUndefined()
      expect(db.get('topic', 'made', '')).toBeDefined()
    } finally {
      await app.close()
    }
  })

  it('answers /lookup again after a channel or a producer changed, though it keeps the answer', async () => {
    const db = new RegistrationDB()
    const router = buildRouter({
      db, logger: silentLogger, inactiveProducerTimeout: 300_000, tombstoneLifetime: 45_000, metrics: new Registry(),
    })
    const app = buildHttpApp(router, silentLogger)
    const lookup = async (): Promise<string> => (await app.inject({ method: 'GET', url: '/lookup?topic=kept' })).body
    try {
      await app.inject({ method: 'POST', url: '/topic/create?topic=kept' })
      expect(await lookup()).toBe('{"channels":[],"producers":[]}')
      expect(await lookup()).toBe('{"channels":[],"producers":[]}')
      await app.inject({ method: 'POST', url: '/channel/create?topic=kept&channel=c1' })
      expect(await lookup()).toBe('{"channels":["c1"],"producers":[]}')
      await app.inject({ method: 'POST', url: '/channel/delete?topic=kept&channel=c1' })
      expect(await lookup()).toBe('{"channels":[],"producers":[]}')
      const peer = { id: '127.0.0.1:1', remoteAddress: '127.0.0.1:1', hostname: 'h', broadcastAddress: 'b' }
      db.addProducer('topic', 'kept', '', { ...peer, tcpPort: 4150n, httpPort: 4151n, version: '1.3.0', lastUpdate: Date.now() })
      expect(JSON.parse(await lookup()).producers).toHaveLength(1)
    } finally {
      await app.close()
    }
  })
})
