import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import https from 'node:https'
import tls from 'node:tls'
import zlib from 'node:zlib'
// nsqjs, the Node client users already run, must work against our nsqd with each upgrade.
import nsq from 'nsqjs'
import { compressSync, uncompressSync } from 'snappy'
import { Consumer, Producer, type ConnectionOptions } from '@nsqts/client'
import { FrameDecoder, FrameType, SnappyFrameDecoder, SnappyFrameEncoder, commands } from '@nsqts/protocol'
import { CAPTURES_AVAILABLE, RawConn, loadTcpCaptures, startNsqd, waitFor, type NsqdHandle } from '@nsqts/testkit'
import { NSQD_FLAGS, convertValue } from '../src/flags.js'
import { NSQD } from '../src/nsqd.js'
import { makeCerts, type TestCerts } from './security-helpers.js'

const N = 10_000
const block = { compressSync, uncompressSync }
let certs: TestCerts
let d: NsqdHandle
let topicCounter = 0
/** The server certificate, and the HTTPS listener on a free port (it only listens when TLS is on). */
const serverTls = (): { tlsCert: string, tlsKey: string, httpsAddress: string } =>
  ({ tlsCert: certs.certFile, tlsKey: certs.keyFile, httpsAddress: '127.0.0.1:0' })
const topicName = (): string => `sec_${process.pid}_${topicCounter++}`

beforeAll(async () => {
  certs = makeCerts()
  d = await startNsqd({ ...serverTls() })
})
afterAll(async () => {
  await d?.close()
  certs?.remove()
})

interface StatsClient {
  client_id: string
  tls: boolean
  tls_version: string
  tls_cipher_suite: string
  snappy: boolean
  deflate: boolean
  tls_negotiated_protocol_is_mutual: boolean
}

async function statsJson (h: NsqdHandle): Promise<{
  topics: Array<{ topic_name: string, channels: Array<{ clients: StatsClient[] }> }>
  producers: StatsClient[]
}> {
  const res = await fetch(`${h.httpUrl}/stats?format=json`)
  return await res.json() as never
}

/** Publishes N messages (MPUBs of 100 and single PUBs) with our Producer and consumes them with our Consumer. */
async function ourRoundTrip (h: NsqdHandle, options: ConnectionOptions): Promise<StatsClient[]> {
  const topic = topicName()
  const address = `127.0.0.1:${h.tcp.port}`
  const producer = new Producer(address, options)
  const consumer = new Consumer(topic, 'ch', { ...options, nsqdTcpAddresses: address, maxInFlight: 500 })
  try {
    const seen = new Map<string, number>()
    await consumer.handle((msg) => { seen.set(msg.text(), (seen.get(msg.text()) ?? 0) + 1) }, { concurrency: 500 })
    for (let b = 0; b < N / 200; b++) await producer.publishMany(topic, Array.from({ length: 100 }, (_, i) => `m-${b * 100 + i}`))
    await Promise.all(Array.from({ length: N / 2 }, (_, i) => producer.publish(topic, `p-${i}`)))
    await waitFor(() => seen.size === N && consumer.stats().inFlight === 0, 60_000, `${N} messages`)
    expect([...seen.values()].every((n) => n === 1)).toBe(true)
    const stats = await statsJson(h)
    const t = stats.topics.find((x) => x.topic_name === topic)
    return [...(t?.channels[0]?.clients ?? []), ...stats.producers]
  } finally {
    await consumer.close()
    await producer.close()
  }
}

interface NsqjsMessage { body: Buffer, finish (): void }

/** The same with nsqjs: a Writer publishing arrays of 100 and a Reader. */
async function nsqjsRoundTrip (h: NsqdHandle, options: Record<string, unknown>): Promise<void> {
  const topic = topicName()
  const writer = new nsq.Writer('127.0.0.1', h.tcp.port, options)
  const reader = new nsq.Reader(topic, 'ch', { ...options, nsqdTCPAddresses: [`127.0.0.1:${h.tcp.port}`], maxInFlight: 500 })
  try {
    const errors: Error[] = []
    writer.on('error', (e: Error) => errors.push(e))
    reader.on('error', (e: Error) => errors.push(e))
    await new Promise<void>((resolve) => { writer.on('ready', resolve); writer.connect() })
    const seen = new Map<string, number>()
    reader.on('message', (msg: NsqjsMessage) => {
      const body = msg.body.toString()
      seen.set(body, (seen.get(body) ?? 0) + 1)
      msg.finish()
    })
    reader.connect()
    for (let b = 0; b < N / 100; b++) {
      await new Promise<void>((resolve, reject) => {
        writer.publish(topic, Array.from({ length: 100 }, (_, i) => `n-${b * 100 + i}`), (err?: Error) => { if (err) reject(err); else resolve() })
      })
    }
    await waitFor(() => seen.size === N, 60_000, `nsqjs to get ${N} messages`)
    expect([...seen.values()].every((n) => n === 1)).toBe(true)
    expect(errors).toEqual([])
  } finally {
    reader.close()
    writer.close()
  }
}

