import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { connect } from 'node:net'
import fc from 'fast-check'
import { Consumer, Producer } from '@nsqts/client'
import { commands } from '@nsqts/protocol'
import { startNsqd, waitFor, type NsqdHandle } from '@nsqts/testkit'
import { makeCerts, type TestCerts } from './security-helpers.js'

/**
 * Hostile input at a live nsqd: random and mutated V2 command streams over TCP (with TLS and compression
 * negotiable, so the upgrade paths get garbage too) and random requests at the HTTP API. The daemon must answer or
 * close every connection, never crash, end with no connection or timer left behind, and keep serving a well-behaved
 * producer and consumer without loss the whole time.
 */

const CONNECTIONS = 20_000
const STREAMS_PER_CONNECTION = 5
const WORKERS = 8
const HTTP_RUNS = 3000

let certs: TestCerts
let d: NsqdHandle
beforeAll(async () => {
  certs = makeCerts()
  d = await startNsqd({
    tlsCert: certs.certFile,
    tlsKey: certs.keyFile,
    httpsAddress: '127.0.0.1:0',
    maxMsgSize: 4096,
    maxBodySize: 65536,
    memQueueSize: 100,
    // Fuzzed publishes go to memory-only (ephemeral) topics or a few named ones; the store stays small.
    maxRdyCount: 100,
  })
})
afterAll(async () => {
  await d?.close()
  certs?.remove()
})

// ---- generators ----

const size = (n: number): Buffer => {
  const b = Buffer.alloc(4)
  b.writeInt32BE(n | 0)
  return b
}
const topicArb = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('fz_a', 'fz_b#ephemeral', 'fz_c#ephemeral') },
  { weight: 1, arbitrary: fc.string({ maxLength: 70 }) },
)
const channelArb = fc.oneof({ weight: 8, arbitrary: fc.constantFrom('ch', 'ch2#ephemeral') }, { weight: 1, arbitrary: fc.string({ maxLength: 70 }) })
const intArb = fc.oneof(
  fc.integer({ min: -2, max: 70_000 }),
  fc.constantFrom(0, -1, 1, 2 ** 31 - 1, -(2 ** 31)),
  fc.integer(),
)
const numText = fc.oneof(intArb.map(String), fc.string({ maxLength: 12 }), fc.constant('18446744073709551616'))
const bodyArb = fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b))
const idArb = fc.oneof(fc.string({ minLength: 16, maxLength: 16 }), fc.string({ maxLength: 20 }))
const identifyArb = fc.oneof(
  fc.record({
    feature_negotiation: fc.boolean(),
    tls_v1: fc.boolean(),
    snappy: fc.boolean(),
    deflate: fc.boolean(),
    deflate_level: intArb,
    heartbeat_interval: fc.oneof(fc.constantFrom(-1, 0, 1000, 30_000), intArb),
    output_buffer_size: fc.oneof(fc.constantFrom(-1, 0, 64, 16384), intArb),
    output_buffer_timeout: fc.oneof(fc.constantFrom(-1, 0, 25, 250), intArb),
    msg_timeout: intArb,
    sample_rate: intArb,
    client_id: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
    user_agent: fc.string(),
  }, { requiredKeys: [] }).map((o) => commands.identify(o)),
  fc.string({ maxLength: 200 }).map((s) => Buffer.concat([Buffer.from('IDENTIFY\n'), size(Buffer.byteLength(s)), Buffer.from(s)])),
)
/** One command, mostly well formed, with hostile parameters. */
const commandArb: fc.Arbitrary<Buffer> = fc.oneof(
  identifyArb,
  fc.tuple(topicArb, bodyArb).map(([t, b]) => b.length > 0 ? commands.pub(t, b) : Buffer.from(`PUB ${t}\n\0\0\0\0`)),
  fc.tuple(topicArb, numText, bodyArb).map(([t, n, b]) => Buffer.concat([Buffer.from(`DPUB ${t} ${n}\n`), size(b.length), b])),
  fc.tuple(topicArb, fc.array(bodyArb, { maxLength: 5 })).map(([t, bodies]) =>
    bodies.length > 0 && bodies.every((b) => b.length > 0)
      ? commands.mpub(t, bodies)
      : Buffer.concat([Buffer.from(`MPUB ${t}\n`), size(8), size(bodies.length), ...bodies.flatMap((b) => [size(b.length), b])])),
  fc.tuple(topicArb, channelArb).map(([t, c]) => Buffer.from(`SUB ${t} ${c}\n`)),
  fc.oneof(numText, fc.constant('')).map((n) => Buffer.from(n === '' ? 'RDY\n' : `RDY ${n}\n`)),
  idArb.map((id) => Buffer.from(`FIN ${id}\n`)),
  fc.tuple(idArb, numText).map(([id, n]) => Buffer.from(`REQ ${id} ${n}\n`)),
  idArb.map((id) => Buffer.from(`TOUCH ${id}\n`)),
  fc.constantFrom('CLS\n', 'NOP\n', 'NOP\r\n', 'nop\n', '\n', ' \n', 'PUB\n', 'SUB a\n').map((s) => Buffer.from(s)),
  fc.string({ maxLength: 20 }).map((s) => commands.auth(s.length > 0 ? s : 'x')),
  fc.tuple(fc.constantFrom('PUB t\n', 'MPUB t\n', 'IDENTIFY\n', 'AUTH\n', 'DPUB t 1\n'), intArb).map(([line, n]) => Buffer.concat([Buffer.from(line), size(n)])),
  fc.string({ maxLength: 40 }).map((s) => Buffer.from(`${s}\n`)),
  fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
)
/** A stream: a few commands, sometimes mutated (bytes flipped, cut, inserted or repeated). */
const streamArb: fc.Arbitrary<Buffer> = fc.tuple(
  fc.array(commandArb, { minLength: 1, maxLength: 6 }),
  fc.array(fc.tuple(fc.constantFrom('flip', 'cut', 'insert', 'repeat'), fc.nat(), fc.nat({ max: 255 })), { maxLength: 3 }),
).map(([cmds, mutations]) => {
  let s = Buffer.concat(cmds)
  for (const [kind, at, byte] of mutations) {
    if (s.length === 0) break
    const i = at % s.length
    if (kind === 'flip') s[i] = byte
    else if (kind === 'cut') s = s.subarray(0, i)
    else if (kind === 'insert') s = Buffer.concat([s.subarray(0, i), Buffer.from([byte]), s.subarray(i)])
    else s = Buffer.concat([s, s.subarray(i, i + 64)])
  }
  return s
})
const connectionArb = fc.tuple(
  fc.oneof({ weight: 12, arbitrary: fc.constant('  V2') }, { weight: 1, arbitrary: fc.string({ maxLength: 5 }) }),
  fc.array(streamArb, { minLength: STREAMS_PER_CONNECTION, maxLength: STREAMS_PER_CONNECTION }),
  fc.boolean(),
)

