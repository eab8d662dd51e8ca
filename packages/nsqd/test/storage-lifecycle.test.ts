import { describe, it, expect, afterEach } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Level } from 'level'
import { commands, decodeMessage, FrameType, type Logger } from '@nsqts/protocol'
import { startNsqd, RawConn, waitFor, type NsqdHandle } from '@nsqts/testkit'
import { NSQD } from '../src/nsqd.js'

const dirs: string[] = []
const handles: NsqdHandle[] = []
afterEach(async () => {
  await Promise.all(handles.splice(0).map((h) => h.close()))
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
})

async function dataDir (): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'nsqts-storage-'))
  dirs.push(dir)
  return dir
}

async function start (init: Parameters<typeof startNsqd>[0]): Promise<NsqdHandle> {
  const h = await startNsqd(init)
  handles.push(h)
  return h
}

async function stop (h: NsqdHandle): Promise<void> {
  handles.splice(handles.indexOf(h), 1)
  await h.close()
}

function capture (): Logger & { lines: string[] } {
  const lines: string[] = []
  const at = (level: string) => (m: string): void => { lines.push(`${level}: ${m}`) }
  return { lines, debug: at('DEBUG'), info: at('INFO'), warn: at('WARN'), error: at('ERROR') }
}

/** Subscribes and reads `n` messages with RDY `rdy`, finishing them unless told not to. */
async function consume (
  h: NsqdHandle, topic: string, channel: string, n: number, opts: { fin?: boolean, rdy?: number } = {},
): Promise<{ conn: RawConn, msgs: Array<ReturnType<typeof decodeMessage>> }> {
  const conn = await RawConn.open(h.tcp)
  conn.write(commands.sub(topic, channel))
  expect(await conn.expect(FrameType.Response)).toBe('OK')
  conn.write(commands.rdy(opts.rdy ?? 100))
  const msgs: Array<ReturnType<typeof decodeMessage>> = []
  while (msgs.length < n) {
    const f = await conn.frame()
    if (f.type !== FrameType.Message) continue
    const m = decodeMessage(f.data)
    msgs.push(m)
    if (opts.fin !== false) conn.write(commands.fin(m.id))
  }
  return { conn, msgs }
}

async function publish (h: NsqdHandle, topic: string, bodies: string[]): Promise<void> {
  const conn = await RawConn.open(h.tcp)
  for (let i = 0; i < bodies.length; i += 100) conn.write(commands.mpub(topic, bodies.slice(i, i + 100)))
  for (let i = 0; i < bodies.length; i += 100) expect(await conn.expect(FrameType.Response)).toBe('OK')
  conn.close()
}

