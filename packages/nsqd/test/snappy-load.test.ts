import { describe, it, expect } from 'vitest'
import { compressSync, uncompressSync } from 'snappy'
import { Consumer, Producer, type ConnectionOptions } from '@nsqts/client'
import { FrameDecoder, FrameType, SnappyFrameDecoder, SnappyFrameEncoder, commands } from '@nsqts/protocol'
import { RawConn, startNsqd, waitFor, type NsqdHandle } from '@nsqts/testkit'
import { makeCerts } from './security-helpers.js'

/**
 * nsqd finds the snappy package at start and loads its native codec on the first IDENTIFY that negotiates it: every
 * daemon here is fresh, so each first IDENTIFY takes that path (the answer waits for the load).
 */

const block = { compressSync, uncompressSync }
/** A module that resolves but fails to load, as a snappy package without a binding for this platform would. */
const BROKEN = 'data:text/javascript,throw new Error("no native binding here")'

/**
 * Frames off a raw connection that asked for snappy: the first (IDENTIFY's answer) plain, the rest snappy-framed.
 * Returns the texts so far, as `type:text`.
 */
function snappyFrames (raw: RawConn): () => string[] {
  const frames: string[] = []
  const frameDecoder = new FrameDecoder((type, data) => frames.push(`${type}:${data.toString()}`), (e) => { throw e })
  const snappy = new SnappyFrameDecoder(block, (data) => frameDecoder.push(data), (e) => { throw e })
  let consumed = 0
  return () => {
    const all = Buffer.concat(raw.received)
    if (consumed === 0 && all.length >= 4 && all.length >= 4 + all.readUInt32BE(0)) {
      consumed = 4 + all.readUInt32BE(0)
      frameDecoder.push(all.subarray(0, consumed))
    }
    if (consumed > 0 && all.length > consumed) {
      snappy.push(all.subarray(consumed))
      consumed = all.length
    }
    return frames
  }
}

async function withNsqd (init: Parameters<typeof startNsqd>[0], fn: (d: NsqdHandle) => Promise<void>): Promise<void> {
  const d = await startNsqd(init)
  try {
    await fn(d)
  } finally {
    await d.close()
  }
}

/** Publishes "second" with our Producer and returns what our Consumer got (`already` queued before); both upgraded. */
async function roundTrip (d: NsqdHandle, options: ConnectionOptions, ...already: string[]): Promise<string[]> {
  const producer = new Producer(d.tcpAddress, options)
  const consumer = new Consumer('lazy', 'c', { ...options, nsqdTcpAddresses: d.tcpAddress })
  try {
    const seen: string[] = []
    await consumer.handle((msg) => { seen.push(msg.text()) })
    await producer.publish('lazy', 'second')
    await waitFor(() => seen.length === already.length + 1, 5000, 'the messages')
    const clients = [...d.nsqd.clients.values()]
    expect(clients.length).toBe(2)
    for (const c of clients) expect([c.snappy, c.tls !== undefined]).toEqual([true, options.tls !== undefined])
    return seen
  } finally {
    await consumer.close()
    await producer.close()
  }
}

describe('the snappy codec, loaded by the first IDENTIFY that negotiates it', () => {
  it('serves a fresh daemon\'s first snappy IDENTIFY, with a pipelined PUB, and a round trip through snappy', async () => {
    await withNsqd({}, async (d) => {
      expect([d.nsqd.snappy.available, d.nsqd.snappy.block]).toEqual([true, undefined])
      // Magic, IDENTIFY and a snappy-framed PUB in one write: the PUB waits with the answer, then is read as snappy.
      const raw = await RawConn.open(d.tcp, { magic: null })
      raw.write(Buffer.concat([Buffer.from('  V2'), commands.identify({ feature_negotiation: true, snappy: true }),
        new SnappyFrameEncoder(block).encode(commands.pub('lazy', 'first'))]))
      const frames = snappyFrames(raw)
      await waitFor(() => frames().length >= 3, 5000, 'the answer, the upgrade OK and the PUB OK')
      expect(JSON.parse(frames()[0]!.slice(2))).toMatchObject({ snappy: true })
      expect(frames().slice(1)).toEqual(['0:OK', '0:OK'])
      expect(d.nsqd.snappy.block).toBeDefined()
      raw.close()

      expect(await roundTrip(d, { snappy: true }, 'first')).toEqual(['first', 'second'])
    })
  })

  it('loads it behind a TLS upgrade too, on a fresh daemon', async () => {
    const certs = makeCerts()
    try {
      const tls = { tlsCert: certs.certFile, tlsKey: certs.keyFile }
      await withNsqd(tls, async (d) => {
        expect(await roundTrip(d, { snappy: true, tls: { ca: certs.ca } })).toEqual(['second'])
      })
    } finally {
      certs.remove()
    }
  })

  it('answers concurrent first IDENTIFYs alike once the one load is done', async () => {
    await withNsqd({}, async (d) => {
      const raws = await Promise.all([1, 2, 3].map(async () => await RawConn.open(d.tcp)))
      for (const raw of raws) raw.write(commands.identify({ feature_negotiation: true, snappy: true }))
      for (const raw of raws) {
        const frames = snappyFrames(raw)
        await waitFor(() => frames().length >= 2, 5000, 'the answer and the upgrade OK')
        expect(JSON.parse(frames()[0]!.slice(2))).toMatchObject({ snappy: true })
        expect(frames()[1]).toBe('0:OK')
        raw.close()
      }
    })
  })

  it('a codec that fails to load is logged, answered snappy false, and not offered again; the daemon serves on', async () => {
    const errors: string[] = []
    const logger = { debug () {}, info () {}, warn () {}, error: (m: string) => { errors.push(m) } }
    await withNsqd({ logger, snappyModule: BROKEN }, async (d) => {
      expect(d.nsqd.snappy.available).toBe(true)
      // The connection that asked keeps going, plain, with what it pipelined behind IDENTIFY.
      const raw = await RawConn.open(d.tcp)
      raw.write(Buffer.concat([commands.identify({ feature_negotiation: true, snappy: true }), commands.pub('t', 'x')]))
      expect(JSON.parse(await raw.expect(FrameType.Response))).toMatchObject({ snappy: false })
      expect(await raw.expect(FrameType.Response)).toBe('OK')
      expect(errors).toEqual(['snappy unavailable, not negotiated - no native binding here'])
      expect(d.nsqd.snappy.available).toBe(false)

      const next = await RawConn.open(d.tcp)
      next.write(commands.identify({ feature_negotiation: true, snappy: true }))
      expect(JSON.parse(await next.expect(FrameType.Response))).toMatchObject({ snappy: false })
      next.write(commands.pub('t', 'y'))
      expect(await next.expect(FrameType.Response)).toBe('OK')
      expect(errors).toHaveLength(1)
      raw.close()
      next.close()
    })
  })

  it('a package that is not there is logged at start and never offered', async () => {
    const errors: string[] = []
    const logger = { debug () {}, info () {}, warn () {}, error: (m: string) => { errors.push(m) } }
    await withNsqd({ logger, snappyModule: 'nsqts-no-such-snappy' }, async (d) => {
      expect(d.nsqd.snappy.available).toBe(false)
      expect(errors).toHaveLength(1)
      expect(errors[0]).toMatch(/^snappy unavailable, not negotiated - Cannot find package 'nsqts-no-such-snappy'/)
      const raw = await RawConn.open(d.tcp)
      raw.write(commands.identify({ feature_negotiation: true, snappy: true }))
      expect(JSON.parse(await raw.expect(FrameType.Response))).toMatchObject({ snappy: false })
      raw.close()
    })
  })
})
