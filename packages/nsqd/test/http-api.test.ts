import { describe, it, expect, beforeAll, afterAll, vi } from 'vitest'
import { commands, FrameType } from '@nsqts/protocol'
import { startNsqd, RawConn, waitFor, type NsqdHandle } from '@nsqts/testkit'
import { HttpServer } from '../src/http/server.js'
import { binaryMpub, wireRequest, type HttpTarget } from './http-helpers.js'

/** The API's behaviour, each request on a connection of its own, the daemon's state checked directly. */

interface Answer {
  statusCode: number
  /** Lower-cased names. */
  headers: Record<string, string>
  body: string
}

type Request = string | { method?: string, url: string, payload?: string | Buffer, headers?: Record<string, string> }

/** A client of one listener: `inject(url)` or `inject({ method, url, payload, headers })`. */
function clientOf (target: HttpTarget): { inject: (request: Request) => Promise<Answer> } {
  return {
    inject: async (request) => {
      const { method, url, payload, headers } = typeof request === 'string' ? { url: request } : request
      const r = await wireRequest(target, url, { method, body: payload, headers })
      const named = Object.fromEntries(r.headers.map(([name, value]) => [name.toLowerCase(), value]))
      return { statusCode: r.status, headers: named, body: r.body.toString('utf8') }
    },
  }
}

/** A second listener on the same daemon: a new API, with its own metrics registry. */
async function listenerOf (nsqd: NsqdHandle['nsqd']): Promise<{ server: HttpServer, target: HttpTarget }> {
  const server = new HttpServer(nsqd)
  await server.listen({ host: '127.0.0.1', port: 0 })
  return { server, target: { http: server.address() } }
}

let d: NsqdHandle
let app: ReturnType<typeof clientOf>
const lines: string[] = []
beforeAll(async () => {
  const collect = (msg: string): void => { lines.push(msg) }
  d = await startNsqd({ logger: { debug: (m) => collect(`DEBUG: ${m}`), info: (m) => collect(`INFO: ${m}`), warn: (m) => collect(`WARN: ${m}`), error: (m) => collect(`ERROR: ${m}`) } })
  app = clientOf(d)
})
afterAll(async () => {
  await d.close()
})

const post = (url: string, payload?: string | Buffer) => app.inject({ method: 'POST', url, payload })
const json = (body: string): any => JSON.parse(body)

describe('/pub', () => {
  it('queues the body as one message on a new topic', async () => {
    const r = await post('/pub?topic=pub_one', 'hello')
    expect(r.statusCode).toBe(200)
    expect(r.body).toBe('OK')
    expect(r.headers['content-type']).toBe('text/plain; charset=utf-8')
    expect(r.headers['x-nsq-content-type']).toBe('nsq; version=1.0')
    const topic = d.nsqd.getExistingTopic('pub_one')
    expect(topic?.depth).toBe(1)
    expect(topic?.messageBytes).toBe(5)
  })

  it('defers by ?defer= ms; the bounds are 0 and --max-req-timeout, and signs parse like Go', async () => {
    await post('/topic/create?topic=pub_defer')
    await post('/channel/create?topic=pub_defer&channel=c')
    for (const value of ['60000', '%2B60000', '3600000']) {
      expect((await post(`/pub?topic=pub_defer&defer=${value}`, 'later')).statusCode).toBe(200)
    }
    expect((await post('/pub?topic=pub_defer&defer=-0', 'now')).statusCode).toBe(200)
    const channel = d.nsqd.getExistingTopic('pub_defer')?.channels.get('c')
    await waitFor(() => channel?.deferredCount === 3 && channel.depth === 1, 2000, 'deferred')
    // A raw + is a space in a query, as in Go.
    for (const value of ['1.5', '', '+1', '3600001', '-1', '99999999999999999999']) {
      const r = await post(`/pub?topic=pub_defer&defer=${value}`, 'x')
      expect([r.statusCode, json(r.body).message]).toEqual([400, 'INVALID_DEFER'])
    }
  })

  it('defers the message on every channel of its topic', async () => {
    await post('/topic/create?topic=pub_defer_all')
    for (const c of ['a', 'b', 'c']) await post(`/channel/create?topic=pub_defer_all&channel=${c}`)
    await post('/pub?topic=pub_defer_all&defer=60000', 'later')
    const channels = [...(d.nsqd.getExistingTopic('pub_defer_all')?.channels.values() ?? [])]
    expect(channels.map((c) => [c.name, c.deferredCount, c.depth])).toEqual([['a', 1, 0], ['b', 1, 0], ['c', 1, 0]])
  })

  it('creates the topic before checking defer, as nsqd does', async () => {
    expect((await post('/pub?topic=pub_bad_defer&defer=abc', 'x')).statusCode).toBe(400)
    expect(d.nsqd.getExistingTopic('pub_bad_defer')?.depth).toBe(0)
  })

  it('an empty ?topic= is INVALID_TOPIC, not missing; a bad query is INVALID_REQUEST (after the body checks)', async () => {
    expect(json((await post('/pub?topic=', 'x')).body).message).toBe('INVALID_TOPIC')
    expect(json((await post('/pub?topic=a;b', 'x')).body).message).toBe('INVALID_REQUEST')
    expect(json((await post('/pub?topic=a%zz', '')).body).message).toBe('MSG_EMPTY')
  })

  it('takes any Content-Type: nsqd never looks at it', async () => {
    for (const type of ['application/json', 'foo', '']) {
      const r = await app.inject({ method: 'POST', url: '/pub?topic=pub_types', payload: '{not json', headers: { 'content-type': type } })
      expect(r.statusCode).toBe(200)
    }
    expect(d.nsqd.getExistingTopic('pub_types')?.depth).toBe(3)
  })
})

