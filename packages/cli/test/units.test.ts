import { describe, expect, test } from 'vitest'
import { Histogram, JsonFilter, LineSplitter, createHostPool, formatLine, goJson, queryEscape, strftime, topicFilenameFormat } from '../src/index.js'
import type { ChannelTotals, FileLoggerOptions } from '../src/index.js'

describe('LineSplitter', () => {
  test('lines across chunk borders, any delimiter byte, the rest at the end', () => {
    const s = new LineSplitter(0x2c)
    expect(s.push(Buffer.from('a,b')).map(String)).toEqual(['a'])
    expect(s.push(Buffer.from('c,,d')).map(String)).toEqual(['bc', ''])
    expect(s.push(Buffer.from('e')).map(String)).toEqual([])
    expect(s.end().toString()).toBe('de')
    expect(s.end().length).toBe(0)
  })
})

describe('nsq_to_nsq JSON filters', () => {
  const filter = (requireField: string, requireValue: string, whitelist: string[] = []): JsonFilter =>
    new JsonFilter({ requireField, requireValue, whitelist })
  const verdict = (f: JsonFilter, body: string): string => {
    const v = f.apply(Buffer.from(body))
    return v.kind === 'pass' ? `pass ${v.body.toString()}` : v.kind
  }

  test('without filters every body passes untouched, JSON or not', () => {
    expect(verdict(filter('', ''), 'not json')).toBe('pass not json')
  })

  test('required field and value: strings compare as text, numbers as numbers, other types never match', () => {
    expect(verdict(filter('k', ''), '{"k":null}')).toBe('pass {"k":null}')
    expect(verdict(filter('k', ''), '{"j":1}')).toBe('drop')
    expect(verdict(filter('k', '1'), '{"k":"1"}')).toBe('pass {"k":"1"}')
    expect(verdict(filter('k', '1.0'), '{"k":1}')).toBe('pass {"k":1}')
    expect(verdict(filter('k', 'true'), '{"k":true}')).toBe('drop')
    // NSQ backs off when the field whose value is required is missing.
    expect(verdict(filter('k', 'v'), '{"j":1}')).toBe('backoff')
    expect(verdict(filter('k', ''), '[1]')).toBe('drop')
    expect(verdict(filter('k', ''), 'nope')).toBe('drop')
    expect(verdict(filter('k', ''), 'null')).toBe('drop')
  })

  test('whitelisted fields are re-encoded as Go does: sorted keys, HTML characters escaped', () => {
    expect(verdict(filter('', '', ['b', '10', '2', 'missing']), '{"2":"<&>","b":{"y":1,"x":[3,{"d":1,"c":2}]},"10":0,"z":1}'))
      .toBe('pass {"10":0,"2":"\\u003c\\u0026\\u003e","b":{"x":[3,{"c":2,"d":1}],"y":1}}')
    expect(goJson('\u2028')).toBe('"\\u2028"')
  })

  test('a whitelisted field named __proto__ is kept as a field, as Go keeps any key', () => {
    expect(verdict(filter('', '', ['__proto__', 'b']), '{"__proto__":{"a":1},"b":2,"c":3}'))
      .toBe('pass {"__proto__":{"a":1},"b":2}')
  })
})

test('queryEscape is Go\'s url.QueryEscape over bytes', () => {
  expect(queryEscape(Buffer.from("a b~c-d_e.f!*'()/?&=é"))).toBe('a+b~c-d_e.f%21%2A%27%28%29%2F%3F%26%3D%C3%A9')
  expect(queryEscape(Buffer.from([0xff, 0x00]))).toBe('%FF%00')
})

test('strftime covers the conversions nsq_to_file takes and keeps unknown ones', () => {
  const t = new Date(2026, 0, 5, 7, 8, 9, 123)
  expect(strftime('%Y-%m-%d_%H', t)).toBe('2026-01-05_07')
  expect(strftime('%y%j %I%p %M:%S.%f %a %A %b %B %w %u %% %Q', t)).toBe('26005 07AM 08:09.123000 Mon Monday Jan January 1 1 % %Q')
  expect(strftime('%x %X', t)).toBe('01/05/26 07:08:09')
})