describe('upgrades against the NSQ 1.3.0 captures', () => {
  const captures = CAPTURES_AVAILABLE ? loadTcpCaptures() : {}
  it.skipIf(!CAPTURES_AVAILABLE).each(['nsqd_identify_snappy', 'nsqd_identify_deflate'])('%s: the same bytes, byte for byte', async (name) => {
    const conn = captures[name]!.connections[0]!
    const raw = await RawConn.open(d.tcp, { magic: null })
    for (const step of conn.sent_and_received) if (step.dir === 'send') raw.write(Buffer.from(step.hex, 'hex'))
    const expected = conn.received_all_hex
    const received = (): string => Buffer.concat(raw.received).toString('hex')
    await waitFor(() => received().length >= expected.length, 5000, 'the upgrade bytes')
    expect(received()).toBe(expected)
    raw.close()
  })

  it('takes the bytes pipelined behind IDENTIFY as compressed, and answers in kind', async () => {
    const raw = await RawConn.open(d.tcp, { magic: null })
    const encoder = new SnappyFrameEncoder(block)
    const topic = topicName()
    // Magic, IDENTIFY and a snappy-framed PUB in one write: the PUB belongs to the upgraded stream.
    raw.write(Buffer.concat([Buffer.from('  V2'), commands.identify({ feature_negotiation: true, snappy: true }),
      encoder.encode(commands.pub(topic, 'pipelined'))]))
    const plain: Buffer[] = []
    await waitFor(() => raw.received.length > 0, 5000, 'an answer')
    const frames: string[] = []
    const frameDecoder = new FrameDecoder((type, data) => frames.push(`${type}:${data.toString().slice(0, 20)}`), (e) => { throw e })
    // The first frame (IDENTIFY's JSON) is plain; what follows is snappy.
    let snappyStarted = false
    const onData = (data: Buffer): void => {
      plain.push(Buffer.from(data))
      frameDecoder.push(data)
    }
    const snappy = new SnappyFrameDecoder(block, onData, (e) => { throw e })
    let consumed = 0
    await waitFor(() => {
      const all = Buffer.concat(raw.received)
      if (!snappyStarted && all.length >= 4) {
        const size = all.readUInt32BE(0)
        if (all.length >= 4 + size) {
          frameDecoder.push(all.subarray(0, 4 + size))
          consumed = 4 + size
          snappyStarted = true
        }
      }
      if (snappyStarted && all.length > consumed) {
        snappy.push(all.subarray(consumed))
        consumed = all.length
      }
      return frames.length >= 3
    }, 5000, 'three frames')
    expect(frames[0]).toMatch(/^0:\{"max_rdy_count"/)
    expect(frames.slice(1)).toEqual(['0:OK', '0:OK'])
    raw.close()
  })

  it('inflates raw DEFLATE commands and deflates the answers with sync flushes', async () => {
    const raw = await RawConn.open(d.tcp)
    raw.write(commands.identify({ feature_negotiation: true, deflate: true, deflate_level: 1 }))
    const identify = JSON.parse(await raw.expect(FrameType.Response)) as Record<string, unknown>
    expect(identify).toMatchObject({ deflate: true, deflate_level: 1, snappy: false })
    const inflate = zlib.createInflateRaw()
    const frames: string[] = []
    const decoder = new FrameDecoder((type, data) => frames.push(`${type}:${data.toString()}`), (e) => { throw e })
    inflate.on('data', (c: Buffer) => decoder.push(c))
    raw.socket.removeAllListeners('data')
    raw.socket.on('data', (c: Buffer) => inflate.write(c))
    await waitFor(() => frames.length === 1, 5000, 'the upgrade OK')
    const deflate = zlib.createDeflateRaw()
    deflate.on('data', (c: Buffer) => raw.write(c))
    deflate.write(Buffer.concat([commands.pub(topicName(), 'a'), commands.pub(topicName(), 'b')]))
    deflate.flush(zlib.constants.Z_SYNC_FLUSH)
    await waitFor(() => frames.length === 3, 5000, 'two OKs')
    expect(frames).toEqual(['0:OK', '0:OK', '0:OK'])
    deflate.write(Buffer.from('BOGUS\n'))
    deflate.flush(zlib.constants.Z_SYNC_FLUSH)
    await waitFor(() => frames.length === 4, 5000, 'the error')
    expect(frames[3]).toBe('1:E_INVALID invalid command BOGUS')
    await raw.waitClosed()
  })

  it('drops a connection whose compressed stream does not decode, and keeps serving', async () => {
    const raw = await RawConn.open(d.tcp)
    raw.write(commands.identify({ feature_negotiation: true, snappy: true }))
    await raw.expect(FrameType.Response)
    raw.write(Buffer.from('this is not a snappy stream at all'))
    await raw.waitClosed()
    const ok = await RawConn.open(d.tcp)
    ok.write(commands.pub(topicName(), 'x'))
    expect(await ok.expect(FrameType.Response)).toBe('OK')
    ok.close()
  })
})

describe(`${N} messages exactly once through each upgrade`, () => {
  it.each<[string, ConnectionOptions]>([
    ['tls', {}],
    ['snappy', { snappy: true }],
    ['deflate', { deflate: true, deflateLevel: 6 }],
    ['tls + snappy', { snappy: true }],
    ['tls + deflate', { deflate: true }],
  ])('our client: %s', async (name, options) => {
    const withTls = name.startsWith('tls')
    const clients = await ourRoundTrip(d, withTls ? { ...options, tls: { ca: certs.ca } } : options)
    expect(clients.length).toBeGreaterThanOrEqual(2)
    for (const c of clients) {
      expect(c.tls).toBe(withTls)
      expect(c.snappy).toBe(options.snappy === true)
      expect(c.deflate).toBe(options.deflate === true)
      if (withTls) {
        expect(c.tls_version).toBe('TLS1.3')
        expect(c.tls_cipher_suite).toMatch(/^TLS_/)
        expect(c.tls_negotiated_protocol_is_mutual).toBe(true)
      }
    }
  }, 90_000)

  it.each<[string, Record<string, unknown>]>([
    ['tls', { tls: true, tlsVerification: true }],
    ['snappy', { snappy: true }],
    ['deflate', { deflate: true, deflateLevel: 6 }],
  ])('nsqjs: %s', async (_name, options) => {
    await nsqjsRoundTrip(d, options.tls === true ? { ...options, ca: certs.ca } : options)
  }, 90_000)
})

describe('TLS policy', () => {
  function httpsGet (url: string, options: https.RequestOptions = {}): Promise<{ status: number, body: string }> {
    return new Promise((resolve, reject) => {
      https.get(url, { ca: certs.ca, ...options }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }))
      }).on('error', reject)
    })
  }

  it('--tls-required: TCP commands before the upgrade are refused; plain HTTP answers 403 TLS_REQUIRED; HTTPS serves', async () => {
    const h = await startNsqd({ ...serverTls(), tlsRequired: 2 })
    try {
      const raw = await RawConn.open(h.tcp)
      raw.write(commands.pub('t', 'x'))
      expect(await raw.expect(FrameType.Error)).toBe('E_INVALID cannot PUB in current state (TLS required)')
      await raw.waitClosed()
      const httpsPort = h.nsqd.httpsAddress.port
      const res = await fetch(`${h.httpUrl}/stats`)
      expect(res.status).toBe(403)
      expect(res.headers.get('x-nsq-content-type')).toBe('nsq; version=1.0')
      expect(await res.text()).toBe(`{"message": "TLS_REQUIRED", "https_port": ${httpsPort}}`)
      expect(await httpsGet(`https://127.0.0.1:${httpsPort}/ping`)).toEqual({ status: 200, body: 'OK' })
      // An upgraded connection may publish.
      const p = new Producer(`127.0.0.1:${h.tcp.port}`, { tls: { ca: certs.ca } })
      await p.publish('t', 'over tls')
      await p.close()
    } finally {
      await h.close()
    }
  })

  it('--tls-required=tcp-https leaves HTTP open', async () => {
    const h = await startNsqd({ ...serverTls(), tlsRequired: 1 })
    try {
      expect((await fetch(`${h.httpUrl}/ping`)).status).toBe(200)
      const raw = await RawConn.open(h.tcp)
      raw.write(commands.nop())
      expect(await raw.expect(FrameType.Error)).toBe('E_INVALID cannot NOP in current state (TLS required)')
    } finally {
      await h.close()
    }
  })

  it('refuses to start requiring TLS without a certificate', () => {
    expect(() => new NSQD({ tlsRequired: 2 })).toThrow('cannot require TLS client connections without TLS key and cert')
  })

  it('--tls-client-auth-policy=require-verify: only a certificate from --tls-root-ca-file gets in; it implies TLS required', async () => {
    const h = await startNsqd({ ...serverTls(), tlsRootCaFile: certs.caFile, tlsClientAuthPolicy: 'require-verify' })
    try {
      expect(h.nsqd.options.tlsRequired).toBe(2)
      const address = `127.0.0.1:${h.tcp.port}`
      const good = new Producer(address, { tls: { ca: certs.ca, ...certs.client } })
      await good.publish('t', 'verified')
      await good.close()
      for (const tlsOptions of [{ ca: certs.ca, ...certs.rogue }, { ca: certs.ca }]) {
        const bad = new Producer(address, { tls: tlsOptions })
        await expect(bad.publish('t', 'refused')).rejects.toThrow()
        await bad.close()
      }
      expect(h.nsqd.clients.size).toBe(0)
    } finally {
      await h.close()
    }
  })

  it('--tls-client-auth-policy=require takes any client certificate, but not none', async () => {
    const h = await startNsqd({ ...serverTls(), tlsClientAuthPolicy: 'require' })
    try {
      const address = `127.0.0.1:${h.tcp.port}`
      const rogue = new Producer(address, { tls: { ca: certs.ca, ...certs.rogue } })
      await rogue.publish('t', 'any cert')
      await rogue.close()
      const none = new Producer(address, { tls: { ca: certs.ca } })
      await expect(none.publish('t', 'no cert')).rejects.toThrow()
      await none.close()
    } finally {
      await h.close()
    }
  })

  it('--tls-min-version=tls1.3 refuses a TLS 1.2 client', async () => {
    const h = await startNsqd({ ...serverTls(), tlsMinVersion: 0x0304 })
    try {
      const address = `127.0.0.1:${h.tcp.port}`
      const old = new Producer(address, { tls: { ca: certs.ca, maxVersion: 'TLSv1.2' } })
      await expect(old.publish('t', 'x')).rejects.toThrow()
      await old.close()
      const current = new Producer(address, { tls: { ca: certs.ca } })
      await current.publish('t', 'x')
      await current.close()
    } finally {
      await h.close()
    }
  })

  it('a failed handshake costs only that connection', async () => {
    const raw = await RawConn.open(d.tcp)
    raw.write(commands.identify({ feature_negotiation: true, tls_v1: true }))
    expect(JSON.parse(await raw.expect(FrameType.Response))).toMatchObject({ tls_v1: true })
    raw.write(Buffer.from('GET / HTTP/1.1\r\n\r\n'))
    await raw.waitClosed()
    const socket = tls.connect({ host: '127.0.0.1', port: d.tcp.port, ca: certs.ca })
    socket.on('error', () => {})
    await new Promise((resolve) => socket.once('close', resolve))
    const ok = await RawConn.open(d.tcp)
    ok.write(commands.pub('t', 'x'))
    expect(await ok.expect(FrameType.Response)).toBe('OK')
    ok.close()
  })
})

