import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import type { NSQLookupd } from '../src/index.js'
import { api, fakeNsqd, identifyCommand, NSQD_IDENTITY, startLookupd, stopAll, V1Conn } from './helpers.js'

let lookupd: NSQLookupd
beforeAll(async () => { lookupd = await startLookupd({ maxBodySize: 4096 }) })
afterAll(stopAll)

/** Sends the bytes after the magic and expects exactly one answer, then the server's close. */
async function fatal (bytes: string | Buffer, magic = true): Promise<string> {
  const conn = await V1Conn.open(lookupd.tcpAddress.port, magic)
  conn.send(bytes)
  const [answer] = await conn.waitForFrames(1)
  expect(await conn.closedWithin(2000)).toBe(true)
  expect(conn.received.length).toBe(4 + Buffer.byteLength(answer as string, 'latin1'))
  conn.destroy()
  return answer as string
}

/** The daemon still serves a well-behaved peer and HTTP. */
async function stillServing (): Promise<void> {
  const nsqd = await fakeNsqd(lookupd.tcpAddress.port)
  expect(await nsqd.request('REGISTER healthy\n')).toBe('OK')
  expect(await nsqd.request('PING\n')).toBe('OK')
  nsqd.destroy()
  expect((await api(lookupd, 'GET', '/ping')).body).toBe('OK')
}

describe('command lines', () => {
  it('trims spaces as Go\'s strings.TrimSpace, CR and Unicode spaces included', async () => {
    const conn = await V1Conn.open(lookupd.tcpAddress.port)
    expect(await conn.request('  PING \r\n')).toBe('OK')
    expect(await conn.request(Buffer.from('\tPING\u00a0\u3000\n', 'utf8'))).toBe('OK')
    conn.destroy()
  })

  it('echoes an unknown command byte for byte, an empty line included', async () => {
    expect(await fatal('\n')).toBe('E_INVALID invalid command ')
    expect(await fatal('ping\n')).toBe('E_INVALID invalid command ping')
    expect(await fatal(Buffer.from([0xff, 0x00, 0x41, 0x20, 0x42, 0x0a]))).toBe('E_INVALID invalid command \xff\x00A')
  })

  it('checks REGISTER and UNREGISTER as nsqlookupd does, in its order', async () => {
    expect(await fatal('UNREGISTER foo\n')).toBe('E_INVALID client must IDENTIFY')
    const answers = async (line: string): Promise<string> => {
      const conn = await V1Conn.open(lookupd.tcpAddress.port)
      conn.send(Buffer.concat([identifyCommand(NSQD_IDENTITY), Buffer.from(line)]))
      const frames = await conn.waitForFrames(2)
      expect(await conn.closedWithin(2000)).toBe(true)
      conn.destroy()
      return frames[1] as string
    }
    expect(await answers('UNREGISTER\n')).toBe('E_INVALID UNREGISTER insufficient number of params')
    expect(await answers('REGISTER bad!topic bad!chan\n')).toBe("E_BAD_TOPIC REGISTER topic name 'bad!topic' is not valid")
    expect(await answers('REGISTER orders bad!chan\n')).toBe("E_BAD_CHANNEL REGISTER channel name 'bad!chan' is not valid")
    expect(await answers(`UNREGISTER ${'a'.repeat(65)}\n`)).toBe(`E_BAD_TOPIC UNREGISTER topic name '${'a'.repeat(65)}' is not valid`)
  })

  it('reads a double space as an empty channel: a topic registration', async () => {
    const nsqd = await fakeNsqd(lookupd.tcpAddress.port)
    expect(await nsqd.request('REGISTER spaced  chan\n')).toBe('OK')
    expect((await api(lookupd, 'GET', '/lookup?topic=spaced')).body.channels).toEqual([])
    nsqd.destroy()
  })

  it('drops, unanswered, a peer whose line outgrows the bound', async () => {
    const conn = await V1Conn.open(lookupd.tcpAddress.port)
    conn.send('REGISTER ' + 'x'.repeat(5000))
    expect(await conn.closedWithin(2000)).toBe(true)
    expect(conn.received.length).toBe(0)
    conn.destroy()
    await stillServing()
  })
})

describe('magic', () => {
  it('refuses anything but "  V1"', async () => {
    expect(await fatal('  V2', false)).toBe('E_BAD_PROTOCOL')
    expect(await fatal('GET / HTTP/1.1\r\n\r\n', false)).toBe('E_BAD_PROTOCOL')
  })

  it('closes silently when the peer leaves before a whole magic', async () => {
    const conn = await V1Conn.open(lookupd.tcpAddress.port, false)
    conn.send('  V')
    conn.endWriting()
    expect(await conn.closedWithin(2000)).toBe(true)
    expect(conn.received.length).toBe(0)
    conn.destroy()
  })
})