describe('/mpub', () => {
  it('text: one message per line, empty lines skipped, no trailing newline needed, \\r kept', async () => {
    expect((await post('/mpub?topic=mpub_text', 'a\n\nb\r\nc')).statusCode).toBe(200)
    const topic = d.nsqd.getExistingTopic('mpub_text')
    expect(topic?.messageCount).toBe(3)
    expect(topic?.messageBytes).toBe(4)
  })

  it('text: an empty body publishes nothing and answers OK', async () => {
    expect((await post('/mpub?topic=mpub_empty', '')).body).toBe('OK')
    expect(d.nsqd.getExistingTopic('mpub_empty')?.messageCount).toBe(0)
  })

  it('binary: true/1 and any unknown value mean binary (warned as deprecated); false/0 mean text', async () => {
    const body = binaryMpub(['m1', 'm2'])
    for (const value of ['true', '1', 'yes']) expect((await post(`/mpub?topic=mpub_bin&binary=${value}`, body)).statusCode).toBe(200)
    expect(d.nsqd.getExistingTopic('mpub_bin')?.messageCount).toBe(6)
    expect(lines).toContain("WARN: deprecated value 'yes' used for /mpub binary param")
    expect((await post('/mpub?topic=mpub_notbin&binary=0', 'x\ny')).statusCode).toBe(200)
    expect(d.nsqd.getExistingTopic('mpub_notbin')?.messageCount).toBe(2)
  })

  it('is all or nothing: a bad message queues none of them, but the topic exists', async () => {
    const body = Buffer.concat([binaryMpub(['good', 'good'], 3), Buffer.from([0, 0, 0, 0])])
    const r = await post('/mpub?topic=mpub_atomic&binary=true', body)
    expect([r.statusCode, json(r.body).message]).toEqual([413, 'BAD_MESSAGE'])
    expect(d.nsqd.getExistingTopic('mpub_atomic')?.messageCount).toBe(0)
  })

  it('binary: negative count and sizes are refused, trailing bytes ignored', async () => {
    const negative = Buffer.from([0xff, 0xff, 0xff, 0xff])
    expect(json((await post('/mpub?topic=mpub_neg&binary=true', negative)).body).message).toBe('BAD_BODY')
    expect(json((await post('/mpub?topic=mpub_neg&binary=true', Buffer.alloc(2))).body).message).toBe('BAD_BODY')
    const badSize = Buffer.from([0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff])
    expect(json((await post('/mpub?topic=mpub_neg&binary=true', badSize)).body).message).toBe('BAD_MESSAGE')
    const trailing = Buffer.concat([binaryMpub(['one']), Buffer.from('garbage')])
    expect((await post('/mpub?topic=mpub_neg&binary=true', trailing)).statusCode).toBe(200)
    expect(d.nsqd.getExistingTopic('mpub_neg')?.messageCount).toBe(1)
  })
})

