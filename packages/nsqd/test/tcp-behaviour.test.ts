import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { commands, decodeMessage, FrameType, type DecodedMessage } from '@nsqts/protocol'
import { CAPTURES_AVAILABLE, startNsqd, RawConn, waitFor, loadTcpCaptures, type NsqdHandle } from '@nsqts/testkit'

let d: NsqdHandle
beforeAll(async () => { d = await startNsqd({ msgTimeout: 300, e2eProcessingLatencyPercentiles: [0.5] }) })
afterAll(async () => { await d.close() })

async function consumer (topic: string, channel: string, rdy: number, identify?: object): Promise<RawConn> {
  const c = await RawConn.open(d.tcp)
  if (identify !== undefined) {
    c.write(commands.identify(identify))
    await c.expect(FrameType.Response)
  }
  c.write(commands.sub(topic, channel))
  expect(await c.expect(FrameType.Response)).toBe('OK')
  if (rdy > 0) c.write(commands.rdy(rdy))
  return c
}

async function message (c: RawConn, timeoutMs = 5000): Promise<DecodedMessage> {
  const f = await c.frame(timeoutMs)
  if (f.type !== FrameType.Message) throw new Error(`expected a message, got ${f.type} ${f.data.toString()}`)
  return decodeMessage(f.data)
}

async function publish (topic: string, ...bodies: string[]): Promise<void> {
  const p = await RawConn.open(d.tcp)
  for (const b of bodies) p.write(commands.pub(topic, b))
  for (let i = 0; i < bodies.length; i++) expect(await p.expect(FrameType.Response)).toBe('OK')
  p.close()
}

