import { describe, expect, it } from 'vitest'
import { parseCommandLine } from '../src/cli.js'
import { resolveAdminOptions, inCidr } from '../src/server/options.js'

describe('nsqadmin command line', () => {
  it("takes NSQ's flags, repeatable addresses and Go's -flag spelling", () => {
    const r = parseCommandLine(['-lookupd-http-address=a:4161', '--lookupd-http-address', 'b:4161', '--http-address=127.0.0.1:0',
      '--admin-user=alice', '--admin-user=bob', '--acl-http-header=X-User', '--base-path=/admin',
      '--notification-http-endpoint=http://n/x', '--http-client-request-timeout=3s', '--http-client-connect-timeout=500ms', '--history-interval=2s'])
    expect(r).toEqual({
      action: 'run',
      ignored: [],
      options: {
        lookupdHttpAddresses: ['a:4161', 'b:4161'],
        httpAddress: '127.0.0.1:0',
        adminUsers: ['alice', 'bob'],
        aclHttpHeader: 'X-User',
        basePath: '/admin',
        notificationHttpEndpoint: 'http://n/x',
        httpClientRequestTimeoutMs: 3000,
        httpClientConnectTimeoutMs: 500,
        historyIntervalMs: 2000,
      },
    })
  })

  it('reads a --config file; the command line wins', () => {
    const file = 'nsqlookupd_http_addresses = ["c:4161"]\nhttp_address = "0.0.0.0:9999"\n'
    const r = parseCommandLine(['--config=x.cfg', '--http-address=127.0.0.1:1'], () => file)
    expect(r).toMatchObject({ action: 'run', options: { lookupdHttpAddresses: ['c:4161'], httpAddress: '127.0.0.1:1' } })
  })

  it('accepts the Graphite flags of existing command lines and reports them as ignored', () => {
    const r = parseCommandLine(['--nsqd-http-address=n:4151', '--graphite-url=http://g', '--statsd-interval=60s'])
    expect(r).toMatchObject({ action: 'run', ignored: ['graphite-url', 'statsd-interval'] })
  })

  it('prints the version; refuses unknown flags and bad values', () => {
    expect(parseCommandLine(['--version'])).toMatchObject({ action: 'exit', code: 0, output: 'nsqadmin v1.3.0 (nsqts)\n' })
    expect(parseCommandLine(['--bogus'])).toMatchObject({ action: 'exit', code: 1 })
    expect(() => parseCommandLine(['--http-client-request-timeout=soon'])).toThrow(/http-client-request-timeout/)
  })

  it("applies NSQ's checks: one source of nodes, exactly", () => {
    expect(() => resolveAdminOptions({})).toThrow('--lookupd-http-address or --nsqd-http-address required')
    expect(() => resolveAdminOptions({ lookupdHttpAddresses: ['a'], nsqdHttpAddresses: ['b'] })).toThrow(/not both/)
    expect(resolveAdminOptions({ nsqdHttpAddresses: ['b'], basePath: 'admin' }).basePath).toBe('/admin/')
  })

  it('checks /config callers against the CIDR', () => {
    expect(inCidr('127.0.0.1', '127.0.0.1/8')).toBe(true)
    expect(inCidr('::ffff:127.3.2.1', '127.0.0.1/8')).toBe(true)
    expect(inCidr('10.0.0.1', '127.0.0.1/8')).toBe(false)
  })
})
