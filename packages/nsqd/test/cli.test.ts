import { describe, it, expect } from 'vitest'
import { CliError, parseCommandLine, type CliRequest } from '../src/cli.js'
import { TlsRequired } from '../src/tcp/tls.js'

const noFile = (path: string): string => { throw new Error(`open ${path}: no such file or directory`) }

function options (args: string[], readFile = noFile): Record<string, unknown> {
  const request = parseCommandLine(args, readFile)
  if (request.action !== 'run') throw new Error(`expected run, got exit ${request.code}: ${request.output}`)
  return request.options
}

function exit (args: string[]): Extract<CliRequest, { action: 'exit' }> {
  const request = parseCommandLine(args, noFile)
  if (request.action !== 'exit') throw new Error('expected exit')
  return request
}

function errorOf (args: string[], readFile = noFile): string {
  try {
    parseCommandLine(args, readFile)
  } catch (err) {
    expect(err).toBeInstanceOf(CliError)
    return (err as Error).message
  }
  throw new Error('expected an error')
}

describe('nsqd command line', () => {
  it('gives only the flags that were set, converted to the option types', () => {
    expect(options([])).toEqual({})
    expect(options(['--tcp-address', '127.0.0.1:4250', '--mem-queue-size=0', '--msg-timeout', '1m30s', '--durable'])).toEqual({
      tcpAddress: '127.0.0.1:4250', memQueueSize: 0, msgTimeout: 90_000, durable: true,
    })
  })

  it("takes Go's -flag spelling, bool values and repeated or comma-separated lists", () => {
    expect(options(['-http-address=', '-snappy=false', '-deflate', 'true', '-lookupd-tcp-address', 'a:4160',
      '--lookupd-tcp-address=b:4160', '-e2e-processing-latency-percentile', '0.99,0.5', '--e2e-processing-latency-percentile=1',
    ])).toEqual({
      httpAddress: '',
      snappy: false,
      deflate: true,
      nsqlookupdTcpAddresses: ['a:4160', 'b:4160'],
      e2eProcessingLatencyPercentiles: [0.99, 0.5, 1],
    })
    expect(options(['--tls-required', 'tcp-https', '--tls-min-version=tls1.3', '--log-level', 'WARN'])).toMatchObject({
      tlsRequired: TlsRequired.ExceptHttp, logLevel: 'warn',
    })
  })

  it('reads --config, and a flag on the command line wins over the file', () => {
    const file = 'mem_queue_size = 5\nnsqlookupd_tcp_addresses = ["x:4160", "y:4160"]\nid = 7\nmsg_timeout = "2s"\n'
    const read = (path: string): string => { expect(path).toBe('/etc/nsqd.cfg'); return file }
    expect(options(['--config', '/etc/nsqd.cfg', '--mem-queue-size', '9'], read)).toEqual({
      memQueueSize: 9, nsqlookupdTcpAddresses: ['x:4160', 'y:4160'], nodeId: 7, msgTimeout: 2000,
    })
  })

  it('answers --help and --version without starting', () => {
    const help = exit(['--help'])
    expect(help.code).toBe(0)
    expect(help.output).toContain('--mem-queue-size <value>')
    expect(exit(['-version'])).toMatchObject({ code: 0, output: expect.stringMatching(/^nsqd v\d+\.\d+\.\d+ \(built w\/nsqts, node v/) })
  })

  it('refuses unknown flags, stray arguments and bad values', () => {
    expect(exit(['--no-such-flag'])).toMatchObject({ code: 1, output: expect.stringContaining("unknown option '--no-such-flag'") })
    expect(exit(['stray'])).toMatchObject({ code: 1 })
    expect(errorOf(['--mem-queue-size', 'many'])).toBe('invalid value "many" for flag --mem-queue-size: parse error')
    expect(errorOf(['--msg-timeout=soon'])).toBe('invalid value "soon" for flag --msg-timeout: invalid duration')
    expect(errorOf(['--snappy=maybe'])).toBe('invalid boolean value "maybe" for flag --snappy')
    expect(errorOf(['--log-level', 'loud'])).toBe('invalid log level loud')
    expect(errorOf(['--log-level', 'constructor'])).toBe('invalid log level constructor')
    expect(errorOf(['--config', '/missing.cfg'])).toBe('open /missing.cfg: no such file or directory')
    expect(errorOf(['--e2e-processing-latency-percentile', 'x'])).toBe('invalid value "x" for flag --e2e-processing-latency-percentile')
  })
})