describe('nsq_to_file names', () => {
  const base: FileLoggerOptions = {
    channel: 'c',
    outputDir: '/o',
    workDir: '/o',
    filenameFormat: '<TOPIC>.<HOST><REV>.<DATETIME>.log',
    datetimeFormat: '%Y',
    hostIdentifier: '',
    gzipLevel: undefined,
    rotateSize: 0,
    rotateIntervalMs: 0,
    skipEmptyFiles: false,
    maxInFlight: 200,
  }
  test('<REV> is dropped when a time bucket has one file, kept (and required) otherwise; .gz added', () => {
    expect(topicFilenameFormat(base, 't', 'web1.example.com', 42)).toBe('t.web1.<DATETIME>.log')
    expect(topicFilenameFormat({ ...base, rotateSize: 10 }, 't', 'web1', 42)).toBe('t.web1<REV>.<DATETIME>.log')
    expect(topicFilenameFormat({ ...base, gzipLevel: 6 }, 't', 'web1', 42)).toBe('t.web1<REV>.<DATETIME>.log.gz')
    expect(topicFilenameFormat({ ...base, workDir: '/w', filenameFormat: '<TOPIC>/<PID><REV>.log.gz' }, 't', 'h', 42)).toBe('t/42<REV>.log.gz')
    expect(() => topicFilenameFormat({ ...base, rotateIntervalMs: 1000, filenameFormat: '<TOPIC>.log' }, 't')).toThrow(/missing <REV>/)
  })
  test('--host-identifier with <SHORT_HOST> and <HOSTNAME>', () => {
    expect(topicFilenameFormat({ ...base, hostIdentifier: '<SHORT_HOST>-<HOSTNAME>' }, 't', 'web1.example.com', 1)).toBe('t.web1-web1.example.com.<DATETIME>.log')
  })
})

describe('host pools', () => {
  test('round-robin cycles through the destinations', () => {
    const pool = createHostPool('round-robin', ['a', 'b', 'c'])
    expect(Array.from({ length: 4 }, () => pool.get().host)).toEqual(['a', 'b', 'c', 'a'])
  })

  test('hostpool prefers the fastest host, skips a failed one until its retry time, and revives all when all failed', () => {
    let now = 0
    const pool = createHostPool('hostpool', ['slow', 'fast'], () => 0.99, () => now)
    const use = (ok: boolean, ms: number): string => {
      const pick = pool.get()
      now += ms
      pick.done(ok)
      return pick.host
    }
    expect(use(true, 50)).toBe('slow')
    expect(use(true, 5)).toBe('fast')
    expect(use(true, 5)).toBe('fast')
    expect(use(false, 1)).toBe('fast')
    expect(use(true, 50)).toBe('slow')
    now += 30_001
    expect(pool.get().host).toBe('fast')
    expect(use(false, 1)).toBe('fast')
    expect(use(false, 1)).toBe('slow')
    expect(['slow', 'fast']).toContain(pool.get().host)
  })
})

test('nsq_stat lines: rates over the interval, memory depth, NSQ\'s column widths', () => {
  const o: ChannelTotals = {
    depth: 10, backendDepth: 4, inFlight: 0, deferred: 0, requeued: 0, timedOut: 0, messages: 100, clients: 1,
  }
  const c: ChannelTotals = {
    depth: 30, backendDepth: 4, inFlight: 7, deferred: 2, requeued: 3, timedOut: 1, messages: 150, clients: 2,
  }
  expect(formatLine(o, c, 2000)).toBe('     25      15 |      30      26       4     7     2 |       3       1          150       2\n')
})

test('latency histogram percentiles are within 2%', () => {
  const h = new Histogram()
  for (let i = 1; i <= 1000; i++) h.record(i / 10)
  expect(h.count).toBe(1000)
  expect(h.percentile(50)).toBeGreaterThanOrEqual(50)
  expect(h.percentile(50)).toBeLessThanOrEqual(51)
  expect(h.percentile(99)).toBeGreaterThanOrEqual(99)
  expect(h.percentile(99)).toBeLessThanOrEqual(101)
  expect(h.percentile(100)).toBe(100)
  expect(h.meanMs).toBeCloseTo(50.05, 6)
})