describe('topic and channel admin', () => {
  it('/channel/create needs an existing topic; channel routes say INVALID_ARG_TOPIC', async () => {
    expect(json((await post('/channel/create?topic=adm_none&channel=c')).body).message).toBe('TOPIC_NOT_FOUND')
    expect(d.nsqd.getExistingTopic('adm_none')).toBeUndefined()
    expect(json((await post('/channel/create?topic=bad!&channel=c')).body).message).toBe('INVALID_ARG_TOPIC')
    expect(json((await post('/channel/create?topic=adm&channel=')).body).message).toBe('INVALID_ARG_CHANNEL')
    expect((await post('/topic/create?topic=adm')).statusCode).toBe(200)
    const r = await post('/channel/create?topic=adm&channel=c')
    expect([r.statusCode, r.body, r.headers['content-length'], r.headers['content-type']]).toEqual([200, '', '0', undefined])
    expect(d.nsqd.getExistingTopic('adm')?.channels.has('c')).toBe(true)
  })

  it('pause and unpause flip the flags and tell the metadata listeners, after the change', async () => {
    await post('/topic/create?topic=adm_pause')
    await post('/channel/create?topic=adm_pause&channel=c')
    const topic = d.nsqd.getExistingTopic('adm_pause')
    const seen: Array<[boolean | undefined, boolean | undefined]> = []
    const stop = d.nsqd.subscribe({ pauseChanged: () => seen.push([topic?.paused, topic?.channels.get('c')?.paused]) })
    try {
      await post('/topic/pause?topic=adm_pause')
      await post('/channel/pause?topic=adm_pause&channel=c')
      await post('/topic/unpause?topic=adm_pause')
      await post('/channel/unpause?topic=adm_pause&channel=c')
    } finally {
      stop()
    }
    expect(seen).toEqual([[true, false], [true, true], [false, true], [false, false]])
  })

  it('topic pause and delete do not validate the name; empty does', async () => {
    expect(json((await post('/topic/pause?topic=bad!')).body).message).toBe('TOPIC_NOT_FOUND')
    expect(json((await post('/topic/delete?topic=bad!')).body).message).toBe('TOPIC_NOT_FOUND')
    expect(json((await post('/topic/empty?topic=bad!')).body).message).toBe('INVALID_TOPIC')
    expect(json((await post('/topic/delete')).body).message).toBe('MISSING_ARG_TOPIC')
  })

  it('empty and delete act on the daemon', async () => {
    await post('/topic/create?topic=adm_empty')
    await post('/channel/create?topic=adm_empty&channel=c')
    await post('/mpub?topic=adm_empty', 'a\nb\nc')
    const topic = d.nsqd.getExistingTopic('adm_empty')
    expect(topic?.channels.get('c')?.depth).toBe(3)
    expect((await post('/channel/empty?topic=adm_empty&channel=c')).statusCode).toBe(200)
    expect(topic?.channels.get('c')?.depth).toBe(0)
    expect((await post('/channel/delete?topic=adm_empty&channel=c')).statusCode).toBe(200)
    expect(topic?.channels.size).toBe(0)
    expect(json((await post('/channel/empty?topic=adm_empty&channel=c')).body).message).toBe('CHANNEL_NOT_FOUND')
    expect((await post('/topic/delete?topic=adm_empty')).statusCode).toBe(200)
    expect(d.nsqd.getExistingTopic('adm_empty')).toBeUndefined()
  })
})