describe('negotiation switches', () => {
  it('--snappy=false and --deflate=false answer false and upgrade nothing; --max-deflate-level caps the level', async () => {
    const off = await startNsqd({ snappy: false, deflate: false })
    const capped = await startNsqd({ maxDeflateLevel: 3 })
    try {
      for (const ask of [{ snappy: true }, { deflate: true }]) {
        const raw = await RawConn.open(off.tcp)
        raw.write(commands.identify({ feature_negotiation: true, ...ask }))
        expect(JSON.parse(await raw.expect(FrameType.Response))).toMatchObject({ snappy: false, deflate: false })
        raw.write(commands.pub('t', 'plain'))
        expect(await raw.expect(FrameType.Response)).toBe('OK')
        raw.close()
      }
      const raw = await RawConn.open(capped.tcp)
      raw.write(commands.identify({ feature_negotiation: true, deflate: true, deflate_level: 9 }))
      const answer = JSON.parse(await raw.expect(FrameType.Response))
      expect(answer).toMatchObject({ deflate: true, deflate_level: 3, max_deflate_level: 3 })
      raw.close()
    } finally {
      await off.close()
      await capped.close()
    }
  })

  it('snappy and deflate together are refused as NSQ refuses them', async () => {
    const raw = await RawConn.open(d.tcp)
    raw.write(commands.identify({ feature_negotiation: true, snappy: true, deflate: true }))
    expect(await raw.expect(FrameType.Error)).toBe('E_IDENTIFY_FAILED cannot enable both deflate and snappy compression')
    await raw.waitClosed()
  })

  it('parses NSQ spellings of --tls-required and --tls-min-version', () => {
    const spec = (flag: string) => NSQD_FLAGS.find((f) => f.flag === flag)!
    expect(['true', 'false', 'tcp-https', 'TCP-HTTPS', '1'].map((v) => convertValue(spec('tls-required'), v))).toEqual([2, 0, 1, 1, 2])
    expect(['tls1.0', 'tls1.1', 'TLS1.2', 'tls1.3'].map((v) => convertValue(spec('tls-min-version'), v))).toEqual([0x0301, 0x0302, 0x0303, 0x0304])
    expect(() => convertValue(spec('tls-min-version'), 'ssl3.0')).toThrow()
    expect(() => convertValue(spec('tls-required'), 'maybe')).toThrow()
  })
})
