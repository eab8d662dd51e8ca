import { describe, it, expect } from 'vitest'
import { formatGoDuration as goDuration } from '@nsqts/protocol'
import { nsToHuman, padRight, rfc3339 } from '../src/http/go-format.js'
import { parseQuery } from '../src/http/query.js'
import { goJson } from '../src/http/respond.js'

describe('Go text formats', () => {
  it('goDuration is time.Duration.String()', () => {
    const cases: Array<[bigint, string]> = [
      [0n, '0s'], [510n, '510ns'], [1000n, '1µs'], [61_803n, '61.803µs'], [750_373_753n, '750.373753ms'],
      [1_000_000_000n, '1s'], [4_073_067_602n, '4.073067602s'], [3_000_000_000n, '3s'], [60_000_000_000n, '1m0s'],
      [3_661_500_000_000n, '1h1m1.5s'], [90_000_000_000_000n, '25h0m0s'], [-1_500_000_000n, '-1.5s'],
    ]
    for (const [ns, text] of cases) expect(goDuration(ns)).toBe(text)
  })

  it('nsToHuman prints e2e latencies as the text /stats does, rounding ties to even like %.1f', () => {
    expect(nsToHuman(1880481496)).toBe('1.9s')
    expect(nsToHuman(570407587)).toBe('570.4ms')
    expect(nsToHuman(0)).toBe('0.0ns')
    expect(nsToHuman(1000)).toBe('1000.0ns')
    expect(nsToHuman(1500)).toBe('1.5us')
    expect(nsToHuman(1_250_000_000)).toBe('1.2s')
    expect(nsToHuman(1_750_000_000)).toBe('1.8s')
  })

  it('rfc3339 is in the local zone, Z for UTC', () => {
    const text = rfc3339(1795235917)
    expect(text).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$/)
    expect(new Date(text).getTime()).toBe(1795235917000)
  })

  it('padRight pads by characters and never cuts', () => {
    expect(padRight('ab', 4)).toBe('ab  ')
    expect(padRight(12345, 3)).toBe('12345')
    expect(padRight('é', 2)).toBe('é ')
  })

  it('goJson escapes what encoding/json escapes', () => {
    expect(goJson({ a: '<b>&\u2028' })).toBe('{"a":"\\u003cb\\u003e\\u0026\\u2028"}')
  })
})

describe('parseQuery is url.ParseQuery', () => {
  it('decodes + and %XX, keeps every value in order, skips empty pairs', () => {
    const q = parseQuery('a=1&&a=2&b=x+y%21&c&=v')
    expect(q && Object.fromEntries(q)).toEqual({ a: ['1', '2'], b: ['x y!'], c: [''], '': ['v'] })
  })

  it('refuses bad escapes and semicolons', () => {
    for (const raw of ['a=%zz', 'a=%2', '%g1=x', 'a=1;b=2']) expect(parseQuery(raw)).toBeUndefined()
  })

  it('decodes %-escaped UTF-8', () => {
    expect(parseQuery('t=%C3%A9')?.get('t')).toEqual(['é'])
  })
})