describe('/stats', () => {
  it('sorts topics and channels by name', async () => {
    for (const t of ['st_b', 'st_a']) await post(`/topic/create?topic=${t}`)
    for (const c of ['z', 'm', 'a']) await post(`/channel/create?topic=st_b&channel=${c}`)
    const stats = json((await app.inject('/stats?format=json')).body)
    const names: string[] = stats.topics.map((t: { topic_name: string }) => t.topic_name)
    expect(names).toEqual([...names].sort())
    const b = stats.topics.find((t: { topic_name: string }) => t.topic_name === 'st_b')
    expect(b.channels.map((c: { channel_name: string }) => c.channel_name)).toEqual(['a', 'm', 'z'])
  })

  it('without configured percentiles e2e latency is {count 0, percentiles null} everywhere', async () => {
    await post('/topic/create?topic=st_e2e')
    await post('/channel/create?topic=st_e2e&channel=c')
    const stats = json((await app.inject('/stats?format=json&topic=st_e2e')).body)
    expect(stats.topics[0].e2e_processing_latency).toEqual({ count: 0, percentiles: null })
    expect(stats.topics[0].channels[0].e2e_processing_latency).toEqual({ count: 0, percentiles: null })
  })

  it('include_clients and include_mem take true/1/false/0; anything else means true', async () => {
    await post('/topic/create?topic=st_flags')
    await post('/channel/create?topic=st_flags&channel=c')
    const s = async (q: string): Promise<any> => json((await app.inject(`/stats?format=json&${q}`)).body)
    expect((await s('include_mem=0')).memory).toBeUndefined()
    expect((await s('include_mem=no')).memory).toBeDefined()
    expect((await s('topic=st_flags&include_clients=0')).topics[0].channels[0].clients).toBeNull()
    expect((await s('topic=st_flags&include_clients=maybe')).topics[0].channels[0].clients).toEqual([])
  })

  it('lists TCP publishers as producers, their pub_counts narrowed by a topic filter', async () => {
    const conn = await RawConn.open(d.tcp)
    try {
      conn.write(commands.pub('st_p1', 'x'))
      conn.write(commands.pub('st_p2', 'y'))
      await conn.expect(FrameType.Response)
      await conn.expect(FrameType.Response)
      const producer = async (q: string): Promise<any> => json((await app.inject(`/stats?format=json&${q}`)).body).producers[0]
      expect((await producer('topic=st_p1')).pub_counts).toEqual([{ topic: 'st_p1', count: 1 }])
      expect((await producer('topic=st_p2')).pub_counts).toEqual([{ topic: 'st_p2', count: 1 }])
      // nsqd 1.3.0 lists one topic only (its loop breaks after the first).
      expect((await producer('')).pub_counts).toHaveLength(1)
      await post('/topic/create?topic=st_p3')
      const other = await producer('topic=st_p3')
      expect(Object.keys(other)).not.toContain('pub_counts')
      expect(Object.keys(other).indexOf('user_agent') + 1).toBe(Object.keys(other).indexOf('tls'))
    } finally {
      conn.close()
    }
  })

  it('reports health as /ping does', async () => {
    d.nsqd.setHealth(new Error('disk full'))
    try {
      const ping = await app.inject('/ping')
      expect([ping.statusCode, ping.body, ping.headers['x-nsq-content-type']]).toEqual([500, 'NOK - disk full', undefined])
      expect(json((await app.inject('/stats?format=json&include_mem=false&topic=x')).body).health).toBe('NOK - disk full')
      expect((await app.inject('/stats?topic=x')).body).toContain('\nHealth: NOK - disk full\n')
    } finally {
      d.nsqd.setHealth(undefined)
    }
  })
})

