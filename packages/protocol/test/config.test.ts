import { describe, it, expect } from 'vitest'
import { parseConfigFile, parseDuration, resolveFlagValues } from '../src/index.js'

describe('parseDuration', () => {
  it('reads Go durations into ms', () => {
    expect(parseDuration('60s')).toBe(60_000)
    expect(parseDuration('15m')).toBe(900_000)
    expect(parseDuration('1h30m')).toBe(5_400_000)
    expect(parseDuration('250ms')).toBe(250)
    expect(parseDuration('1.5s')).toBe(1500)
    expect(parseDuration('500')).toBe(500)
    expect(parseDuration('abc')).toBeUndefined()
    expect(parseDuration('1x')).toBeUndefined()
  })
})

describe('parseConfigFile', () => {
  it('reads the TOML subset NSQ config files use', () => {
    const cfg = parseConfigFile([
      '# nsqd',
      'mem_queue_size = 5000',
      'data_path = "/var/lib/nsq" # where',
      "log_level = 'debug'",
      'snappy = false',
      'nsqlookupd_tcp_addresses = ["127.0.0.1:4160", "127.0.0.1:4260"]',
      'e2e_processing_latency_percentiles = [0.99, 0.5]',
      '',
    ].join('\n'))
    expect(cfg).toEqual({
      mem_queue_size: 5000,
      data_path: '/var/lib/nsq',
      log_level: 'debug',
      snappy: false,
      nsqlookupd_tcp_addresses: ['127.0.0.1:4160', '127.0.0.1:4260'],
      e2e_processing_latency_percentiles: [0.99, 0.5],
    })
  })

  it('keeps a __proto__ key as a plain key', () => {
    const cfg = parseConfigFile('__proto__ = ["x"]\nmem_queue_size = 1')
    expect(Object.getPrototypeOf(cfg)).toBeNull()
    expect(Object.keys(cfg)).toEqual(['__proto__', 'mem_queue_size'])
    expect(Object.getOwnPropertyDescriptor(cfg, '__proto__')?.value).toEqual(['x'])
  })

  it('names the line of a syntax error', () => {
    expect(() => parseConfigFile('a = 1\nnonsense')).toThrow(/line 2/)
  })
})

describe('resolveFlagValues', () => {
  const table = [
    { flag: 'tcp-address' },
    { flag: 'lookupd-tcp-address', cfg: 'nsqlookupd_tcp_addresses' },
    { flag: 'mem-queue-size' },
    { flag: 'log-level' },
  ]

  it('takes the command line over the config file over nothing, by cfg name or the flag with _', () => {
    const file = { tcp_address: '0.0.0.0:1', nsqlookupd_tcp_addresses: ['a:4160'], lookupd_tcp_address: 'ignored', mem_queue_size: 5 }
    expect(resolveFlagValues(table, { tcpAddress: '127.0.0.1:2', verbose: true }, file)).toEqual([
      { spec: table[0], value: '127.0.0.1:2', from: 'command line' },
      { spec: table[1], value: ['a:4160'], from: 'config file' },
      { spec: table[2], value: 5, from: 'config file' },
    ])
    expect(resolveFlagValues(table, {})).toEqual([])
  })
})
