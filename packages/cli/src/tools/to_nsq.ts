import { Option } from 'commander'
import { Producer } from '@nsqts/client'
import { producerOptions } from '../cli/go-nsq-options.js'
import { check, createProgram, intOption, parse, repeatable } from '../cli/program.js'
import type { Tool, ToolContext } from '../cli/run.js'
import { checkTcpAddresses, checkTopic, stderrWarn, userAgent } from '../cli/sources.js'
import { LineSplitter } from '../lines.js'

export interface ToNsqOptions {
  topic: string
  nsqdTcpAddresses: string[]
  delimiter: number
  rate: number
  producerOpts: string[]
}

const STOP = Symbol('stop')

/** Publishes waiting for nsqd's answer per connection; reading stdin pauses beyond this. */
const WINDOW = 1024

export const toNsq: Tool<ToNsqOptions> = {
  name: 'to_nsq',
  parse (args) {
    const made = createProgram('to_nsq', 'Publish each line of stdin to a topic on every given nsqd')
    made.program
      .addOption(new Option('--topic <topic>', 'NSQ topic to publish to').default(''))
      .addOption(new Option('--delimiter <char>', 'character to split input from stdin').default('\n', '"\\n"'))
      .addOption(repeatable('--nsqd-tcp-address <addr>', 'destination nsqd TCP address'))
      .addOption(repeatable('--producer-opt <name,value>', 'option to passthrough to the producer (go-nsq Config names)'))
      .addOption(intOption('--rate <n>', 'throttle messages to n/second; 0 to disable', 0))
    return parse('to_nsq', made, args, (o) => {
      const options: ToNsqOptions = {
        topic: o.topic as string,
        nsqdTcpAddresses: o.nsqdTcpAddress as string[],
        delimiter: Buffer.from(o.delimiter as string)[0] ?? -1,
        rate: o.rate as number,
        producerOpts: o.producerOpt as string[],
      }
      check(
        [options.topic === '', '--topic required'],
        [options.nsqdTcpAddresses.length === 0, '--nsqd-tcp-address required'],
        [options.delimiter === -1, '--delimiter must not be empty']
      )
      checkTopic('--topic', options.topic)
      checkTcpAddresses('--nsqd-tcp-address', options.nsqdTcpAddresses)
      producerOptions(options.producerOpts, stderrWarn('to_nsq'))
      return options
    })
  },
  main: runToNsq,
}

/** One destination: its producer and the publishes it has not answered yet. */
class Destination {
  outstanding = 0
  private wake: (() => void) | undefined
  constructor (readonly producer: Producer) {}

  /** Resolves once the window has room again. */
  room (): Promise<void> {
    return new Promise((resolve) => { this.wake = resolve })
  }

  settled (): void {
    this.outstanding--
    if (this.wake !== undefined && this.outstanding < WINDOW / 2) {
      const wake = this.wake
      this.wake = undefined
      wake()
    }
  }
}

async function runToNsq (options: ToNsqOptions, { log, stopped, stopping }: ToolContext): Promise<number> {
  const clientOptions = { userAgent: userAgent('to_nsq'), ...producerOptions(options.producerOpts), logger: log }
  // NSQ's to_nsq publishes every line to every nsqd given (replication, not balancing).
  const destinations = options.nsqdTcpAddresses.map((a) => new Destination(new Producer(a, clientOptions)))
  // Set by a publish callback, read by the loop below.
  const state: { failure: Error | undefined } = { failure: undefined }
  const stop = stopped.then(() => STOP)

  const intervalMs = options.rate > 0 ? 1000 / options.rate : 0
  let nextAt = performance.now()

  const publish = async (line: Buffer): Promise<void> => {
    if (intervalMs > 0) {
      const wait = nextAt - performance.now()
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
      nextAt = Math.max(nextAt, performance.now() - intervalMs) + intervalMs
    }
    for (const d of destinations) {
      if (d.outstanding >= WINDOW) await d.room()
      d.outstanding++
      d.producer.publish(options.topic, line).then(() => { d.settled() }, (err: Error) => {
        d.settled()
        state.failure ??= err
      })
    }
  }

  const splitter = new LineSplitter(options.delimiter)
  const input = process.stdin[Symbol.asyncIterator]()
  try {
    while (state.failure === undefined && !stopping()) {
      const next = await Promise.race([input.next(), stop])
      if (typeof next === 'symbol' || next.done === true) break
      for (const line of splitter.push(next.value as Buffer)) {
        if (line.length > 0) await publish(line)
        if (state.failure !== undefined || stopping()) break
      }
    }
    const rest = splitter.end()
    if (state.failure === undefined && !stopping() && rest.length > 0) await publish(rest)
  } finally {
    // close() waits for every publish made to be answered.
    await Promise.all(destinations.map((d) => d.producer.close()))
  }
  if (state.failure !== undefined) {
    log.error(`failed to publish: ${state.failure.message}`)
    return 1
  }
  return 0
}
