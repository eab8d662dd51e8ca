import { connect } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { CliError, parseCommandLine } from '../src/cli.js'
import { NSQLookupd } from '../src/index.js'
import { silentLogger } from '@nsqts/protocol'

const noFile = (): string => { throw new Error('no file expected') }

describe('nsqlookupd command line', () => {
  it('takes NSQ\'s flags, with Go durations, in --flag, --flag=value and -flag forms', () => {
    expect(parseCommandLine([
      '--tcp-address', '127.0.0.1:4160', '--http-address=127.0.0.1:4161', '-broadcast-address=10.0.0.1',
      '--inactive-producer-timeout', '1m30s', '-tombstone-lifetime', '100ms', '--log-level', 'WARN', '--log-prefix', '[l] ',
      '--max-body-size', '1024', '--verbose',
    ], noFile)).toEqual({
      action: 'run',
      options: {
        tcpAddress: '127.0.0.1:4160',
        httpAddress: '127.0.0.1:4161',
        broadcastAddress: '10.0.0.1',
        inactiveProducerTimeout: 90_000,
        tombstoneLifetime: 100,
        logLevel: 'warn',
        logPrefix: '[l] ',
        maxBodySize: 1024,
      },
    })
    expect(parseCommandLine([], noFile)).toEqual({ action: 'run', options: {} })
  })

  it('prints the version and the help', () => {
    expect(parseCommandLine(['--version'], noFile)).toEqual({ action: 'exit', code: 0, output: 'nsqlookupd v1.3.0 (built w/nsqts)\n' })
    const help = parseCommandLine(['--help'], noFile)
    expect(help).toMatchObject({ action: 'exit', code: 0 })
    expect(help.action === 'exit' && help.output).toContain('--inactive-producer-timeout <value>')
    expect(help.action === 'exit' && help.output).toContain('(default 5m0s)')
  })

  it('refuses unknown flags, stray arguments and bad values', () => {
    expect(parseCommandLine(['--bogus'], noFile)).toMatchObject({ action: 'exit', code: 1 })
    expect(parseCommandLine(['extra'], noFile)).toMatchObject({ action: 'exit', code: 1 })
    expect(() => parseCommandLine(['--tombstone-lifetime', 'soon'], noFile)).toThrow(CliError)
    expect(() => parseCommandLine(['--log-level', 'loud'], noFile)).toThrow(/log-level/)
    expect(() => parseCommandLine(['--log-level', '__proto__'], noFile)).toThrow(/log-level/)
    expect(() => parseCommandLine(['--max-body-size', '1k'], noFile)).toThrow(/max-body-size/)
  })

  it('reads a --config file (keys are flag names with _), under the flags given on the command line', () => {
    const config = [
      '# nsqlookupd.cfg',
      'tcp_address = "127.0.0.1:5160"',
      "http_address = '127.0.0.1:5161'",
      'inactive_producer_timeout = "10s"',
      'tombstone_lifetime = 2500  # a number is ms',
      'log_level = "debug"',
      'unrelated_key = true',
    ].join('\n')
    const read = (path: string): string => {
      expect(path).toBe('/etc/nsqlookupd.cfg')
      return config
    }
    expect(parseCommandLine(['--config', '/etc/nsqlookupd.cfg', '--http-address', '0.0.0.0:4161'], read)).toEqual({
      action: 'run',
      options: {
        tcpAddress: '127.0.0.1:5160',
        httpAddress: '0.0.0.0:4161',
        inactiveProducerTimeout: 10_000,
        tombstoneLifetime: 2500,
        logLevel: 'debug',
      },
    })
    expect(() => parseCommandLine(['--config', 'x'], () => 'tcp_address = ')).toThrow(/config file x/)
    expect(() => parseCommandLine(['--config', 'x'], () => 'tcp_address = 4160')).toThrow(/tcp-address/)
  })
})

describe('NSQLookupd lifecycle', () => {
  let lookupd: NSQLookupd | undefined
  afterEach(async () => { await lookupd?.close() })

  it('refuses bad options in the constructor, reports real ports, and closes twice without harm', async () => {
    expect(() => new NSQLookupd({ httpAddress: 'nowhere', logger: silentLogger })).toThrow(/missing port/)
    lookupd = new NSQLookupd({ tcpAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0', logger: silentLogger })
    expect(() => lookupd?.tcpAddress).toThrow(/not listening/)
    await lookupd.start()
    expect(lookupd.tcpAddress.host).toBe('127.0.0.1')
    expect(lookupd.tcpAddress.port).toBeGreaterThan(0)
    expect(lookupd.httpAddress.port).toBeGreaterThan(0)
    await expect(lookupd.start()).rejects.toThrow(/running/)
    await lookupd.close()
    await lookupd.close()
  })

  it('shuts down fully when closed while still starting', async () => {
    const early = new NSQLookupd({ tcpAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0', logger: silentLogger })
    const starting = early.start()
    await early.close()
    await starting
    const refused = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port: early.tcpAddress.port })
      socket.once('connect', () => { socket.destroy(); resolve(false) })
      socket.once('error', () => { resolve(true) })
    })
    expect(refused).toBe(true)
    await expect(fetch(`http://127.0.0.1:${early.httpAddress.port}/ping`)).rejects.toThrow()
  })

  it('fails start() on a port in use and leaves nothing listening', async () => {
    lookupd = new NSQLookupd({ tcpAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0', logger: silentLogger })
    await lookupd.start()
    const clash = new NSQLookupd({ tcpAddress: `127.0.0.1:${lookupd.tcpAddress.port}`, httpAddress: '127.0.0.1:0', logger: silentLogger })
    await expect(clash.start()).rejects.toThrow(/EADDRINUSE/)
    await expect(fetch(`http://127.0.0.1:${clash.httpAddress.port}/ping`)).rejects.toThrow()
    await clash.close()
  })
})
