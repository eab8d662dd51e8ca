import { hostname } from 'node:os'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { NSQLookupd } from '../src/index.js'
import { loadTcpCaptures, type TcpCapture } from '@nsqts/testkit'
import { V1Conn, splitFrames, startLookupd, stopAll } from './helpers.js'

const allCases = loadTcpCaptures()
const lookupdCases = Object.entries(allCases).filter(([name]) => name.startsWith('lookupd_'))

/** The captured lookupd described itself with these values; ours reports its own ports and host name. */
const CAPTURED_IDENTIFY = '{"broadcast_address":"127.0.0.1","hostname":"vm","http_port":4161,"tcp_port":4160,"version":"1.3.0"}'

function sizePrefixed (frames: string[]): Buffer {
  return Buffer.concat(frames.map((f) => {
    const data = Buffer.from(f, 'latin1')
    const size = Buffer.alloc(4)
    size.writeUInt32BE(data.length)
    return Buffer.concat([size, data])
  }))
}

type Mode = 'as captured' | 'all at once' | 'byte by byte'

async function replay (lookupd: NSQLookupd, capture: TcpCapture,
  mode: Mode): Promise<{ received: Buffer, closed: boolean }> {
  const connection = capture.connections[0]
  if (connection === undefined) throw new Error('no connection in capture')
  const conn = await V1Conn.open(lookupd.tcpAddress.port, false)
  const sends = connection.sent_and_received.filter((e) => e.dir === 'send').map((e) => Buffer.from(e.hex, 'hex'))
  if (mode === 'all at once') {
    conn.send(Buffer.concat(sends))
  } else {
    // Before each send, wait for every answer the real nsqlookupd had sent by then.
    let capturedRecv = Buffer.alloc(0)
    for (const exchange of connection.sent_and_received) {
      if (exchange.dir === 'recv') {
        capturedRecv = Buffer.concat([capturedRecv, Buffer.from(exchange.hex, 'hex')])
        continue
      }
      await conn.waitForFrames(splitFrames(capturedRecv).length)
      const bytes = Buffer.from(exchange.hex, 'hex')
      if (mode === 'as captured') {
        conn.send(bytes)
      } else {
        for (const b of bytes) {
          conn.send(Buffer.from([b]))
          await new Promise((resolve) => setImmediate(resolve))
        }
      }
    }
  }
  const expectedFrames = splitFrames(Buffer.from(connection.received_all_hex, 'hex')).length
  await conn.waitForFrames(expectedFrames)
  const received = conn.received
  // A connection the real nsqlookupd kept open must still answer here; one it closed must be closed by the server.
  const closed = connection.server_closed_connection
    ? await conn.closedWithin(2000)
    : (await conn.request('PING\n')) !== 'OK'
  conn.destroy()
  return { received, closed }
}

describe('TCP protocol V1 against the captures of nsqlookupd 1.3.0', () => {
  let lookupd: NSQLookupd
  beforeAll(async () => { lookupd = await startLookupd() })
  afterAll(stopAll)

  const modes: Mode[] = ['as captured', 'all at once', 'byte by byte']
  for (const [name, capture] of lookupdCases) {
    for (const mode of modes) {
      it(`${name} (${mode}): ${capture.title}`, async () => {
        const connection = capture.connections[0]
        if (connection === undefined) throw new Error('no connection in capture')
        const ours = JSON.stringify({
          broadcast_address: '127.0.0.1',
          hostname: hostname(),
          http_port: lookupd.httpAddress.port,
          tcp_port: lookupd.tcpAddress.port,
          version: '1.3.0',
        })
        const expected = sizePrefixed(splitFrames(Buffer.from(connection.received_all_hex, 'hex'))
          .map((f) => (f === CAPTURED_IDENTIFY ? ours : f)))
        const { received, closed } = await replay(lookupd, capture, mode)
        expect(received.toString('latin1')).toBe(expected.toString('latin1'))
        expect(received.equals(expected)).toBe(true)
        expect(closed).toBe(connection.server_closed_connection)
      })
    }
  }

  it('covers every lookupd case of the captures', () => {
    expect(lookupdCases.map(([name]) => name).sort()).toEqual([
      'lookupd_bad_magic', 'lookupd_identify_missing_fields', 'lookupd_identify_register_unregister_ping',
      'lookupd_identify_twice', 'lookupd_invalid_command', 'lookupd_ping_before_identify', 'lookupd_register_bad_topic',
      'lookupd_register_before_identify', 'lookupd_register_missing_topic',
    ])
  })
})
