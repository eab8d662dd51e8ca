import { describe, expect, it } from 'vitest'
import { formatGoDuration, goCleanPath, goJson, goParseQuery } from '../src/index.js'

describe('formatGoDuration is time.Duration.String()', () => {
  it('formats bigint nanoseconds', () => {
    const cases: Array<[bigint, string]> = [
      [0n, '0s'], [510n, '510ns'], [1000n, '1µs'], [61_803n, '61.803µs'], [750_373_753n, '750.373753ms'],
      [1_000_000_000n, '1s'], [4_073_067_602n, '4.073067602s'], [3_000_000_000n, '3s'], [60_000_000_000n, '1m0s'],
      [3_661_500_000_000n, '1h1m1.5s'], [90_000_000_000_000n, '25h0m0s'], [-1_500_000_000n, '-1.5s'],
    ]
    for (const [ns, text] of cases) expect(formatGoDuration(ns)).toBe(text)
  })

  it('formats number nanoseconds', () => {
    expect(formatGoDuration(0)).toBe('0s')
    expect(formatGoDuration(791)).toBe('791ns')
    expect(formatGoDuration(15_213)).toBe('15.213µs')
    expect(formatGoDuration(1_500_000)).toBe('1.5ms')
    expect(formatGoDuration(15_000_183_845)).toBe('15.000183845s')
    expect(formatGoDuration(3_600e9)).toBe('1h0m0s')
    expect(formatGoDuration(300e9)).toBe('5m0s')
    expect(formatGoDuration(-45e9)).toBe('-45s')
  })
})

describe('goJson is Go 1.19\'s json.Marshal', () => {
  it('writes int64 beyond 2^53, HTML-safe escapes, \\u00XX controls and U+FFFD for lone surrogates', () => {
    expect(goJson({ b: [1, 2n ** 63n - 1n, true, null], a: '<&>\u2028\b\f\n\ud800' }))
      .toBe('{"b":[1,9223372036854775807,true,null],"a":"\\u003c\\u0026\\u003e\\u2028\\u0008\\u000c\\n\ufffd"}')
  })
})

describe('goParseQuery is url.ParseQuery', () => {
  it('decodes + and %XX, keeps every value in order, skips empty pairs', () => {
    const q = goParseQuery('a=1&&a=2&b=x+y%21&c&=v')
    expect(q && Object.fromEntries(q)).toEqual({ a: ['1', '2'], b: ['x y!'], c: [''], '': ['v'] })
    const r = goParseQuery('a=1&a=2&b&&c=x+y%21')
    expect(r && Object.fromEntries(r)).toEqual({ a: ['1', '2'], b: [''], c: ['x y!'] })
    expect(goParseQuery('b')?.get('b')).toEqual([''])
    expect(goParseQuery('c=x+y%21')?.get('c')).toEqual(['x y!'])
  })

  it('refuses bad escapes and semicolons', () => {
    for (const raw of ['a=%zz', 'a=%2', '%g1=x', 'a=1;b=2', 'a=%']) expect(goParseQuery(raw), raw).toBeUndefined()
  })
})

describe('goCleanPath is httprouter\'s CleanPath', () => {
  it('resolves . and .., collapses slashes, keeps a trailing slash and always starts with /', () => {
    expect(goCleanPath('')).toBe('/')
    expect(goCleanPath('//a/./b/../c/')).toBe('/a/c/')
    expect(goCleanPath('/..')).toBe('/')
  })
})
