import { describe, it, expect } from 'vitest'
import { startNsqd, waitFor, type NsqdHandle } from '@nsqts/testkit'
import { NSQD, type NsqdInit } from '../src/index.js'
import { listenAddress } from '../src/options.js'

describe('listener addresses', () => {
  it('are split as Go splits them, with a decimal port; an empty host is every interface', () => {
    expect(listenAddress('127.0.0.1:4150')).toEqual({ host: '127.0.0.1', port: 4150 })
    expect(listenAddress('[::1]:0')).toEqual({ host: '::1', port: 0 })
    expect(listenAddress(':4151')).toEqual({ host: '0.0.0.0', port: 4151 })
  })

  it('that nsqd cannot listen on fail the constructor, not listen()', () => {
    const cases: Array<[NsqdInit, string]> = [
      [{ tcpAddress: '127.0.0.1' }, 'address 127.0.0.1 has no port'],
      [{ tcpAddress: '127.0.0.1:abc' }, 'address 127.0.0.1:abc: invalid port abc'],
      [{ httpAddress: 'localhost:65536' }, 'address localhost:65536: invalid port 65536'],
      [{ httpAddress: '::1:4151' }, 'address ::1:4151: too many colons in address'],
      [{ httpAddress: '[::1]' }, 'address [::1]: missing port in address'],
    ]
    const messageOf = (init: NsqdInit): string | undefined => {
      try {
        void new NSQD(init)
      } catch (err) {
        return (err as Error).message
      }
      return undefined
    }
    for (const [init, message] of cases) expect(messageOf(init)).toBe(message)
    // "" turns the HTTP listener off; the HTTPS address matters only with a certificate and key.
    expect(() => new NSQD({ httpAddress: '', httpsAddress: 'nowhere' })).not.toThrow()
  })
})

describe('a lookupd address nsqd cannot dial', () => {
  it('is logged and tried again, and nsqd keeps serving', async () => {
    const errors: string[] = []
    let d: NsqdHandle | undefined
    try {
      d = await startNsqd({
        nsqlookupdTcpAddresses: ['127.0.0.1:abc'],
        logger: { debug () {}, info () {}, warn () {}, error: (m) => { errors.push(m) } },
      })
      await waitFor(() => errors.filter((e) => e === 'LOOKUPD(127.0.0.1:abc): address 127.0.0.1:abc: invalid port abc').length >= 2,
        5000, 'two logged attempts')
      expect((await fetch(`${d.httpUrl}/ping`)).status).toBe(200)
    } finally {
      await d?.close()
    }
  })
})