describe('/config', () => {
  it('an empty string option is an empty 200 without Content-Type', async () => {
    const r = await app.inject('/config/tls_cert')
    expect([r.statusCode, r.body, r.headers['content-type'], r.headers['x-nsq-content-type']]).toEqual([200, '', undefined, 'nsq; version=1.0'])
  })

  it('PUT log_level: case-insensitive, not trimmed; answers and applies the number', async () => {
    try {
      const r = await app.inject({ method: 'PUT', url: '/config/log_level', payload: 'DEBUG' })
      expect([r.statusCode, r.body]).toEqual([200, '1'])
      expect(d.nsqd.options.logLevel).toBe('debug')
      expect((await app.inject({ method: 'PUT', url: '/config/log_level', payload: 'info\n' })).statusCode).toBe(400)
    } finally {
      d.nsqd.options.logLevel = 'info'
    }
  })

  it('PUT nsqlookupd_tcp_addresses hands the list to the daemon; null empties it', async () => {
    const set = vi.spyOn(d.nsqd, 'setLookupdAddresses').mockImplementation((addrs) => { d.nsqd.options.nsqlookupdTcpAddresses = addrs })
    try {
      const r = await app.inject({ method: 'PUT', url: '/config/nsqlookupd_tcp_addresses', payload: '["10.0.0.1:4160","10.0.0.2:4160"]' })
      expect(r.body).toBe('["10.0.0.1:4160","10.0.0.2:4160"]')
      expect(set).toHaveBeenLastCalledWith(['10.0.0.1:4160', '10.0.0.2:4160'])
      expect((await app.inject('/config/nsqlookupd_tcp_addresses')).body).toBe('["10.0.0.1:4160","10.0.0.2:4160"]')
      expect((await app.inject({ method: 'PUT', url: '/config/nsqlookupd_tcp_addresses', payload: 'null' })).body).toBe('[]')
      for (const bad of ['[1]', '"a"', '{}']) {
        expect((await app.inject({ method: 'PUT', url: '/config/nsqlookupd_tcp_addresses', payload: bad })).statusCode).toBe(400)
      }
      expect(set).toHaveBeenCalledTimes(2)
    } finally {
      set.mockRestore()
      d.nsqd.options.nsqlookupdTcpAddresses = []
    }
  })

  it('PUT bodies over --max-msg-size or empty are 413, checked before the option name', async () => {
    const big = Buffer.alloc(d.nsqd.options.maxMsgSize + 1, 'a')
    expect((await app.inject({ method: 'PUT', url: '/config/log_level', payload: big })).statusCode).toBe(413)
    expect(json((await app.inject({ method: 'PUT', url: '/config/bogus', payload: '' })).body).message).toBe('INVALID_VALUE')
  })

  it('names that are Object properties are not options', async () => {
    expect(json((await app.inject('/config/constructor')).body).message).toBe('INVALID_OPTION')
  })
})

describe('the router, as httprouter answers', () => {
  it('405 lists the allowed methods and OPTIONS; HEAD is not implied by GET', async () => {
    const del = await app.inject({ method: 'DELETE', url: '/config/x' })
    expect([del.statusCode, del.headers.allow, json(del.body).message]).toEqual([405, 'GET, OPTIONS, PUT', 'METHOD_NOT_ALLOWED'])
    const head = await app.inject({ method: 'HEAD', url: '/ping' })
    expect([head.statusCode, head.headers.allow]).toEqual([405, 'GET, OPTIONS'])
  })

  it('OPTIONS answers Allow with an empty 200 and no V1 header; unknown paths stay 404', async () => {
    const r = await app.inject({ method: 'OPTIONS', url: '/pub' })
    expect([r.statusCode, r.headers.allow, r.body, r.headers['x-nsq-content-type']]).toEqual([200, 'OPTIONS, POST', '', undefined])
    expect((await app.inject({ method: 'OPTIONS', url: '/bogus' })).statusCode).toBe(404)
  })

  it('redirects a trailing slash or wrong case: 301 for GET with a small HTML body, 307 otherwise', async () => {
    const get = await app.inject('/ping/')
    expect([get.statusCode, get.headers.location, get.body]).toEqual([301, '/ping', '<a href="/ping">Moved Permanently</a>.\n\n'])
    const stats = await app.inject('/STATS?format=json&a=b')
    expect([stats.statusCode, stats.headers.location]).toEqual([301, '/stats?format=json&a=b'])
    const pub = await post('/Pub/?topic=x', 'body')
    expect([pub.statusCode, pub.headers.location, pub.body, pub.headers['content-type']]).toEqual([307, '/pub?topic=x', '', undefined])
  })

  it('/config/ (an empty parameter) and unknown paths are 404 NOT_FOUND', async () => {
    for (const url of ['/config/', '/nope', '/debug/pprof/']) {
      const r = await app.inject(url)
      expect([r.statusCode, json(r.body).message]).toEqual([404, 'NOT_FOUND'])
    }
  })

  it('a path with a bad %-escape is Go\'s plain 400 that closes the connection', async () => {
    for (const url of ['/config/%zz', '/nope%4']) {
      const r = await app.inject(url)
      expect([r.statusCode, r.body, r.headers.connection]).toEqual([400, '400 Bad Request', 'close'])
    }
  })
})