const range = (n: number, prefix: string): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${i}`)

describe('nsqd storage: restart', () => {
  // Durable mode stores in-flight messages in the chunks they were read from: a clean exit stores them again with
  // their attempts, and only the unread rest of those chunks, so that each message comes back exactly once.
  it.each([{ mode: 'default', durable: false }, { mode: 'durable', durable: true }])('$mode mode: keeps topics, channels, paused flags and every message once, in-flight ones with their attempts, deferred ones with their delay; drops ephemeral and deleted ones', async ({ durable }) => {
    const dir = await dataDir()
    const a = await start({ dataPath: dir, memQueueSize: 10, durable })
    const keep = a.nsqd.getTopic('keep')
    keep.getChannel('a')
    keep.getChannel('b').pause()
    keep.getChannel('e#ephemeral')
    a.nsqd.getTopic('paused_t').getChannel('c')
    a.nsqd.getTopic('paused_t').pause()
    a.nsqd.getTopic('gone').getChannel('x')
    await publish(a, 'gone', ['g'])
    await a.nsqd.deleteExistingTopic('gone')
    await publish(a, 'keep', range(100, 'm'))
    await publish(a, 'held', range(30, 'h'))
    const pub = await RawConn.open(a.tcp)
    const dpubAt = Date.now()
    pub.write(commands.dpub('keep', 3000, 'soon'))
    pub.write(commands.dpub('keep', 60_000, 'later'))
    expect(await pub.expect(FrameType.Response)).toBe('OK')
    expect(await pub.expect(FrameType.Response)).toBe('OK')
    // Five in flight on channel a, one of them deferred again for a minute.
    const { conn, msgs } = await consume(a, 'keep', 'a', 5, { fin: false, rdy: 5 })
    conn.write(commands.req((msgs[0] as { id: string }).id, 60_000))
    // The REQ opens the RDY window again: a sixth message comes, and five are in flight at exit.
    const sixth = decodeMessage((await conn.frame()).data)
    expect(keep.channels.get('a')?.deferredCount).toBe(3)
    expect(keep.channels.get('a')?.inFlightCount).toBe(5)
    conn.close()
    await stop(a)

    const log = capture()
    const b = await start({ dataPath: dir, memQueueSize: 10, durable, logger: log })
    expect([...b.nsqd.topics.keys()].sort()).toEqual(['held', 'keep', 'paused_t'])
    const keep2 = b.nsqd.getTopic('keep')
    expect([...keep2.channels.keys()].sort()).toEqual(['a', 'b'])
    expect(keep2.channels.get('b')?.paused).toBe(true)
    expect(keep2.channels.get('a')?.paused).toBe(false)
    expect(b.nsqd.getTopic('paused_t').paused).toBe(true)
    expect(keep2.paused).toBe(false)
    const chA = keep2.channels.get('a')
    expect(chA?.depth).toBe(99)
    expect(chA?.deferredCount).toBe(3)
    expect(keep2.channels.get('b')?.depth).toBe(100)
    expect(keep2.channels.get('b')?.deferredCount).toBe(2)
    expect(b.nsqd.getTopic('held').depth).toBe(30)

    const got = await consume(b, 'keep', 'a', 100, { rdy: 200 })
    const bodies = got.msgs.map((m) => m.body.toString())
    // 99 queued (4 of them in flight before: attempts kept, so now 2), then 'soon' when its delay is up, not before.
    expect(new Set(bodies).size).toBe(100)
    expect(bodies.filter((x) => x.startsWith('m-')).sort()).toEqual(range(100, 'm').filter((x) => x !== msgs[0]?.body.toString()).sort())
    expect(bodies.at(-1)).toBe('soon')
    expect(Date.now() - dpubAt).toBeGreaterThanOrEqual(2900)
    const inFlightBefore = new Set([...msgs.slice(1), sixth].map((m) => m.id))
    for (const m of got.msgs) expect(m.attempts).toBe(inFlightBefore.has(m.id) ? 2 : 1)
    expect(chA?.deferredCount).toBe(2)
    got.conn.close()
    expect(log.lines.join('\n')).toMatch(/3 topic\(s\) restored/)
  })

  it('refuses a second nsqd on the same data path with a clear message', async () => {
    const dir = await dataDir()
    const a = await start({ dataPath: dir })
    const second = new NSQD({ dataPath: dir, tcpAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0' })
    await expect(second.start()).rejects.toThrow(`--data-path=${dir} in use (possibly by another instance of nsqd)`)
    await stop(a)
    const again = await start({ dataPath: dir })
    expect(again.nsqd.store).toBeDefined()
  })
})

describe('nsqd storage: memory and disk', () => {
  it('overflows past --mem-queue-size with exact depth and backend depth, and loses nothing', async () => {
    const h = await start({ memQueueSize: 100 })
    h.nsqd.getTopic('ov').getChannel('c')
    await publish(h, 'ov', range(1000, 'o'))
    const ch = h.nsqd.getTopic('ov').channels.get('c')
    expect(h.nsqd.getTopic('ov').depth).toBe(0)
    expect(ch?.depth).toBe(1000)
    expect(ch?.memoryDepth).toBe(100)
    expect(ch?.backendDepth).toBe(900)
    const got = await consume(h, 'ov', 'c', 1000, { rdy: 300 })
    expect(new Set(got.msgs.map((m) => m.body.toString())).size).toBe(1000)
    await waitFor(() => ch?.inFlightCount === 0, 5000, 'all finished')
    expect(ch?.depth).toBe(0)
    expect(ch?.backendDepth).toBe(0)
    got.conn.close()
  })

  it('--mem-queue-size=0 writes every message to disk, in chunks', async () => {
    const dir = await dataDir()
    const h = await start({ dataPath: dir, memQueueSize: 0 })
    h.nsqd.getTopic('zero').getChannel('c')
    await publish(h, 'zero', range(500, 'z'))
    const ch = h.nsqd.getTopic('zero').channels.get('c')
    expect(ch?.memoryDepth).toBe(0)
    expect(ch?.backendDepth).toBe(500)
    await stop(h)
    const db = new Level<Buffer, Buffer>(join(dir, 'nsqd.leveldb'), { keyEncoding: 'buffer', valueEncoding: 'buffer' })
    // Five MPUBs sent at once land in a write or two: a chunk per write, its record count in its key.
    const keys = await db.keys({ gte: Buffer.from('q'), lt: Buffer.from('r') }).all()
    await db.close()
    expect(keys.length).toBeLessThanOrEqual(5)
    expect(keys.reduce((sum, key) => sum + key.readUInt32BE(13), 0)).toBe(500)
  })
})

describe('nsqd storage: durable mode and faults', () => {
  it('answers publishes once synced, one sync for the publishes of a turn, in command order', async () => {
    const h = await start({ durable: true })
    const store = h.nsqd.store
    if (store === undefined) throw new Error('no store')
    const created = h.nsqd.writeMark()
    h.nsqd.getTopic('dur').getChannel('c')
    await h.nsqd.whenStored(created)
    // Twenty pipelined PUBs arrive in one chunk, so in one turn: one synced write answers them all.
    const conn = await RawConn.open(h.tcp)
    const before = store.counters.syncs
    conn.write(Buffer.concat(Array.from({ length: 20 }, () => commands.pub('dur', 'x'))))
    for (let i = 0; i < 20; i++) expect(await conn.expect(FrameType.Response)).toBe('OK')
    expect(store.counters.syncs - before).toBe(1)
    conn.close()
    const httpPub = await fetch(`${h.httpUrl}/pub?topic=dur`, { method: 'POST', body: 'z' })
    expect([httpPub.status, await httpPub.text()]).toEqual([200, 'OK'])
    expect(h.nsqd.getTopic('dur').channels.get('c')?.depth).toBe(21)

    // A subscribed connection: its PUB waits for the disk, the FIN error after it answers at once, yet goes second.
    const sub = await RawConn.open(h.tcp)
    sub.write(commands.sub('dur', 'c'))
    expect(await sub.expect(FrameType.Response)).toBe('OK')
    sub.write(Buffer.concat([commands.pub('dur', 'y'), commands.fin('0000000000000000')]))
    expect(await sub.expect(FrameType.Response)).toBe('OK')
    expect(await sub.expect(FrameType.Error)).toMatch(/^E_FIN_FAILED/)
    sub.close()
  })

  it('fails publishes while writes fail, reports it in health, and recovers with the next good write', async () => {
    const h = await start({ memQueueSize: 0 })
    const store = h.nsqd.store
    if (store === undefined) throw new Error('no store')
    h.nsqd.getTopic('ft').getChannel('c')
    store.injectWriteFault(new Error('no space left on device'))
    // The default mode answers a publish before its write unless the disk is known to fail: the write of the topic's
    // and channel's entries finds out first.
    await waitFor(() => h.nsqd.health !== undefined, 5000, 'the failed write')
    const pub = await RawConn.open(h.tcp)
    pub.write(commands.pub('ft', 'a'))
    expect(await pub.expect(FrameType.Error)).toBe('E_PUB_FAILED PUB failed no space left on device')
    await pub.waitClosed()
    expect(h.nsqd.health).toBe('no space left on device')
    const mpub = await RawConn.open(h.tcp)
    mpub.write(commands.mpub('ft', ['b', 'c']))
    expect(await mpub.expect(FrameType.Error)).toBe('E_MPUB_FAILED MPUB failed no space left on device')
    const ping = await fetch(`${h.httpUrl}/ping`)
    expect([ping.status, await ping.text()]).toEqual([500, 'NOK - no space left on device'])
    const httpPub = await fetch(`${h.httpUrl}/pub?topic=ft`, { method: 'POST', body: 'e' })
    expect([httpPub.status, await httpPub.json()]).toEqual([500, { message: 'PUB_FAILED' }])
    const httpMpub = await fetch(`${h.httpUrl}/mpub?topic=ft`, { method: 'POST', body: 'f\ng\n' })
    expect([httpMpub.status, await httpMpub.json()]).toEqual([500, { message: 'MPUB_FAILED' }])

    store.injectWriteFault(undefined)
    const again = await RawConn.open(h.tcp)
    again.write(commands.pub('ft', 'd'))
    expect(await again.expect(FrameType.Response)).toBe('OK')
    expect(h.nsqd.health).toBeUndefined()
    const pong = await fetch(`${h.httpUrl}/ping`)
    expect([pong.status, await pong.text()]).toEqual([200, 'OK'])
    again.close()
    // What failed was retried with the good write: at-least-once, never an OK for what is not stored.
    const ch = h.nsqd.getTopic('ft').channels.get('c')
    expect(ch?.depth).toBe(7)
  })

  it('starts on a data path with an unreadable entry and a damaged record, says what it found, and serves the rest', async () => {
    const dir = await dataDir()
    const a = await start({ dataPath: dir, memQueueSize: 0 })
    a.nsqd.getTopic('ok').getChannel('c')
    // One PUB at a time, each written before the next, so that each message is a chunk of its own (a publish is
    // answered before its write lands).
    const pub = await RawConn.open(a.tcp)
    for (const body of range(10, 'k')) {
      pub.write(commands.pub('ok', body))
      expect(await pub.expect(FrameType.Response)).toBe('OK')
      await waitFor(() => a.nsqd.store?.unwrittenBytes === 0, 5000, 'written')
    }
    pub.close()
    await stop(a)
    const db = new Level<Buffer, Buffer>(join(dir, 'nsqd.leveldb'), { keyEncoding: 'buffer', valueEncoding: 'buffer' })
    await db.put(Buffer.from('ibroken'), Buffer.from('{not json'))
    const keys = await db.keys({ gte: Buffer.from('q'), lt: Buffer.from('r') }).all()
    await db.put(keys[3] as Buffer, Buffer.from('garbage'))
    await db.close()

    const log = capture()
    const b = await start({ dataPath: dir, memQueueSize: 0, logger: log })
    expect([...b.nsqd.topics.keys()]).toEqual(['ok'])
    const got = await consume(b, 'ok', 'c', 9)
    expect(got.msgs.map((m) => m.body.toString()).sort()).toEqual(range(10, 'k').filter((x) => x !== 'k-3').sort())
    await waitFor(() => b.nsqd.getTopic('ok').channels.get('c')?.depth === 0, 5000, 'depth 0')
    const text = log.lines.join('\n')
    expect(text).toMatch(/entry of "broken" is unreadable .* set aside/)
    expect(text).toMatch(/chunk of records 3\.\.3 of queue ok:c is damaged \(7 bytes\) - set aside/)
    got.conn.close()
  })
})
