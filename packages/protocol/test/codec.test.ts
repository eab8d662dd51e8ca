import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import {
  FrameDecoder, FrameType, MessageIdGenerator, NsqError, decodeMessage, encodeFrame, encodeMessage, goQuote,
  isValidTopicName, isEphemeral, parseBase10, parseErrorText, ERROR_CODES, isFatalCode,
} from '../src/index.js'

describe('frames', () => {
  it('encodes an OK response exactly as nsqd does', () => {
    expect(encodeFrame(FrameType.Response, 'OK').toString('hex')).toBe('00000006000000004f4b')
  })

  it('decodes frames whole, byte by byte and at random splits', () => {
    const frames = [encodeFrame(0, 'OK'), encodeFrame(1, 'E_INVALID invalid command X'), encodeFrame(2, Buffer.alloc(300, 7))]
    const all = Buffer.concat(frames)
    const decode = (chunks: Buffer[]): Array<[number, string]> => {
      const out: Array<[number, string]> = []
      const d = new FrameDecoder((t, data) => out.push([t, data.toString('hex')]), (e) => { throw e })
      for (const c of chunks) d.push(c)
      return out
    }
    const want = decode([all])
    expect(want.map(([t]) => t)).toEqual([0, 1, 2])
    expect(decode([...all].map((b) => Buffer.from([b])))).toEqual(want)
    fc.assert(fc.property(fc.uniqueArray(fc.integer({ min: 1, max: all.length - 1 })), (cuts) => {
      const sorted = [...cuts].sort((a, b) => a - b)
      const chunks: Buffer[] = []
      let last = 0
      for (const c of sorted) { chunks.push(all.subarray(last, c)); last = c }
      chunks.push(all.subarray(last))
      expect(decode(chunks)).toEqual(want)
    }))
  })
})

describe('messages', () => {
  it('round-trips the stored form', () => {
    const buf = encodeMessage('18a2b3028d669000', 1795235928669, 1, Buffer.from('hello from capture_tcp'))
    const msg = decodeMessage(buf)
    expect(msg).toEqual({ timestamp: 1795235928669000000n, attempts: 1, id: '18a2b3028d669000', body: Buffer.from('hello from capture_tcp') })
  })

  it('makes 16-hex-char ids carrying the node id, unique and increasing even past 4096 per time unit', () => {
    const gen = new MessageIdGenerator(617, () => 1795235928669)
    const ids = Array.from({ length: 10000 }, () => gen.next())
    expect(new Set(ids).size).toBe(10000)
    expect([...ids].sort()).toEqual(ids)
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{16}$/)
    expect((parseInt(ids[0]!.slice(8), 16) >>> 12) & 0x3ff).toBe(617)
  })

  it('matches the id layout of a captured nsqd id', () => {
    // 18a2b3028d669000 was made by node 617 at 2026-11-21T04:38:48.669Z, sequence 0.
    const gen = new MessageIdGenerator(617, () => 1795235928669)
    expect(gen.next()).toBe('18a2b3028d669000')
  })

  it('writes the same ids in place, at an offset, with a clock read passed in', () => {
    const gen = new MessageIdGenerator(617, () => 1795235928669)
    const out = Buffer.alloc(20, 0x2e)
    gen.writeNext(out, 2, 1795235928669)
    expect(out.toString('latin1')).toBe('..18a2b3028d669000..')
    gen.writeNext(out, 2)
    expect(out.toString('latin1', 2, 18)).toBe('18a2b3028d669001')
  })
})

describe('names', () => {
  it('accepts NSQ names and refuses the rest', () => {
    expect(isValidTopicName('orders')).toBe(true)
    expect(isValidTopicName('a.b_c-d')).toBe(true)
    expect(isValidTopicName('audit#ephemeral')).toBe(true)
    expect(isValidTopicName('a'.repeat(64))).toBe(true)
    expect(isValidTopicName('a'.repeat(65))).toBe(false)
    expect(isValidTopicName('')).toBe(false)
    expect(isValidTopicName('bad!topic')).toBe(false)
    expect(isValidTopicName('#ephemeral')).toBe(false)
    expect(isEphemeral('x#ephemeral')).toBe(true)
  })

  it('quotes names like Go %q', () => {
    expect(goQuote('bad!topic')).toBe('"bad!topic"')
    expect(goQuote('a"b\\c\n')).toBe('"a\\"b\\\\c\\n"')
    expect(goQuote('\x01\xff')).toBe('"\\x01\\xff"')
  })
})

describe('numbers and errors', () => {
  it('parses decimals like nsqd', () => {
    expect(parseBase10('3600001')).toBe(3600001)
    expect(parseBase10('')).toBe(0)
    expect(parseBase10('-1')).toBeUndefined()
    expect(parseBase10('1a')).toBeUndefined()
    expect(parseBase10('18446744073709551617')).toBe(1)
  })

  it('splits codes into fatal and non-fatal as NSQ', () => {
    expect(ERROR_CODES.filter((c) => !isFatalCode(c))).toEqual(['E_FIN_FAILED', 'E_REQ_FAILED', 'E_TOUCH_FAILED'])
    const e = new NsqError('E_INVALID', 'invalid command BOGUS')
    expect(e.wireText).toBe('E_INVALID invalid command BOGUS')
    expect(e.fatal).toBe(true)
    expect(parseErrorText('E_FIN_FAILED FIN x failed')).toEqual({ code: 'E_FIN_FAILED', description: 'FIN x failed' })
    expect(parseErrorText('nonsense')).toBeUndefined()
  })
})
