import { describe, expect, test } from 'vitest'
import { CliError, consumerOptions, nsqBench, nsqStat, nsqTail, nsqToFile, nsqToHttp, nsqToNsq, producerOptions, toNsq } from '../src/index.js'
import type { Tool } from '../src/index.js'
import { killAll, runTool } from './helpers.js'
import { afterEach } from 'vitest'

afterEach(killAll)

function run<T> (tool: Tool<T>, args: string[]): T {
  const parsed = tool.parse(args)
  if (parsed.action !== 'run') throw new Error(`expected to run, got exit ${parsed.code}: ${parsed.output}`)
  return parsed.options
}

function refused (tool: Tool<unknown>, args: string[]): string {
  try {
    const parsed = tool.parse(args)
    if (parsed.action === 'exit' && parsed.code !== 0) return parsed.output
  } catch (err) {
    if (err instanceof CliError) return err.message
    throw err
  }
  throw new Error('expected the command line to be refused')
}

const nsqd = ['--nsqd-tcp-address', '127.0.0.1:4150']

describe('NSQ\'s flag checks, in NSQ\'s order', () => {
  test.each<[Tool<unknown>, string[], string]>([
    [toNsq, [], '--topic required'],
    [toNsq, ['--topic', 't'], '--nsqd-tcp-address required'],
    [toNsq, ['--topic', 'bad topic!', ...nsqd], '--topic "bad topic!" is not a valid topic name'],
    [nsqTail, ['--topic', 't'], '--nsqd-tcp-address or --lookupd-http-address required'],
    [nsqTail, ['--topic', 't', ...nsqd, '--lookupd-http-address', 'x:4161'], 'use --nsqd-tcp-address or --lookupd-http-address not both'],
    [nsqTail, nsqd, '--topic required'],
    [nsqTail, ['--topic', 't', '--nsqd-tcp-address', 'nohost'], '--nsqd-tcp-address: invalid address "nohost": expected host:port'],
    [nsqToHttp, nsqd, '--topic and --channel are required'],
    [nsqToHttp, ['--topic', 't', ...nsqd], '--get or --post required'],
    [nsqToHttp, ['--topic', 't', ...nsqd, '--get', 'http://a/', '--post', 'http://b/'], 'use --get or --post not both'],
    [nsqToHttp, ['--topic', 't', ...nsqd, '--get', 'http://a/'], 'invalid GET address - must be a printf string'],
    [nsqToHttp, ['--topic', 't', ...nsqd, '--post', 'http://a/', '--sample', '2'], '--sample must be between 0.0 and 1.0'],
    [nsqToHttp, ['--topic', 't', ...nsqd, '--post', 'http://a/', '--mode', 'random'], '--mode "random": expected round-robin, hostpool or epsilon-greedy'],
    [nsqToHttp, ['--topic', 't', ...nsqd, '--post', 'http://a/', '--header', 'novalue'], 'invalid header: "novalue"'],
    [nsqToNsq, nsqd, '--topic and --channel are required'],
    [nsqToNsq, ['--topic', 't', ...nsqd], '--destination-nsqd-tcp-address required'],
    [nsqToNsq, ['--topic', 't', ...nsqd, '--destination-nsqd-tcp-address', 'd:1', '--require-json-value', 'x'], '--require-json-value requires --require-json-field'],
    [nsqToFile, ['--topic', 't'], '--nsqd-tcp-address or --lookupd-http-address required'],
    [nsqToFile, nsqd, '--topic or --topic-pattern required'],
    [nsqToFile, ['--topic-pattern', 'x', ...nsqd], '--lookupd-http-address must be specified when no --topic specified'],
    [nsqToFile, ['--topic', 't', ...nsqd, '--gzip-level', '10'], 'invalid --gzip-level'],
    [nsqToFile, ['--topic', 't', ...nsqd, '--gzip', '--filename-format', '<TOPIC>.log'], 'missing <REV> in --filename-format when gzip, rotation, or work dir enabled'],
    [nsqToFile, ['--topic-pattern', '(', '--lookupd-http-address', 'l:4161'], '--topic-pattern: Invalid regular expression: /(/: Unterminated group'],
    [nsqStat, ['--topic', 't'], '--topic and --channel are required'],
    [nsqStat, ['--topic', 't', '--channel', 'c'], '--nsqd-http-address or --lookupd-http-address required'],
    [nsqStat, ['--topic', 't', '--channel', 'c', '--nsqd-http-address', 'n:4151', '--count', '0'], '--count should be positive'],
    [nsqBench, ['both'], 'mode must be writer or reader, got "both"'],
  ])('%s %j', (tool, args, message) => {
    expect(refused(tool, args)).toBe(message)
  })

  test('commander\'s own errors: missing value, bad number, unknown flag', () => {
    expect(refused(nsqTail, ['--topic'])).toMatch(/^error: option '--topic <topic>' argument missing/)
    expect(refused(nsqTail, ['--topic', 't', ...nsqd, '-n', 'x'])).toMatch(/argument 'x' is invalid\. not an integer/)
    expect(refused(nsqToFile, ['--sync-interval', 'soon'])).toMatch(/not a duration/)
    expect(refused(toNsq, ['--bogus'])).toMatch(/^error: unknown option '--bogus'/)
  })
})

