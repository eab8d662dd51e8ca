import { Option } from 'commander'
import { Consumer } from '@nsqts/client'
import type { Message } from '@nsqts/client'
import { createHostPool, parseMode } from '../cli/hostpool.js'
import type { Mode } from '../cli/hostpool.js'
import { CliError, check, createProgram, durationOption, intOption, parse, parseFloatArg, repeatable } from '../cli/program.js'
import type { Tool, ToolContext } from '../cli/run.js'
import { addConsumerFlags, buildConsumerOptions, checkChannel, checkSources, checkTopic, readConsumerFlags, stderrWarn } from '../cli/sources.js'
import type { ConsumerFlags } from '../cli/sources.js'
import { GracefulStop } from '../cli/shutdown.js'
import { TimerMetrics } from '../cli/timer-metrics.js'
import { HttpPublisher } from '../http-publisher.js'
import { VERSION } from '../version.js'

export interface NsqToHttpOptions extends ConsumerFlags {
  topic: string
  method: 'GET' | 'POST'
  addresses: string[]
  mode: Mode
  concurrency: number
  sample: number
  headers: Record<string, string>
  contentType: string
  connectTimeoutMs: number
  requestTimeoutMs: number
  statusEvery: number
}

export const nsqToHttp: Tool<NsqToHttpOptions> = {
  name: 'nsq_to_http',
  parse (args) {
    const made = createProgram('nsq_to_http', 'Consume a topic and send each message to an HTTP endpoint')
    made.program.addOption(new Option('--topic <topic>', 'nsq topic').default(''))
    addConsumerFlags(made.program, { channel: 'nsq_to_http', maxInFlight: 200 })
    made.program
      .addOption(repeatable('--post <url>', 'HTTP address to make a POST request to; data will be in the body'))
      .addOption(repeatable('--get <url>', "HTTP address to make a GET request to; '%s' will be replaced with the url-escaped data"))
      .addOption(repeatable('--header <name:value>', 'custom header for HTTP requests'))
      .addOption(new Option('--content-type <type>', 'the Content-Type used for POST requests').default('application/octet-stream'))
      .addOption(new Option('--mode <mode>', 'the upstream request mode options: round-robin, hostpool (default), epsilon-greedy').default('hostpool'))
      .addOption(intOption('-n <n>', 'number of concurrent publishers', 100, 1))
      .addOption(new Option('--sample <fraction>', '% of messages to publish (float b/w 0 -> 1)').argParser(parseFloatArg).default(1))
      .addOption(durationOption('--http-client-connect-timeout <duration>', 'timeout for HTTP connect', 2000, '2s'))
      .addOption(durationOption('--http-client-request-timeout <duration>', 'timeout for HTTP request', 20_000, '20s'))
      .addOption(intOption('--status-every <n>', 'the # of requests between logging status (per handler), 0 disables', 250))
    return parse('nsq_to_http', made, args, (o) => {
      const get = o.get as string[]
      const post = o.post as string[]
      const flags = readConsumerFlags(o)
      check([o.topic === '' || flags.channel === '', '--topic and --channel are required'])
      checkSources(flags)
      check(
        [get.length === 0 && post.length === 0, '--get or --post required'],
        [get.length > 0 && post.length > 0, 'use --get or --post not both'],
        [get.some((g) => g.split('%s').length !== 2), 'invalid GET address - must be a printf string'],
        [(o.sample as number) > 1 || (o.sample as number) < 0, '--sample must be between 0.0 and 1.0']
      )
      checkTopic('--topic', o.topic as string)
      checkChannel(flags.channel)
      for (const url of [...get, ...post]) {
        try {
          const parsed = new URL(url.replace('%s', ''))
          if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http')
        } catch {
          throw new CliError(`invalid HTTP address ${JSON.stringify(url)}`)
        }
      }
      const options: NsqToHttpOptions = {
        ...flags,
        topic: o.topic as string,
        method: get.length > 0 ? 'GET' : 'POST',
        addresses: get.length > 0 ? get : post,
        mode: parseMode(o.mode as string),
        concurrency: o.n as number,
        sample: o.sample as number,
        headers: parseHeaders(o.header as string[]),
        contentType: o.contentType as string,
        connectTimeoutMs: o.httpClientConnectTimeout as number,
        requestTimeoutMs: o.httpClientRequestTimeout as number,
        statusEvery: o.statusEvery as number,
      }
      buildConsumerOptions('nsq_to_http', options, stderrWarn('nsq_to_http'))
      return options
    })
  },
  main: runNsqToHttp,
}

/** `Name: value`, both trimmed, as nsq_to_http takes --header. */
export function parseHeaders (headers: readonly string[]): Record<string, string> {
  // No prototype: `__proto__` is a header name like any other (Go sends it), not the object's prototype.
  const out: Record<string, string> = Object.create(null) as Record<string, string>
  for (const h of headers) {
    const colon = h.indexOf(':')
    const name = colon === -1 ? '' : h.slice(0, colon).trim()
    if (name === '') throw new CliError(`invalid header: ${JSON.stringify(h)}`)
    out[name] = h.slice(colon + 1).trim()
  }
  return out
}

async function runNsqToHttp (options: NsqToHttpOptions, { log, stopped }: ToolContext): Promise<number> {
  const publisher = new HttpPublisher({
    method: options.method,
    contentType: options.contentType,
    headers: options.headers,
    connectTimeoutMs: options.connectTimeoutMs,
    requestTimeoutMs: options.requestTimeoutMs,
    concurrency: options.concurrency,
    userAgent: `nsq_to_http v${VERSION}`,
  })
  const pool = createHostPool(options.mode, options.addresses)
  const aggregate = new TimerMetrics(options.statusEvery, '[aggregate]:', log)
  // Per-destination status lines only say something new when there is more than one destination.
  const perAddress = new Map(options.addresses.map((a) => [a, new TimerMetrics(options.addresses.length > 1 ? options.statusEvery : 0, `[${a}]:`, log)]))

  const handler = async (message: Message): Promise<void> => {
    // Not sampled: finished without being sent, as NSQ does.
    if (options.sample < 1 && Math.random() > options.sample) return
    const started = performance.now()
    const pick = pool.get()
    try {
      await publisher.publish(pick.host, message.body)
    } catch (err) {
      pick.done(false)
      // Thrown, the message is requeued with backoff.
      throw new Error(`${options.method} ${pick.host}: ${(err as Error).message}`)
    }
    pick.done(true)
    aggregate.status(started)
    perAddress.get(pick.host)!.status(started)
  }

  const consumerConfig = { ...buildConsumerOptions('nsq_to_http', options, () => {}), logger: log }
  const consumer = new Consumer(options.topic, options.channel, consumerConfig)
  consumer.on('discard', (m) => { log.warn(`message ${m.id} attempted ${m.attempts} times, giving up`) })
  const graceful = new GracefulStop()
  await consumer.handle(graceful.wrap(handler), { concurrency: options.concurrency })
  await stopped
  // Waits for the requests under way; messages not handed to a request yet go back to nsqd.
  await graceful.stop([consumer])
  publisher.close()
  return 0
}
