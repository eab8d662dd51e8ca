import { describe, it, expect } from 'vitest'
import { nsToHuman, padRight, rfc3339 } from '../src/http/go-format.js'
import { parseQuery } from '../src/http/query.js'
import { goJson } from '../src/http/respond.js'

describe('Go text formats', () => {
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

// url.ParseQuery itself is tested with @nsqts/protocol's goParseQuery; nsqd adds reading the bytes as UTF-8.
describe('parseQuery', () => {
  it('decodes %-escaped UTF-8', () => {
    expect(parseQuery('t=%C3%A9')?.get('t')).toEqual(['é'])
  })
})