describe('accepted command lines', () => {
  test('Go spellings: -flag=value, --bool=false, repeatable flags kept in order, -n and --n', () => {
    const o = run(nsqTail, ['-topic=a', '--topic', 'b', '-nsqd-tcp-address=127.0.0.1:4150', '--print-topic=false', '--n=7'])
    expect(o).toMatchObject({ topics: ['a', 'b'], nsqdTcpAddresses: ['127.0.0.1:4150'], printTopic: false, total: 7, maxInFlight: 7 })
    expect(o.channel).toMatch(/^tail\d{6}#ephemeral$/)
    expect(run(nsqTail, ['--topic', 'a', ...nsqd, '-n', '500']).maxInFlight).toBe(200)
    expect(run(nsqTail, ['--topic', 'a', ...nsqd, '-n=3']).total).toBe(3)
    expect(run(nsqToHttp, ['--topic', 'a', ...nsqd, '--post', 'http://h/', '--n', '8']).concurrency).toBe(8)
    expect(run(nsqToFile, ['--topic', 'a', ...nsqd, '-gzip=true']).file.gzipLevel).toBe(6)
  })

  test('NSQ\'s defaults', () => {
    expect(run(nsqToFile, ['--topic', 'a', ...nsqd])).toMatchObject({
      channel: 'nsq_to_file',
      maxInFlight: 200,
      syncIntervalMs: 30_000,
      file: { outputDir: '/tmp', workDir: '/tmp', filenameFormat: '<TOPIC>.<HOST><REV>.<DATETIME>.log', datetimeFormat: '%Y-%m-%d_%H', gzipLevel: undefined },
    })
    expect(run(nsqToHttp, ['--topic', 'a', ...nsqd, '--post', 'http://h/'])).toMatchObject({
      channel: 'nsq_to_http', mode: 'hostpool', concurrency: 100, contentType: 'application/octet-stream', connectTimeoutMs: 2000, requestTimeoutMs: 20_000, statusEvery: 250,
    })
    expect(run(toNsq, ['--topic', 'a', ...nsqd])).toMatchObject({ delimiter: 10, rate: 0 })
    expect(run(nsqStat, ['--topic', 'a', '--channel', 'c', '--lookupd-http-address', 'l:4161'])).toMatchObject({ intervalMs: 2000, count: undefined })
  })

  test('--help and --version exit 0 without running', () => {
    for (const tool of [toNsq, nsqTail, nsqToFile, nsqToHttp, nsqToNsq, nsqStat, nsqBench] as Array<Tool<unknown>>) {
      expect(tool.parse(['--version'])).toEqual({ action: 'exit', code: 0, output: `${tool.name} v1.3.0 (built w/nsqts)\n` })
      const help = tool.parse(['--help'])
      expect(help).toMatchObject({ action: 'exit', code: 0 })
      expect((help as { output: string }).output).toMatch(new RegExp(`^Usage: ${tool.name} `))
    }
  })
})

describe('--consumer-opt / --producer-opt: go-nsq names onto the client', () => {
  test('durations, integers, booleans, a bare name meaning true', () => {
    expect(consumerOptions(['max_in_flight,50', 'max_attempts,0', 'msg_timeout,2m', 'heartbeat_interval,5000',
      'backoff_strategy,full_jitter', 'lookupd_poll_jitter,0.5', 'snappy', 'deflate,false', 'client_id,me,with,commas'])).toEqual({
      maxInFlight: 50,
      maxAttempts: 0,
      msgTimeoutMs: 120_000,
      heartbeatIntervalMs: 5000,
      backoffStrategy: 'full-jitter',
      lookupdPollJitter: 0.5,
      snappy: true,
      deflate: false,
      clientId: 'me,with,commas',
    })
  })

  test('TLS settings become one tls object; consumer-only names are accepted and ignored by producers', () => {
    expect(consumerOptions(['tls_v1'])).toEqual({ tls: true })
    expect(consumerOptions(['tls_v1,true', 'tls_insecure_skip_verify,true', 'tls_min_version,tls1.2'])).toEqual({ tls: { rejectUnauthorized: false, minVersion: 'TLSv1.2' } })
    expect(producerOptions(['max_in_flight,5', 'dial_timeout,3s'])).toEqual({ dialTimeoutMs: 3000 })
  })

  test('unknown names, bad values and unsupported settings are refused; topology hints are ignored with a warning', () => {
    expect(() => consumerOptions(['max_inflight,5'])).toThrow('--consumer-opt "max_inflight,5": unknown option (see go-nsq Config)')
    expect(() => consumerOptions(['constructor,1'])).toThrow('--consumer-opt "constructor,1": unknown option (see go-nsq Config)')
    expect(() => consumerOptions(['tls_min_version,__proto__'])).toThrow('expected tls1.0, tls1.1, tls1.2 or tls1.3')
    expect(() => consumerOptions(['max_in_flight,lots'])).toThrow('invalid int value "lots"')
    expect(() => producerOptions(['local_addr,1.2.3.4'])).toThrow('--producer-opt "local_addr,1.2.3.4": not supported by the nsqts client')
    expect(() => consumerOptions(['tls_root_ca_file,/nonexistent/ca.pem'])).toThrow(/cannot read \/nonexistent\/ca\.pem/)
    const warnings: string[] = []
    expect(consumerOptions(['topology_zone,z1'], (w) => warnings.push(w))).toEqual({})
    expect(warnings).toEqual(['--consumer-opt topology_zone is not supported by the nsqts client and is ignored'])
  })
})

test('a bad flag from the shell: one line on stderr, exit 1, no stack trace', async () => {
  const tool = runTool('nsq_to_http', ['--topic', 't', '--nsqd-tcp-address', '127.0.0.1:4150', '--post', 'http://x/', '--consumer-opt', 'nonsense,1'])
  expect(await tool.exit()).toEqual({ code: 1, signal: null })
  expect(tool.stderr).toBe('nsq_to_http: --consumer-opt "nonsense,1": unknown option (see go-nsq Config)\n')
  const unknown = runTool('nsq_stat', ['--nope'])
  expect(await unknown.exit()).toEqual({ code: 1, signal: null })
  expect(unknown.stderr).toBe("error: unknown option '--nope'\n(add --help for additional information)\n")
})
