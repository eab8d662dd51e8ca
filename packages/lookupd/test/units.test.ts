import { describe, expect, it } from 'vitest'
import {
  decodeIdentifyBody, goDecodeUtf8, goTrimSpace, parseQuery, parseRequestTarget, RegistrationDB,
  resolveLookupdOptions,
} from '../src/internal.js'
import { defaultLookupdOptions } from '../src/index.js'

const latin1 = (s: string): string => Buffer.from(s, 'utf8').toString('latin1')

describe('Go text rules', () => {
  it('trims like strings.TrimSpace over UTF-8 bytes', () => {
    expect(goTrimSpace(' \t\r\nPING \v\f')).toBe('PING')
    expect(goTrimSpace(latin1('\u00a0\u2003PING\u3000\u0085'))).toBe('PING')
    // A lone continuation byte is not a space, nor is a truncated sequence.
    expect(goTrimSpace('PING\xa0')).toBe('PING\xa0')
    expect(goTrimSpace('\xe2\x80PING')).toBe('\xe2\x80PING')
    expect(goTrimSpace('   ')).toBe('')
  })

  it('decodes UTF-8 with one U+FFFD per bad byte, as Go', () => {
    expect(goDecodeUtf8(Buffer.from([0x61, 0xe2, 0x80, 0x62]))).toBe('a\ufffd\ufffdb')
    expect(goDecodeUtf8(Buffer.from([0xed, 0xa0, 0x80]))).toBe('\ufffd\ufffd\ufffd')
    expect(goDecodeUtf8(Buffer.from('héllo €𝄞', 'utf8'))).toBe('héllo €𝄞')
  })
})

describe('IDENTIFY body decoding', () => {
  it('fills the fields Go fills and refuses what Go refuses', () => {
    const decode = (text: string): unknown => decodeIdentifyBody(Buffer.from(text))
    expect(decode('{"broadcast_address":"b","hostname":"h","tcp_port":1,"http_port":-0,"version":"v","remote_address":"x"}'))
      .toEqual({ broadcastAddress: 'b', hostname: 'h', tcpPort: 1n, httpPort: 0n, version: 'v' })
    expect(decode(' null ')).toEqual({ broadcastAddress: '', hostname: '', tcpPort: 0n, httpPort: 0n, version: '' })
    expect(decode('{"tcp_port":9223372036854775807}')).toMatchObject({ tcpPort: 9223372036854775807n })
    expect(decode('{"Ho\u017ftname":"long s","constructor":1,"__proto__":{}}')).toMatchObject({ hostname: 'long s' })
    const nested = (depth: number): string => '{"x":' + '['.repeat(depth - 1) + ']'.repeat(depth - 1) + ',"tcp_port":7}'
    expect(decode(nested(10_000))).toMatchObject({ tcpPort: 7n })
    expect(decode(nested(10_001))).toBeUndefined()
    for (const bad of ['{"tcp_port":-9223372036854775809}', '{"tcp_port":1.5}', '{"tcp_port":-1e2}', '{"hostname":{}}', 'true', '']) {
      expect(decode(bad), bad).toBeUndefined()
    }
  })
})

describe('request URLs', () => {
  it('splits and decodes targets as Go\'s server', () => {
    expect(parseRequestTarget('/a%2Fb?x=%zz')).toEqual({ path: '/a/b', rawQuery: 'x=%zz', forceQuery: false })
    expect(parseRequestTarget('/ping?')).toEqual({ path: '/ping', rawQuery: '', forceQuery: true })
    expect(parseRequestTarget('http://host:4161/ping?x')).toEqual({ path: '/ping', rawQuery: 'x', forceQuery: false })
    expect(parseRequestTarget('/%g0')).toBeUndefined()
    expect(parseRequestTarget('ping')).toBeUndefined()
  })

  // url.ParseQuery itself is tested with @nsqts/protocol's goParseQuery; nsqlookupd adds ReqParams.Get on top.
  it('parses queries as url.ParseQuery, get() answering the first value', () => {
    expect(parseQuery('a=1&a=2&b&&c=x+y%21')?.get('a')).toBe('1')
    expect(parseQuery('b')?.get('b')).toBe('')
    expect(parseQuery('b')?.get('missing')).toBeUndefined()
    expect(parseQuery('a=1;b=2')).toBeUndefined()
  })
})

describe('options', () => {
  it('has NSQ\'s defaults and checks every value', () => {
    expect(defaultLookupdOptions).toMatchObject({
      tcpAddress: '0.0.0.0:4160',
      httpAddress: '0.0.0.0:4161',
      inactiveProducerTimeout: 300_000,
      tombstoneLifetime: 45_000,
      logLevel: 'info',
      logPrefix: '[nsqlookupd] ',
      maxBodySize: 5 * 1024 * 1024,
    })
    expect(resolveLookupdOptions({ tombstoneLifetime: 5, tcpAddress: undefined })).toMatchObject({ tombstoneLifetime: 5, tcpAddress: '0.0.0.0:4160' })
    expect(() => resolveLookupdOptions({ tcpAddress: 'nope' })).toThrow(/missing port/)
    expect(() => resolveLookupdOptions({ inactiveProducerTimeout: Number.NaN })).toThrow()
    expect(() => resolveLookupdOptions({ maxBodySize: 0 })).toThrow()
    expect(() => resolveLookupdOptions({ logLevel: 'loud' as never })).toThrow()
  })
})

describe('RegistrationDB', () => {
  const peer = (id: string) => ({ id, remoteAddress: id, hostname: 'h', broadcastAddress: 'b', tcpPort: 1n, httpPort: 2n, version: 'v', lastUpdate: 0 })

  it('finds with * wildcards, dedupes producers by peer and forgets a peer\'s registrations', () => {
    const db = new RegistrationDB()
    const a = peer('a:1')
    const b = peer('b:1')
    expect(db.addProducer('topic', 't1', '', a)).toBe(true)
    expect(db.addProducer('topic', 't1', '', a)).toBe(false)
    db.addProducer('topic', 't2', '', a)
    db.addProducer('topic', 't2', '', b)
    db.addProducer('channel', 't1', 'c', a)
    expect(db.findRegistrations('topic', '*', '').map((r) => r.key)).toEqual(['t1', 't2'])
    expect(db.findRegistrations('channel', 't1', '*').map((r) => r.subKey)).toEqual(['c'])
    expect(db.findProducers('topic', '*', '').map((p) => p.peer.id)).toEqual(['a:1', 'b:1'])
    expect(db.lookupRegistrations('a:1')).toHaveLength(3)
    expect(db.count('topic')).toBe(2)

    const t2 = db.get('topic', 't2', '')
    if (t2 === undefined) throw new Error('t2 missing')
    db.removeRegistration(t2)
    expect(db.lookupRegistrations('a:1')).toHaveLength(2)
    expect(db.lookupRegistrations('b:1')).toEqual([])
    expect(db.findRegistrations('topic', 't2', '')).toEqual([])
  })
})
