import { describe, it, expect, afterEach } from 'vitest'
import { once } from 'node:events'
import net, { type AddressInfo, type Socket } from 'node:net'
import { randomBytes } from 'node:crypto'
import { compressSync, uncompressSync } from 'snappy'
import { commands, FrameType, SnappyFrameEncoder } from '@nsqts/protocol'
import { RawConn, startNsqd, waitFor, type NsqdHandle } from '@nsqts/testkit'
import { readIntoSharedBuffer } from '../src/tcp/read-buffer.js'
import { startAuthServer, type AuthReply } from './security-helpers.js'

const cleanup: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c()
})

async function connect (port: number): Promise<Socket> {
  const c = net.connect(port, '127.0.0.1')
  await once(c, 'connect')
  cleanup.push(() => { c.destroy() })
  return c
}

describe('the shared read buffer', () => {
  it('takes over an accepted socket on this Node: its reads, pause and resume, and its close', async () => {
    const got: string[] = []
    const accepted: Socket[] = []
    const server = net.createServer((s) => {
      if (accepted.push(s) === 1) {
        // If this fails, Node no longer has the fields the onread option sets: nsqd falls back to 'data' events,
        // and batch-1 publishing loses the gain measured in docs/performance.md.
        expect(readIntoSharedBuffer(s, (chunk) => got.push(chunk.toString()))).toBe(true)
        s.resume()
      } else {
        s.on('data', (d) => s.write(d))
      }
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    cleanup.push(() => new Promise<void>((resolve) => server.close(() => resolve())))
    const port = (server.address() as AddressInfo).port
    const reader = await connect(port)
    reader.write('abc')
    await waitFor(() => got.join('') === 'abc', 2000, 'the first read')

    const paused = accepted[0] as Socket
    paused.pause()
    reader.write('def')
    // A round trip on another connection: loopback delivered 'def' before it, so a socket still reading would have
    // read 'def' by the time the echo is back.
    const echo = await connect(port)
    echo.write('ping')
    await once(echo, 'data')
    expect(got.join('')).toBe('abc')
    paused.resume()
    await waitFor(() => got.join('') === 'abcdef', 2000, 'the read after resume')

    reader.end()
    await once(paused, 'close')
  })
})

describe('nsqd reading many connections through one buffer', () => {
  let d: NsqdHandle | undefined
  afterEach(async () => { await d?.close(); d = undefined })

  /** A fresh nsqd and two connections to it. */
  async function nsqdWithTwo (): Promise<[NsqdHandle, RawConn, RawConn]> {
    const nsqd = d = await startNsqd()
    const first = await RawConn.open(nsqd.tcp)
    const second = await RawConn.open(nsqd.tcp)
    cleanup.push(() => { first.close(); second.close() })
    return [nsqd, first, second]
  }

  it('keeps lines and MPUB bodies cut across reads whole while other connections are read between', async () => {
    const [nsqd, cut, other] = await nsqdWithTwo()
    const topic = 'cut_reads'
    const bodies = ['first body', 'second body', 'x'.repeat(300), 'last']
    const wire = Buffer.concat([commands.pub(topic, 'before'), commands.mpub(topic, bodies), commands.pub(topic, 'after')])
    // Cuts inside the PUB line, inside the MPUB's third body and inside its size words.
    const cuts = [2, wire.indexOf('xxx') + 100, wire.indexOf('last') - 2, wire.length]
    let from = 0
    let n = 0
    for (const to of cuts) {
      cut.write(wire.subarray(from, to))
      from = to
      // Another connection's PUB and its OK: by then nsqd has read the piece above, and this read has gone through the
      // same buffer after it.
      other.write(commands.pub(topic, `other ${n++}`))
      expect(await other.expect(FrameType.Response)).toBe('OK')
    }
    for (let i = 0; i < 3; i++) expect(await cut.expect(FrameType.Response)).toBe('OK')

    const consumer = await RawConn.open(nsqd.tcp)
    cleanup.push(() => { consumer.close() })
    const seen = await consumer.consume(topic, 'ch', 100, (b) => b.length === 6 + cuts.length)
    expect(seen.filter((b) => !b.startsWith('other '))).toEqual(['before', ...bodies, 'after'])
    expect(seen.filter((b) => b.startsWith('other ')).sort()).toEqual(['other 0', 'other 1', 'other 2', 'other 3'])
  })

  it('delivers every body intact when many connections pipeline PUBs and MPUBs cut at random sizes', async () => {
    d = await startNsqd()
    const nsqd = d
    const topic = 'many_cuts'
    // A fixed xorshift sequence: the same cuts and sizes on every run.
    let seed = 0x9e3779b9
    const next = (n: number): number => {
      seed ^= seed << 13
      seed ^= seed >>> 17
      seed ^= seed << 5
      return (seed >>> 0) % n
    }
    const want: string[] = []
    const publishers = await Promise.all(Array.from({ length: 6 }, async (_, p) => {
      const conn = await RawConn.open(nsqd.tcp)
      cleanup.push(() => { conn.close() })
      const parts: Buffer[] = []
      for (let c = 0; c < 20; c++) {
        const bodies = Array.from({ length: 1 + next(40) }, (_, i) => `${p}.${c}.${i}:${'x'.repeat(next(3000))}`)
        want.push(...bodies)
        parts.push(bodies.length === 1 ? commands.pub(topic, bodies[0] as string) : commands.mpub(topic, bodies))
      }
      return { conn, wire: Buffer.concat(parts), commands: parts.length }
    }))
    // The connections' bytes go out interleaved, each in pieces of 1 byte to 20 KB.
    const at = publishers.map(() => 0)
    while (publishers.some((p, i) => (at[i] as number) < p.wire.length)) {
      publishers.forEach((p, i) => {
        const from = at[i] as number
        if (from >= p.wire.length) return
        const to = Math.min(p.wire.length, from + 1 + next(20_000))
        p.conn.write(p.wire.subarray(from, to))
        at[i] = to
      })
    }
    for (const p of publishers) {
      for (let i = 0; i < p.commands; i++) expect(await p.conn.expect(FrameType.Response)).toBe('OK')
    }

    const consumer = await RawConn.open(nsqd.tcp)
    cleanup.push(() => { consumer.close() })
    const seen = await consumer.consume(topic, 'ch', 2500, (b) => b.length === want.length)
    expect(seen.sort()).toEqual(want.sort())
  })

  it('keeps an MPUB whole across snappy chunks read apart, which the decoder hands on as views of the read', async () => {
    const [nsqd, conn, other] = await nsqdWithTwo()
    const topic = 'snappy_cut'
    conn.write(commands.identify({ feature_negotiation: true, snappy: true }))
    expect(JSON.parse(await conn.expect(FrameType.Response))).toMatchObject({ snappy: true })
    // Random bodies do not compress: each piece goes out as an uncompressed chunk, decoded in place.
    const bodies = Array.from({ length: 4 }, () => randomBytes(300).toString('base64'))
    const plain = commands.mpub(topic, bodies)
    const encoder = new SnappyFrameEncoder({ compressSync, uncompressSync })
    const cut = plain.indexOf(bodies[2] as string) + 100
    conn.write(encoder.encode(plain.subarray(0, cut)))
    // Another connection's round trip: nsqd has read the first piece by then, and this read went through the buffer.
    other.write(commands.pub(topic, 'other'))
    expect(await other.expect(FrameType.Response)).toBe('OK')
    conn.write(encoder.encode(plain.subarray(cut)))

    const consumer = await RawConn.open(nsqd.tcp)
    cleanup.push(() => { consumer.close() })
    const seen = await consumer.consume(topic, 'ch', 10, (b) => b.length === 5)
    expect(seen.filter((b) => b !== 'other')).toEqual(bodies)
  })

  it('keeps what a connection sent while its command waited for the auth server, as other connections are read', async () => {
    // Once the 1 s ttl has passed, the next command asks the auth server again: the PUB below waits for an answer this
    // test holds back.
    const grant: AuthReply = { body: { ttl: 1, identity: 'i', authorizations: [{ topic: '.*', channels: ['.*'], permissions: ['publish', 'subscribe'] }] } }
    let release = (): void => {}
    let holdNext = false
    const auth = await startAuthServer(() => {
      if (!holdNext) return grant
      holdNext = false
      return new Promise<AuthReply>((resolve) => { release = () => resolve(grant) })
    })
    cleanup.push(() => auth.close())
    d = await startNsqd({ authHttpAddresses: [auth.address] })
    const nsqd = d
    const authed = async (): Promise<RawConn> => {
      const c = await RawConn.open(nsqd.tcp)
      cleanup.push(() => { c.close() })
      c.write(commands.identify({ feature_negotiation: true }))
      await c.expect(FrameType.Response)
      c.write(commands.auth('secret'))
      await c.expect(FrameType.Response)
      return c
    }
    const waiting = await authed()
    const authedAt = Date.now()
    await waitFor(() => Date.now() - authedAt > 1100, 3000, 'the ttl to pass')
    holdNext = true
    const asked = auth.requests.length
    // One read: parsing stops after the first PUB until the answer comes, and what follows it must be kept till then.
    waiting.write(Buffer.concat([commands.pub('held', 'asked for'), commands.pub('held', 'kept while waiting')]))
    await waitFor(() => auth.requests.length > asked, 2000, 'the auth query')
    // Another connection's read goes through the same buffer meanwhile.
    const other = await RawConn.open(nsqd.tcp)
    cleanup.push(() => { other.close() })
    other.write(commands.identify({ feature_negotiation: true, client_id: 'x'.repeat(200) }))
    await other.expect(FrameType.Response)
    release()
    expect(await waiting.expect(FrameType.Response)).toBe('OK')
    expect(await waiting.expect(FrameType.Response)).toBe('OK')

    expect(await (await authed()).consume('held', 'ch', 10, (b) => b.length === 2)).toEqual(['asked for', 'kept while waiting'])
  })
})