// ---- the live target ----

/**
 * Sends one connection's streams (in one write, or in small pieces), half-closes, and resolves once nsqd closed the
 * connection (with a FIN, or a reset when it stopped reading what was sent): whether it answered first.
 */
function throwAt (port: number, magic: string, streams: Buffer[], trickle: boolean): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let answered = false
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`nsqd neither answered nor closed within 10 s (${JSON.stringify(Buffer.concat(streams).toString('latin1').slice(0, 200))})`))
    }, 10_000)
    socket.on('data', () => { answered = true })
    socket.on('error', () => {})
    socket.on('close', () => {
      clearTimeout(timer)
      resolve(answered)
    })
    socket.on('connect', () => {
      const all = Buffer.concat([Buffer.from(magic, 'latin1'), ...streams])
      if (!trickle) {
        socket.end(all)
        return
      }
      for (let i = 0; i < all.length; i += 7) socket.write(all.subarray(i, i + 7))
      socket.end()
    })
  })
}

function activeCount (kind: string): number {
  return process.getActiveResourcesInfo().filter((r) => r === kind).length
}

describe('fuzzing a live nsqd', () => {
  it(`survives ${CONNECTIONS * STREAMS_PER_CONNECTION} random and mutated command streams and ${HTTP_RUNS} random HTTP requests, without loss for a well-behaved client`, async () => {
    const address = `127.0.0.1:${d.tcp.port}`
    const producer = new Producer(address)
    const consumer = new Consumer('fz_side', 'ch', { nsqdTcpAddresses: address, maxInFlight: 50 })
    const received = new Map<string, number>()
    await consumer.handle((m) => { received.set(m.text(), (received.get(m.text()) ?? 0) + 1) })
    await producer.publish('fz_side', 'warm-up')
    await waitFor(() => received.size === 1, 5000, 'the side consumer')
    const baseline = { clients: d.nsqd.clients.size, tcp: activeCount('TCPSocketWrap'), timers: activeCount('Timeout') }

    // The well-behaved client publishes throughout; every publish must be answered OK and consumed once.
    // An object, not a local, because the loop below watches a flag that another task clears.
    const run = { fuzzing: true }
    let published = 1
    const sideErrors: unknown[] = []
    const side = (async () => {
      while (run.fuzzing) {
        try {
          await producer.publishMany('fz_side', Array.from({ length: 10 }, (_, i) => `side-${published + i}`))
          published += 10
        } catch (err) {
          sideErrors.push(err)
          return
        }
      }
    })()

    let streams = 0
    let connections = 0
    let answered = 0
    const connection = fc.asyncProperty(connectionArb, async ([magic, batch, trickle]) => {
      // Rejects if nsqd neither closes nor answers in time.
      if (await throwAt(d.tcp.port, magic, batch, trickle)) answered++
      connections++
      streams += batch.length
    })
    const worker = (seed: number): Promise<void> =>
      fc.assert(connection, { numRuns: CONNECTIONS / WORKERS, seed, endOnFailure: true })

    const methodArb = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH')
    const pathArb = fc.oneof(
      fc.constantFrom('/ping', '/info', '/stats', '/pub', '/mpub', '/topic/create', '/topic/delete', '/topic/empty', '/topic/pause',
        '/topic/unpause', '/channel/create', '/channel/delete', '/channel/empty', '/channel/pause', '/channel/unpause', '/config/',
        '/config/log_level', '/config/nsqlookupd_tcp_addresses', '/metrics', '/debug/pprof'),
      fc.webPath(),
    )
    const queryArb = fc.array(fc.tuple(fc.constantFrom('topic', 'channel', 'format', 'defer', 'binary', 'include_clients', 'include_mem', 'x'),
      fc.oneof(fc.constantFrom('fz_h#ephemeral', 'fz_h', 'json', 'true', '1', '-1', '99999999999'), fc.string({ maxLength: 20 }))), { maxLength: 4 })
    const bodyBytesArb = fc.uint8Array({ maxLength: 200 })
    const request = fc.asyncProperty(methodArb, pathArb, queryArb, bodyBytesArb, async (method, path, query, body) => {
      const qs = query.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&')
      // Deleting or emptying the side client's topic would be the test's own doing, not nsqd's.
      if (qs.includes('fz_side') || (path.startsWith('/config/') && method === 'PUT')) return
      const res = await fetch(`${d.httpUrl}${path}${qs === '' ? '' : `?${qs}`}`, {
        method,
        body: method === 'GET' || method === 'HEAD' ? undefined : Buffer.from(body),
      })
      await res.arrayBuffer()
      expect(res.status).toBeLessThan(500)
    })
    const httpWorker = fc.assert(request, { numRuns: HTTP_RUNS, endOnFailure: true })

    await Promise.all([...Array.from({ length: WORKERS }, (_, i) => worker(1000 + i)), httpWorker])
    run.fuzzing = false
    await side
    expect(sideErrors).toEqual([])
    expect(streams).toBeGreaterThanOrEqual(100_000)
    expect(connections).toBe(CONNECTIONS)

    await waitFor(() => received.size === published && consumer.stats().inFlight === 0, 30_000, `${published} side messages`)
    expect([...received.values()].every((n) => n === 1)).toBe(true)
    // Nothing left behind: no client, socket or timer beyond what the side client had before.
    await waitFor(() => d.nsqd.clients.size === baseline.clients, 10_000, 'fuzz clients to be gone')
    await waitFor(() => activeCount('TCPSocketWrap') <= baseline.tcp, 10_000, 'sockets to be closed')
    expect(activeCount('Timeout')).toBeLessThanOrEqual(baseline.timers + 10)
    process.stdout.write(`fuzz: ${streams} streams on ${CONNECTIONS} connections (${answered} answered before closing), ${HTTP_RUNS} HTTP requests, ` +
      `${published} side messages published and consumed once\n`)
    await consumer.close()
    await producer.close()
    // A time limit for a hang, not for speed: 20,000 connections take 30 s on a quiet 2-core machine, 80 s or more
    // on a loaded one, and longer beside another test file.
  }, 300_000)
})
