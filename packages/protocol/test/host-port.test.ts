import { describe, expect, it } from 'vitest'
import { AddrError, hostAndPort, joinHostPort, parsePort, splitHostPort } from '../src/index.js'

// Go's net package: these pairs and failures are what JoinHostPort and SplitHostPort do in Go 1.x.
const joined: Array<[host: string, port: string, address: string]> = [
  ['www.google.com', '80', 'www.google.com:80'],
  ['127.0.0.1', '1234', '127.0.0.1:1234'],
  ['::1', '80', '[::1]:80'],
  ['fe80::1%lo0', '80', '[fe80::1%lo0]:80'],
  ['localhost%lo0', '80', 'localhost%lo0:80'],
  ['', '0', ':0'],
  ['google.com', 'https%foo', 'google.com:https%foo'],
  ['127.0.0.1', '', '127.0.0.1:'],
]

const failures: Array<[address: string, reason: string]> = [
  ['', 'missing port in address'],
  ['www.google.com', 'missing port in address'],
  ['127.0.0.1', 'missing port in address'],
  ['[::1]', 'missing port in address'],
  ['[fe80::1%lo0]', 'missing port in address'],
  ['[localhost%lo0]', 'missing port in address'],
  ['localhost%lo0', 'missing port in address'],
  ['::1', 'too many colons in address'],
  ['fe80::1%lo0', 'too many colons in address'],
  ['fe80::1%lo0:80', 'too many colons in address'],
  ['[foo:bar]', 'missing port in address'],
  ['[foo:bar]baz', 'missing port in address'],
  ['[foo]bar:baz', 'missing port in address'],
  ['[foo]:[bar]:baz', 'too many colons in address'],
  ['[foo]:[bar]baz', "unexpected '[' in address"],
  ['foo[bar]:baz', "unexpected '[' in address"],
  ['foo]bar:baz', "unexpected ']' in address"],
  ['[foo:bar:baz', "missing ']' in address"],
]

describe('joinHostPort and splitHostPort are net.JoinHostPort and net.SplitHostPort', () => {
  it('join brackets hosts with a colon, and split undoes it', () => {
    for (const [host, port, address] of joined) {
      expect(joinHostPort(host, port)).toBe(address)
      expect(splitHostPort(address)).toEqual({ host, port })
    }
    expect(joinHostPort('::1', 4150)).toBe('[::1]:4150')
    expect(splitHostPort('[localhost%lo0]:80')).toEqual({ host: 'localhost%lo0', port: '80' })
  })

  it('split rejects what Go rejects, with its text', () => {
    for (const [address, reason] of failures) {
      expect(() => splitHostPort(address), address).toThrow(new AddrError(address, reason))
    }
  })
})

describe('hostAndPort', () => {
  it('splits as Go and reads a decimal port', () => {
    expect(hostAndPort('0.0.0.0:4160')).toEqual({ host: '0.0.0.0', port: 4160 })
    expect(hostAndPort('[::1]:0')).toEqual({ host: '::1', port: 0 })
    expect(hostAndPort(':4161')).toEqual({ host: '', port: 4161 })
    expect(() => hostAndPort('4160')).toThrow(new AddrError('4160', 'missing port in address'))
    expect(() => hostAndPort('::1:4160')).toThrow(new AddrError('::1:4160', 'too many colons in address'))
    for (const bad of ['host:http', 'host:65536', 'host:']) {
      expect(() => hostAndPort(bad), bad).toThrow(`address ${bad}: invalid port ${bad.slice(5)}`)
    }
  })
})

describe('parsePort', () => {
  it('takes decimal ports 0 to 65535 only', () => {
    expect(['0', '80', '4150', '65535', '00080'].map(parsePort)).toEqual([0, 80, 4150, 65535, 80])
    expect(['', 'abc', 'http', '65536', '99999', '123456', '-1', '+80', ' 80', '8e1', '0x50', '80.0'].map(parsePort))
      .toEqual(Array(12).fill(undefined))
  })
})
