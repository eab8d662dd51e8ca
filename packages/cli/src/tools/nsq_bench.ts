import { Option } from 'commander'
import { Consumer, parseAddress } from '@nsqts/client'
import { Connection, resolveConnectionOptions } from '@nsqts/client/internal'
import { commands } from '@nsqts/protocol'
import { Histogram } from '../bench/histogram.js'
import { CliError, check, createProgram, durationOption, intOption, parse } from '../cli/program.js'
import type { Tool, ToolContext } from '../cli/run.js'
import { checkChannel, checkTcpAddresses, checkTopic, userAgent } from '../cli/sources.js'

export interface NsqBenchOptions {
  mode: 'writer' | 'reader'
  nsqdTcpAddress: string
  topic: string
  channel: string
  size: number
  batchSize: number
  runForMs: number
  concurrency: number
  window: number
  rdy: number
  /** reader: stop after this many messages (0 = only --runfor). */
  count: number
  json: boolean
}

export const nsqBench: Tool<NsqBenchOptions> = {
  name: 'nsq_bench',
  parse (args) {
    const made = createProgram('nsq_bench', 'Benchmark nsqd: publish (writer) or consume (reader) as fast as possible')
    made.program
      .argument('[mode]', 'writer or reader')
      .addOption(new Option('--nsqd-tcp-address <addr>', 'nsqd TCP address').default('127.0.0.1:4150'))
      .addOption(new Option('--topic <topic>', 'topic to publish to / read from').default('sub_bench'))
      .addOption(new Option('--channel <channel>', 'reader: channel to read from').default('ch'))
      .addOption(intOption('--size <bytes>', 'writer: size of each message', 200, 1))
      .addOption(intOption('--batch-size <n>', 'writer: messages per command (1 = PUB, more = MPUB)', 200, 1))
      .addOption(durationOption('--runfor <duration>', 'how long to run', 10_000, '10s'))
      .addOption(intOption('--concurrency <n>', 'connections (writer: publishing, reader: consumers)', 1, 1))
      .addOption(intOption('--window <n>',
        'writer: commands awaiting an answer per connection (1 = synchronous, as go-nsq Publish)', 1, 1))
      .addOption(intOption('--rdy <n>', 'reader: RDY (max in flight) per connection', 2500, 1))
      .addOption(intOption('--count <n>', 'reader: stop after this many messages (0 = after --runfor)', 0))
      .option('--json', 'print the result as one JSON line')
    return parse('nsq_bench', made, args, (o, program) => {
      const mode = program.args[0]
      if (mode === undefined) throw new CliError('a mode is required: nsq_bench writer|reader [options]')
      if (mode !== 'writer' && mode !== 'reader') {
        throw new CliError(`mode must be writer or reader, got ${JSON.stringify(mode)}`)
      }
      const options: NsqBenchOptions = {
        mode,
        nsqdTcpAddress: o.nsqdTcpAddress as string,
        topic: o.topic as string,
        channel: o.channel as string,
        size: o.size as number,
        batchSize: o.batchSize as number,
        runForMs: o.runfor as number,
        concurrency: o.concurrency as number,
        window: o.window as number,
        rdy: o.rdy as number,
        count: o.count as number,
        json: o.json === true,
      }
      check([options.runForMs <= 0, '--runfor should be positive'])
      checkTcpAddresses('--nsqd-tcp-address', [options.nsqdTcpAddress])
      checkTopic('--topic', options.topic)
      checkChannel(options.channel)
      return options
    })
  },
  main: runNsqBench,
}

export interface BenchResult {
  mode: 'writer' | 'reader'
  msgs: number
  ms: number
  msgsPerSec: number
  mbPerSec: number
  /** CPU this process used, as a share of one core over the run: near 100 means the client, not nsqd, was the limit. */
  clientCpuPercent: number
  /** writer: publish to OK per command; reader: nsqd's timestamp to handling per message. */
  latencyMs: { p50: number, p90: number, p99: number, p999: number, max: number, mean: number }
}