describe('/metrics', () => {
  it('exposes topic and channel gauges and counters, read live, plus process metrics', async () => {
    await post('/topic/create?topic=met')
    await post('/channel/create?topic=met&channel=c')
    await post('/mpub?topic=met', 'a\nbb\nccc')
    const r = await app.inject('/metrics')
    expect(r.statusCode).toBe(200)
    expect(r.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8')
    expect(r.headers['x-nsq-content-type']).toBeUndefined()
    expect(r.body).toContain('nsqd_topic_messages_total{topic="met"} 3')
    expect(r.body).toContain('nsqd_topic_message_bytes_total{topic="met"} 6')
    expect(r.body).toContain('nsqd_channel_depth{topic="met",channel="c"} 3')
    expect(r.body).toContain('nsqd_channel_in_flight{topic="met",channel="c"} 0')
    expect(r.body).toContain('# TYPE nsqd_channel_requeues_total counter')
    expect(r.body).toContain('nsqd_healthy 1')
    expect(r.body).toContain('process_cpu_user_seconds_total')
    await post('/topic/delete?topic=met')
    expect((await app.inject('/metrics')).body).not.toContain('topic="met"')
  })

  it('concurrent first scrapes of a new app (prom-client loads on the first) all get the whole text', async () => {
    const fresh = await listenerOf(d.nsqd)
    try {
      const answers = await Promise.all([1, 2, 3].map(() => clientOf(fresh.target).inject('/metrics')))
      const types = (body: string): string[] => body.split('\n').filter((l) => l.startsWith('# TYPE '))
      for (const r of answers) {
        expect(r.statusCode).toBe(200)
        expect(r.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8')
        expect(r.body).toContain('nsqd_healthy 1')
        expect(r.body).toContain('process_cpu_user_seconds_total')
        expect(types(r.body)).toEqual(types(answers[0]!.body))
      }
    } finally {
      await fresh.server.close()
    }
  })

  it('a first scrape whose load fails answers 500, and the next one loads again', async () => {
    vi.doMock('../src/metrics.js', () => { throw new Error('EMFILE: too many open files') })
    const fresh = await listenerOf(d.nsqd)
    try {
      const scrape = async (): Promise<Answer> => await clientOf(fresh.target).inject('/metrics')
      expect((await scrape()).statusCode).toBe(500)
      vi.doUnmock('../src/metrics.js')
      const r = await scrape()
      expect([r.statusCode, r.body.includes('nsqd_healthy 1')]).toEqual([200, true])
    } finally {
      vi.doUnmock('../src/metrics.js')
      await fresh.server.close()
    }
  })

  it('each daemon reports its own topics', async () => {
    const other = await startNsqd({ e2eProcessingLatencyPercentiles: [0.9] })
    const otherApp = clientOf(other)
    try {
      await otherApp.inject({ method: 'POST', url: '/topic/create?topic=only_other' })
      await otherApp.inject({ method: 'POST', url: '/channel/create?topic=only_other&channel=c' })
      const mine = (await app.inject('/metrics')).body
      const theirs = (await otherApp.inject('/metrics')).body
      expect(mine).not.toContain('only_other')
      expect(theirs).toContain('nsqd_topic_depth{topic="only_other"} 0')
      expect(theirs).toContain('nsqd_channel_e2e_processing_latency_seconds{topic="only_other",channel="c",quantile="0.9"} 0')
    } finally {
      await other.close()
    }
  })
})

describe('access log', () => {
  it('logs API calls like nsqd (status, method, URI, client, Go duration) but not /pub and /mpub', async () => {
    lines.length = 0
    await app.inject('/stats?format=json&topic=none')
    await post('/pub?topic=log', 'x')
    await post('/mpub?topic=log', 'x')
    await app.inject('/bogus')
    await app.inject({ method: 'OPTIONS', url: '/pub' })
    await app.inject('/metrics')
    const access = lines.filter((l) => /^(INFO|DEBUG): \d{3} /.test(l))
    expect(access).toHaveLength(3)
    expect(access[0]).toMatch(/^INFO: 200 GET \/stats\?format=json&topic=none \(127\.0\.0\.1:\d+\) [\d.]+(ns|µs|ms|s)$/)
    expect(access[1]).toMatch(/^INFO: 404 GET \/bogus /)
    expect(access[2]).toMatch(/^DEBUG: 200 GET \/metrics /)
  })
})