describe('message flow', () => {
  it.skipIf(!CAPTURES_AVAILABLE)('frames messages as the capture shows: PUB, SUB, RDY 1, REQ 0 redelivers with attempts 2', async () => {
    const capture = loadTcpCaptures().nsqd_message_frame!
    const body = 'hello from capture_tcp'
    await publish('flow_frame', body)
    const c = await consumer('flow_frame', 'ch', 1)
    const first = await c.frame()
    const theirs = capture.connections[1]!.received_all_hex
    // OK frame, then a message frame of the same size and type; only timestamp and id differ.
    expect(first.data.length).toBe(Buffer.from(theirs, 'hex').readUInt32BE(10) - 4)
    const m = decodeMessage(first.data)
    expect(m.id).toMatch(/^[0-9a-f]{16}$/)
    expect(m.body.toString()).toBe(body)
    expect(m.attempts).toBe(1)
    c.write(commands.req(m.id, 0))
    const again = await message(c)
    expect([again.id, again.attempts, again.timestamp]).toEqual([m.id, 2, m.timestamp])
    c.write(commands.fin(m.id))
    await waitFor(() => d.nsqd.topics.get('flow_frame')!.channels.get('ch')!.inFlightCount === 0)
    c.close()
  })

  it('treats RDY as an in-flight window, not a credit that runs down', async () => {
    await publish('flow_window', ...Array.from({ length: 10 }, (_, i) => `m${i}`))
    const c = await consumer('flow_window', 'ch', 2)
    const got: string[] = []
    for (let i = 0; i < 10; i++) {
      const m = await message(c)
      got.push(m.body.toString())
      const ch = d.nsqd.topics.get('flow_window')!.channels.get('ch')!
      expect(ch.inFlightCount).toBeLessThanOrEqual(2)
      c.write(commands.fin(m.id))
    }
    expect(got.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`).sort())
    c.close()
  })

  it('a topic without channels holds its messages and the first channel gets the backlog', async () => {
    await publish('flow_backlog', 'a', 'b', 'c')
    expect(d.nsqd.topics.get('flow_backlog')!.depth).toBe(3)
    const c = await consumer('flow_backlog', 'first', 3)
    const bodies: string[] = []
    for (let i = 0; i < 3; i++) bodies.push((await message(c)).body.toString())
    expect(bodies).toEqual(['a', 'b', 'c'])
    expect(d.nsqd.topics.get('flow_backlog')!.depth).toBe(0)
    c.close()
  })

  it('fans every message out to every channel', async () => {
    const a = await consumer('flow_fanout', 'a', 10)
    const b = await consumer('flow_fanout', 'b', 10)
    await publish('flow_fanout', 'x', 'y')
    for (const c of [a, b]) {
      expect([(await message(c)).body.toString(), (await message(c)).body.toString()]).toEqual(['x', 'y'])
      c.close()
    }
  })

  it('requeues a message whose msg_timeout passes, counting the timeout, with attempts incremented', async () => {
    await publish('flow_timeout', 'slow')
    const c = await consumer('flow_timeout', 'ch', 1)
    const m = await message(c)
    const again = await message(c, 3000)
    expect([again.id, again.attempts]).toEqual([m.id, 2])
    const ch = d.nsqd.topics.get('flow_timeout')!.channels.get('ch')!
    expect(ch.timeoutCount).toBe(1)
    c.write(commands.fin(again.id))
    c.write(commands.fin(m.id))
    // The second FIN of the same id is the non-fatal E_FIN_FAILED; the connection stays.
    expect(await c.expect(FrameType.Error)).toBe(`E_FIN_FAILED FIN ${m.id} failed ID not in flight`)
    c.close()
  })

  it('answers a FIN read in place as FIN\'s handler does: CRLF, another client\'s message, an unknown or odd id', async () => {
    await publish('flow_fin', 'a', 'b')
    const [c1, c2] = [await consumer('flow_fin', 'ch', 1), await consumer('flow_fin', 'ch', 1)]
    const [m1, m2] = [await message(c1), await message(c2)]
    c2.write(commands.fin(m1.id))
    expect(await c2.expect(FrameType.Error)).toBe(`E_FIN_FAILED FIN ${m1.id} failed client does not own message`)
    c2.write(`FIN ${m2.id}\r\n`)
    c1.write(`FIN ${m1.id.toUpperCase()}\n`)
    expect(await c1.expect(FrameType.Error)).toBe(`E_FIN_FAILED FIN ${m1.id.toUpperCase()} failed ID not in flight`)
    c1.write(Buffer.concat([Buffer.from('FIN '), Buffer.from(m1.id.slice(0, 15), 'latin1'), Buffer.from([0xe9, 0x0a])]))
    expect(await c1.expect(FrameType.Error)).toBe(`E_FIN_FAILED FIN ${m1.id.slice(0, 15)}\u00e9 failed ID not in flight`)
    c1.write(`FIN ${m1.id}\n`)
    const ch = d.nsqd.topics.get('flow_fin')!.channels.get('ch')!
    await waitFor(() => ch.inFlightCount === 0)
    // A space in the id: split into more params, so the id is 7 bytes long (fatal, as nsqd says).
    c1.write(`FIN ${m1.id.slice(0, 7)} ${m1.id.slice(8)}\n`)
    expect(await c1.expect(FrameType.Error)).toBe('E_INVALID invalid message ID')
    c1.close()
    c2.close()
  })

  it('answers a command named like a member of Object.prototype as any unknown one: fatal E_INVALID', async () => {
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      const c = await RawConn.open(d.tcp)
      c.write(`${name}\n`)
      expect(await c.expect(FrameType.Error)).toBe(`E_INVALID invalid command ${name}`)
      await c.waitClosed()
    }
  })

  it('TOUCH keeps a message in flight past its timeout', async () => {
    await publish('flow_touch', 'held')
    const c = await consumer('flow_touch', 'ch', 1)
    const m = await message(c)
    const ch = d.nsqd.topics.get('flow_touch')!.channels.get('ch')!
    // TOUCH has no answer, but a FIN of an id not in flight has one (the non-fatal E_FIN_FAILED) and nsqd handles a
    // connection's commands in order, so each answer says the TOUCH sent before it is done. Touching again as soon as
    // it is, for 3 timeouts' worth: a redelivery would come in place of an answer.
    const unknown = 'ffffffffffffffff'
    const started = Date.now()
    while (Date.now() - started < 900) {
      c.write(Buffer.concat([commands.touch(m.id), commands.fin(unknown)]))
      expect(await c.expect(FrameType.Error)).toBe(`E_FIN_FAILED FIN ${unknown} failed ID not in flight`)
    }
    expect(ch.timeoutCount).toBe(0)
    expect(c.pending()).toEqual([])
    c.write(commands.fin(m.id))
    c.close()
  })

  it('delivers a DPUB message only after its delay, and a REQ with delay likewise', async () => {
    const c = await consumer('flow_defer', 'ch', 5)
    const p = await RawConn.open(d.tcp)
    const sentAt = Date.now()
    p.write(commands.dpub('flow_defer', 400, 'later'))
    expect(await p.expect(FrameType.Response)).toBe('OK')
    const ch = d.nsqd.topics.get('flow_defer')!.channels.get('ch')!
    expect(ch.deferredCount).toBe(1)
    const m = await message(c)
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(390)
    expect(m.body.toString()).toBe('later')
    const reqAt = Date.now()
    c.write(commands.req(m.id, 300))
    await waitFor(() => ch.deferredCount === 1)
    const again = await message(c)
    expect(Date.now() - reqAt).toBeGreaterThanOrEqual(290)
    expect(again.attempts).toBe(2)
    expect(ch.requeueCount).toBe(1)
    c.write(commands.fin(again.id))
    p.close()
    c.close()
  })

  it('clamps a REQ delay over --max-req-timeout instead of refusing it', async () => {
    const small = await startNsqd({ maxReqTimeout: 1000 })
    try {
      const p = await RawConn.open(small.tcp)
      p.write(commands.pub('clamp', 'x'))
      await p.expect(FrameType.Response)
      const c = await RawConn.open(small.tcp)
      c.write(commands.sub('clamp', 'ch'))
      await c.expect(FrameType.Response)
      c.write(commands.rdy(1))
      const m = decodeMessage((await c.frame()).data)
      c.write(commands.req(m.id, 999999))
      c.write(commands.nop())
      const ch = small.nsqd.topics.get('clamp')!.channels.get('ch')!
      await waitFor(() => ch.deferredCount === 1)
      expect(c.isClosed).toBe(false)
      const again = decodeMessage((await c.frame(3000)).data)
      expect(again.id).toBe(m.id)
      p.close()
      c.close()
    } finally {
      await small.close()
    }
  })

  it('MPUB is all or nothing: a bad message anywhere queues none of them', async () => {
    const p = await RawConn.open(d.tcp)
    const good = commands.mpub('flow_mpub', ['a', 'b'])
    // Second message size set to 0: E_BAD_MESSAGE, and the first one must not be queued.
    const bad = Buffer.from(good)
    bad.writeUInt32BE(0, bad.length - 5)
    p.write(bad.subarray(0, bad.length - 1))
    expect(await p.expect(FrameType.Error)).toBe('E_BAD_MESSAGE MPUB invalid message(1) body size 0')
    await p.waitClosed()
    expect(d.nsqd.topics.get('flow_mpub')?.messageCount ?? 0).toBe(0)
  })

  it('answers CLS with CLOSE_WAIT, stops delivery, and still takes FIN for what is in flight', async () => {
    await publish('flow_cls', 'one', 'two')
    const c = await consumer('flow_cls', 'ch', 1)
    const m = await message(c)
    c.write(commands.CLS)
    expect(await c.expect(FrameType.Response)).toBe('CLOSE_WAIT')
    c.write(commands.rdy(10))
    c.write(commands.fin(m.id))
    const ch = d.nsqd.topics.get('flow_cls')!.channels.get('ch')!
    await waitFor(() => ch.inFlightCount === 0)
    expect(c.pending()).toEqual([])
    expect(ch.depth).toBe(1)
    c.close()
  })

  it('samples messages at the IDENTIFY sample_rate, dropping the rest for that channel', async () => {
    const c = await consumer('flow_sample', 'ch', 2500, { sample_rate: 10 })
    const p = await RawConn.open(d.tcp)
    p.write(commands.mpub('flow_sample', Array.from({ length: 1000 }, (_, i) => `s${i}`)))
    expect(await p.expect(FrameType.Response)).toBe('OK')
    const ch = d.nsqd.topics.get('flow_sample')!.channels.get('ch')!
    await waitFor(() => ch.depth === 0)
    // About 11% (rand(100) <= 10) pass; the bound is loose enough never to flake.
    expect(ch.inFlightCount).toBeGreaterThan(30)
    expect(ch.inFlightCount).toBeLessThan(250)
    p.close()
    c.close()
  })

  it('refuses a consumer over --max-channel-consumers with E_SUB_FAILED', async () => {
    const small = await startNsqd({ maxChannelConsumers: 1 })
    try {
      const a = await RawConn.open(small.tcp)
      a.write(commands.sub('limited', 'ch'))
      expect(await a.expect(FrameType.Response)).toBe('OK')
      const b = await RawConn.open(small.tcp)
      b.write(commands.sub('limited', 'ch'))
      expect(await b.expect(FrameType.Error)).toBe('E_SUB_FAILED SUB failed consumers for limited:ch exceeds limit of 1')
      await b.waitClosed()
      a.close()
    } finally {
      await small.close()
    }
  })

  it('deletes an ephemeral channel with its last client, and an ephemeral topic with its last channel', async () => {
    const c = await consumer('flow_eph#ephemeral', 'tail#ephemeral', 1)
    expect(d.nsqd.topics.get('flow_eph#ephemeral')?.channels.has('tail#ephemeral')).toBe(true)
    c.close()
    await waitFor(() => !d.nsqd.topics.has('flow_eph#ephemeral'))
  })

  it('pauses a channel: nothing is delivered until unpaused', async () => {
    const c = await consumer('flow_pause', 'ch', 5)
    const ch = d.nsqd.topics.get('flow_pause')!.channels.get('ch')!
    ch.pause()
    await publish('flow_pause', 'p')
    expect(ch.depth).toBe(1)
    c.write(commands.nop())
    expect(c.pending()).toEqual([])
    ch.unpause()
    expect((await message(c)).body.toString()).toBe('p')
    c.close()
  })

  it('records end-to-end latency at FIN when percentiles are configured', async () => {
    await publish('flow_e2e', 'x')
    const c = await consumer('flow_e2e', 'ch', 1)
    const m = await message(c)
    c.write(commands.fin(m.id))
    const ch = d.nsqd.topics.get('flow_e2e')!.channels.get('ch')!
    await waitFor(() => ch.latency!.samples().count === 1)
    c.close()
  })
})

describe('heartbeats', () => {
  it('sends _heartbeat_ every interval and keeps a client that answers with NOP', async () => {
    const c = await RawConn.open(d.tcp)
    c.write(commands.identify({ heartbeat_interval: 1000, feature_negotiation: true }))
    await c.expect(FrameType.Response)
    for (let i = 0; i < 3; i++) {
      expect(await c.expect(FrameType.Response, 2000)).toBe('_heartbeat_')
      c.write(commands.NOP)
    }
    expect(c.isClosed).toBe(false)
    c.close()
  })

  it('drops a client silent for two heartbeat intervals, publishers included', async () => {
    const c = await RawConn.open(d.tcp)
    c.write(commands.identify({ heartbeat_interval: 1000 }))
    const sentAt = Date.now()
    await c.waitClosed(4000)
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(1900)
    expect(c.closedByServer).toBe(true)
  })
})
