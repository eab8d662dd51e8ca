import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { commands, decodeMessage, FrameType } from '@nsqts/protocol'
import { startNsqd, RawConn, type NsqdHandle } from '@nsqts/testkit'

let d: NsqdHandle
beforeAll(async () => { d = await startNsqd() })
afterAll(async () => { await d.close() })

describe('nsqd TCP basics', () => {
  it('delivers a published message to a subscriber, redelivers after REQ 0 with attempts 2, and takes FIN', async () => {
    const pub = await RawConn.open(d.tcp)
    pub.write(commands.pub('basic', 'hello'))
    expect(await pub.expect(FrameType.Response)).toBe('OK')
    const sub = await RawConn.open(d.tcp)
    sub.write(commands.sub('basic', 'ch'))
    expect(await sub.expect(FrameType.Response)).toBe('OK')
    sub.write(commands.rdy(1))
    const f = await sub.frame()
    expect(f.type).toBe(FrameType.Message)
    const m = decodeMessage(f.data)
    expect(m.attempts).toBe(1)
    expect(m.body.toString()).toBe('hello')
    sub.write(commands.req(m.id, 0))
    const againFrame = await sub.frame()
    if (againFrame.type !== FrameType.Message) throw new Error(againFrame.data.toString())
    const again = decodeMessage(againFrame.data)
    expect(again.id).toBe(m.id)
    expect(again.attempts).toBe(2)
    sub.write(commands.fin(m.id))
    sub.write(commands.pub('basic', 'probe'))
    expect(await sub.expect(FrameType.Response)).toBe('OK')
    const next = decodeMessage((await sub.frame()).data)
    expect(next.body.toString()).toBe('probe')
    pub.close()
    sub.close()
  })
})