async function runNsqBench (options: NsqBenchOptions, { stopped, stopping }: ToolContext): Promise<number> {
  const histogram = new Histogram()
  const cpuAtStart = process.cpuUsage()
  const started = performance.now()
  const msgs = options.mode === 'writer'
    ? await writer(options, histogram, stopping)
    : await reader(options, histogram, stopped)
  const ms = performance.now() - started
  const cpu = process.cpuUsage(cpuAtStart)
  const msgsPerSec = msgs / (ms / 1000)
  const result: BenchResult = {
    mode: options.mode,
    msgs,
    ms,
    msgsPerSec,
    mbPerSec: msgsPerSec * options.size / (1024 * 1024),
    clientCpuPercent: (cpu.user + cpu.system) / 10 / ms,
    latencyMs: {
      p50: histogram.percentile(50),
      p90: histogram.percentile(90),
      p99: histogram.percentile(99),
      p999: histogram.percentile(99.9),
      max: histogram.maxMs,
      mean: histogram.meanMs,
    },
  }
  process.stdout.write(options.json ? JSON.stringify(result) + '\n' : formatResult(result))
  return 0
}

export function formatResult (r: BenchResult): string {
  const l = r.latencyMs
  const f = (ms: number): string => ms < 10 ? ms.toFixed(3) : ms.toFixed(1)
  return `${r.mode}: ${r.msgs} msgs in ${(r.ms / 1000).toFixed(3)}s - ${Math.round(r.msgsPerSec)} msgs/s - ` +
    `${r.mbPerSec.toFixed(2)} MB/s - latency ms p50 ${f(l.p50)} p90 ${f(l.p90)} p99 ${f(l.p99)} ` +
    `p99.9 ${f(l.p999)} max ${f(l.max)} - client cpu ${Math.round(r.clientCpuPercent)}%\n`
}

/**
 * Publishes until --runfor ends, keeping --window commands outstanding on each connection. Every message is the
 * same, so the PUB or MPUB command is encoded once and sent again and again, as NSQ's bench_writer writes a command
 * straight to its connection (no producer, no queue): what is measured is nsqd's answer, not the encoding of 40 KB.
 */
async function writer (options: NsqBenchOptions, histogram: Histogram, stopping: () => boolean): Promise<number> {
  const body = Buffer.alloc(options.size, 'a')
  const command = options.batchSize === 1
    ? commands.pub(options.topic, body)
    : commands.mpub(options.topic, Array.from({ length: options.batchSize }, () => body))
  const connectionOptions = resolveConnectionOptions({ userAgent: userAgent('nsq_bench') })
  const deadline = performance.now() + options.runForMs
  let acked = 0
  await Promise.all(Array.from({ length: options.concurrency }, async () => {
    let closed: (err: Error) => void = () => {}
    const conn = new Connection(parseAddress(options.nsqdTcpAddress), connectionOptions, {
      onClose: (err) => { closed(err ?? new Error('connection closed')) },
    })
    await conn.connect()
    await new Promise<void>((resolve, reject) => {
      closed = reject
      let outstanding = 0
      const send = (): void => {
        outstanding++
        const t0 = performance.now()
        conn.commandOk(command).then(() => {
          outstanding--
          acked += options.batchSize
          histogram.record(performance.now() - t0)
          pump()
        }, reject)
      }
      const pump = (): void => {
        while (!stopping() && outstanding < options.window && performance.now() < deadline) send()
        if (outstanding === 0) resolve()
      }
      pump()
    })
    conn.close()
  }))
  return acked
}

/** Reads until --count messages arrived or --runfor ends, finishing each; latency is the message's age. */
async function reader (options: NsqBenchOptions, histogram: Histogram, stopped: Promise<string>): Promise<number> {
  let received = 0
  let done: () => void = () => {}
  const finished = new Promise<void>((resolve) => { done = resolve })
  const consumers = Array.from({ length: options.concurrency }, () => new Consumer(options.topic, options.channel, {
    nsqdTcpAddresses: options.nsqdTcpAddress,
    maxInFlight: options.rdy,
    userAgent: userAgent('nsq_bench'),
  }))
  const timer = setTimeout(done, options.runForMs)
  await Promise.all(consumers.map((c) => c.handle((message) => {
    histogram.record(Date.now() - message.timestampMs)
    if (++received === options.count) done()
  })))
  await Promise.race([finished, stopped])
  clearTimeout(timer)
  await Promise.all(consumers.map((c) => c.close()))
  return options.count > 0 ? Math.min(received, options.count) : received
}