describe('IDENTIFY bodies', () => {
  const identify = async (body: object | string | Buffer): Promise<string> => fatal(identifyCommand(body))

  it('requires broadcast_address, tcp_port, http_port and version', async () => {
    for (const missing of ['broadcast_address', 'tcp_port', 'http_port', 'version']) {
      const body: Record<string, unknown> = { ...NSQD_IDENTITY }
      delete body[missing]
      expect(await identify(body)).toBe('E_BAD_BODY IDENTIFY missing fields')
    }
    expect(await identify({ ...NSQD_IDENTITY, tcp_port: 0 })).toBe('E_BAD_BODY IDENTIFY missing fields')
    expect(await identify('null')).toBe('E_BAD_BODY IDENTIFY missing fields')
    expect(await identify({ ...NSQD_IDENTITY, version: null })).toBe('E_BAD_BODY IDENTIFY missing fields')
  })

  it('refuses what Go\'s JSON decoder refuses', async () => {
    for (const body of ['', 'not json', '[]', '"x"', '{"tcp_port":4150', '{} {}',
      '{"tcp_port":"4150"}', '{"tcp_port":4150.0}', '{"tcp_port":1e3}', '{"tcp_port":9223372036854775808}',
      '{"hostname":5}', '{"remote_address":true}', '{"version":["1"]}']) {
      expect(await identify(body), body).toBe('E_BAD_BODY IDENTIFY failed to decode JSON body')
    }
  })

  it('accepts what Go\'s JSON decoder accepts: any case of a key, unknown keys, negative ports, the last of a repeated key', async () => {
    const conn = await V1Conn.open(lookupd.tcpAddress.port)
    const body = '{"BROADCAST_ADDRESS":"10.0.0.1","Tcp_Port":-1,"http_port":1,"http_port":4151,"version":"1.3.0","extra":{"a":[1,"}"]},"\u212aey":1}'
    const answer = await conn.request(identifyCommand(body))
    expect(JSON.parse(answer)).toMatchObject({ version: '1.3.0' })
    expect(await conn.request('REGISTER identified_oddly\n')).toBe('OK')
    const [producer] = (await api(lookupd, 'GET', '/lookup?topic=identified_oddly')).body.producers
    expect(producer).toMatchObject({ broadcast_address: '10.0.0.1', tcp_port: -1, http_port: 4151, hostname: '' })
    conn.destroy()
  })

  it('escapes peer-supplied text as Go does when it appears in JSON answers', async () => {
    const conn = await V1Conn.open(lookupd.tcpAddress.port)
    const body = Buffer.concat([Buffer.from('{"broadcast_address":"h","tcp_port":1,"http_port":2,"version":"v","hostname":"<a&b>\\u2028\\b'),
      Buffer.from([0xe2, 0x80, 0x41]), Buffer.from('"}')])
    await conn.request(identifyCommand(body))
    await conn.request('REGISTER escaped\n')
    const raw = await (await fetch(`http://127.0.0.1:${lookupd.httpAddress.port}/lookup?topic=escaped`)).text()
    // Go writes \u0008 (not \b), escapes <, >, & and U+2028, and turns each stray byte into one U+FFFD.
    expect(raw).toContain('"hostname":"\\u003ca\\u0026b\\u003e\\u2028\\u0008\ufffd\ufffdA"')
    conn.destroy()
  })

  it('refuses a negative or oversized body size before reading any body', async () => {
    const size = (n: number): Buffer => {
      const b = Buffer.alloc(4)
      b.writeInt32BE(n)
      return Buffer.concat([Buffer.from('IDENTIFY\n'), b])
    }
    expect(await fatal(size(-1))).toBe('E_BAD_BODY IDENTIFY invalid body size -1')
    expect(await fatal(size(0x7fffffff))).toBe('E_BAD_BODY IDENTIFY invalid body size 2147483647')
    expect(await fatal(size(4097))).toBe('E_BAD_BODY IDENTIFY invalid body size 4097')
  })

  it('answers an IDENTIFY cut short by the peer closing its side, as nsqlookupd does', async () => {
    for (const [bytes, answer] of [
      ['IDENTIFY\n', 'E_BAD_BODY IDENTIFY failed to read body size'],
      ['IDENTIFY\n\x00\x00', 'E_BAD_BODY IDENTIFY failed to read body size'],
      ['IDENTIFY\n\x00\x00\x00\x10{"a"', 'E_BAD_BODY IDENTIFY failed to read body'],
    ] as const) {
      const conn = await V1Conn.open(lookupd.tcpAddress.port)
      conn.send(Buffer.from(bytes, 'latin1'))
      conn.endWriting()
      expect(await conn.waitForFrames(1)).toEqual([answer])
      expect(await conn.closedWithin(2000)).toBe(true)
      conn.destroy()
    }
  })

  it('ignores a partial line when the peer closes its side', async () => {
    const conn = await V1Conn.open(lookupd.tcpAddress.port)
    conn.send('PING')
    conn.endWriting()
    expect(await conn.closedWithin(2000)).toBe(true)
    expect(conn.received.length).toBe(0)
    conn.destroy()
  })
})

describe('never crashing', () => {
  it('survives peers vanishing mid-body, mid-line and mid-magic', async () => {
    const cuts = ['  ', '  V1IDENT', '  V1IDENTIFY\n\x00\x00', '  V1IDENTIFY\n\x00\x00\x00\x40{"broad', '  V1REGISTER foo']
    await Promise.all(cuts.map(async (bytes) => {
      const conn = await V1Conn.open(lookupd.tcpAddress.port, false)
      conn.send(Buffer.from(bytes, 'latin1'))
      await new Promise((resolve) => setImmediate(resolve))
      conn.destroy()
    }))
    await stillServing()
  })

  it('survives random bytes on many connections, then serves a good peer', async () => {
    const input = fc.uint8Array({ minLength: 1, maxLength: 300 })
    await fc.assert(fc.asyncProperty(input, fc.boolean(), async (bytes, magic) => {
      const conn = await V1Conn.open(lookupd.tcpAddress.port, magic)
      conn.send(Buffer.from(bytes))
      conn.endWriting()
      expect(await conn.closedWithin(2000)).toBe(true)
      conn.destroy()
    }), { numRuns: 60 })
    await stillServing()
    expect(lookupd.db.count('topic')).toBeGreaterThan(0)
  })
})
