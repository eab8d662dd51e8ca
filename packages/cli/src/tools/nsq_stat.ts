import { Option } from 'commander'
import { HttpError, LookupdHttpClient, NsqdHttpClient, lookupTopicProducers } from '@nsqts/client'
import { joinHostPort } from '@nsqts/protocol'
import { check, createProgram, durationOption, parse, parseIntArg, repeatable } from '../cli/program.js'
import type { Tool, ToolContext } from '../cli/run.js'
import { bearerTokenOption, checkHttpAddress } from '../cli/sources.js'

export interface NsqStatOptions {
  topic: string
  channel: string
  nsqdHttpAddresses: string[]
  lookupdHttpAddresses: string[]
  intervalMs: number
  /** Data lines to print before exiting; undefined = until stopped. */
  count: number | undefined
  connectTimeoutMs: number
  requestTimeoutMs: number
  httpBearerToken: string
}

export const nsqStat: Tool<NsqStatOptions> = {
  name: 'nsq_stat',
  parse (args) {
    const made = createProgram('nsq_stat', 'Poll the stats of one channel over every nsqd that has it, and print rates and depths')
    made.program
      .addOption(new Option('--topic <topic>', 'NSQ topic').default(''))
      .addOption(new Option('--channel <channel>', 'NSQ channel').default(''))
      .addOption(repeatable('--nsqd-http-address <addr>', 'nsqd HTTP address'))
      .addOption(repeatable('--lookupd-http-address <addr>', 'lookupd HTTP address'))
      .addOption(durationOption('--interval <duration>', 'duration of time between polling/printing output', 2000, '2s'))
      .addOption(new Option('--count <n>', 'number of reports').argParser(parseIntArg(Number.MIN_SAFE_INTEGER)))
      .addOption(durationOption('--http-client-connect-timeout <duration>', 'timeout for HTTP connect', 2000, '2s'))
      .addOption(durationOption('--http-client-request-timeout <duration>', 'timeout for HTTP request', 5000, '5s'))
      .addOption(bearerTokenOption())
    return parse('nsq_stat', made, args, (o) => {
      const options: NsqStatOptions = {
        topic: o.topic as string,
        channel: o.channel as string,
        nsqdHttpAddresses: o.nsqdHttpAddress as string[],
        lookupdHttpAddresses: o.lookupdHttpAddress as string[],
        intervalMs: o.interval as number,
        count: o.count as number | undefined,
        connectTimeoutMs: o.httpClientConnectTimeout as number,
        requestTimeoutMs: o.httpClientRequestTimeout as number,
        httpBearerToken: o.httpBearerToken as string,
      }
      check(
        [options.topic === '' || options.channel === '', '--topic and --channel are required'],
        [options.intervalMs <= 0, '--interval should be positive'],
        [options.connectTimeoutMs <= 0, '--http-client-connect-timeout should be positive'],
        [options.requestTimeoutMs <= 0, '--http-client-request-timeout should be positive'],
        [options.count !== undefined && options.count <= 0, '--count should be positive'],
        [options.nsqdHttpAddresses.length === 0 && options.lookupdHttpAddresses.length === 0, '--nsqd-http-address or --lookupd-http-address required'],
        [options.nsqdHttpAddresses.length > 0 && options.lookupdHttpAddresses.length > 0, 'use --nsqd-http-address or --lookupd-http-address not both']
      )
      for (const a of options.nsqdHttpAddresses) checkHttpAddress('--nsqd-http-address', a)
      for (const a of options.lookupdHttpAddresses) checkHttpAddress('--lookupd-http-address', a)
      return options
    })
  },
  main: runNsqStat,
}

/** One channel's numbers summed over every nsqd that has it. */
export interface ChannelTotals {
  depth: number
  backendDepth: number
  inFlight: number
  deferred: number
  requeued: number
  timedOut: number
  messages: number
  clients: number
}

const HEADER = '------rate------+----------------depth----------------+--------------metadata---------------\n' +
  `${cols(['ingress', 'egress'], [7, 7])} | ${cols(['total', 'mem', 'disk', 'inflt', 'def'], [7, 7, 7, 5, 5])} | ` +
  `${cols(['req', 't-o', 'msgs', 'clients'], [7, 7, 12, 7])}\n`

const STOP = Symbol('stop')

/** NSQ prints the header again every this many polls. */
const HEADER_EVERY = 25

async function runNsqStat (options: NsqStatOptions, { stopped, stopping }: ToolContext): Promise<number> {
  // The client's HTTP helpers have one timeout for the whole request; it must allow for the connect as well.
  const http = {
    timeoutMs: Math.max(options.requestTimeoutMs, options.connectTimeoutMs),
    bearerToken: options.httpBearerToken,
  }
  const lookupds = options.lookupdHttpAddresses.map((a) => new LookupdHttpClient(a, http))
  const nsqds = new Map<string, NsqdHttpClient>()
  const nsqd = (address: string): NsqdHttpClient => {
    let client = nsqds.get(address)
    if (client === undefined) nsqds.set(address, client = new NsqdHttpClient(address, http))
    return client
  }
  const stop = stopped.then(() => STOP)

  let previous: ChannelTotals | undefined
  // NSQ's loop: the first poll only sets the baseline, each later one prints the rates since the one before.
  for (let i = 0; !stopping() && (options.count === undefined || i <= options.count); i++) {
    const addresses = lookupds.length > 0 ? await lookupProducers(lookupds, options.topic) : options.nsqdHttpAddresses
    const current = await channelTotals(addresses.map(nsqd), options.topic, options.channel)
    if (i % HEADER_EVERY === 0) process.stdout.write(HEADER)
    if (previous !== undefined) process.stdout.write(formatLine(previous, current, options.intervalMs))
    previous = current
    if (options.count !== undefined && i === options.count) break
    let timer: NodeJS.Timeout | undefined
    const interval = new Promise((resolve) => { timer = setTimeout(resolve, options.intervalMs) })
    const slept = await Promise.race([interval, stop])
    clearTimeout(timer)
    if (typeof slept === 'symbol') break
  }
  return 0
}

/** The nsqd HTTP addresses that lookupd lists for the topic, from every lookupd. */
async function lookupProducers (lookupds: readonly LookupdHttpClient[], topic: string): Promise<string[]> {
  const { producers, failures } = await lookupTopicProducers(lookupds, topic)
  const found = new Set(producers.map((p) => joinHostPort(p.broadcast_address, p.http_port)))
  const lastError = failures.at(-1)?.error as Error | undefined
  if (found.size === 0 && lastError !== undefined) {
    if (lastError instanceof HttpError && lastError.status === 404) throw new Error(`topic ${topic} not found on any lookupd`)
    throw new Error(`failed to get topic producers - ${lastError.message}`)
  }
  return [...found]
}

export async function channelTotals (
  nsqds: readonly NsqdHttpClient[], topic: string, channel: string,
): Promise<ChannelTotals> {
  const stats = await Promise.all(nsqds.map(async (n) => {
    try {
      return await n.stats({ topic, channel, includeClients: false, includeMem: false })
    } catch (err) {
      throw new Error(`failed to get nsqd stats - ${(err as Error).message}`)
    }
  }))
  const totals: ChannelTotals = {
    depth: 0, backendDepth: 0, inFlight: 0, deferred: 0, requeued: 0, timedOut: 0, messages: 0, clients: 0,
  }
  let found = false
  for (const s of stats) {
    for (const t of s.topics ?? []) {
      if (t.topic_name !== topic) continue
      for (const c of t.channels) {
        if (c.channel_name !== channel) continue
        found = true
        totals.depth += c.depth
        totals.backendDepth += c.backend_depth
        totals.inFlight += c.in_flight_count
        totals.deferred += c.deferred_count
        totals.requeued += c.requeue_count
        totals.timedOut += c.timeout_count
        totals.messages += c.message_count
        totals.clients += c.client_count
      }
    }
  }
  if (!found) throw new Error(`failed to find channel(${channel}) in stats metadata for topic(${topic})`)
  return totals
}

/**
 * One data line. ingress: messages that reached the channel per second; egress: those that left it (received minus
 * growth of the depth). Rates are truncated to integers, over the configured interval as NSQ computes them.
 */
export function formatLine (o: ChannelTotals, c: ChannelTotals, intervalMs: number): string {
  const seconds = intervalMs / 1000
  const ingress = Math.trunc((c.messages - o.messages) / seconds)
  const egress = Math.trunc((c.messages - o.messages - (c.depth - o.depth)) / seconds)
  return `${cols([ingress, egress], [7, 7])} | ` +
    `${cols([c.depth, c.depth - c.backendDepth, c.backendDepth, c.inFlight, c.deferred], [7, 7, 7, 5, 5])} | ` +
    `${cols([c.requeued, c.timedOut, c.messages, c.clients], [7, 7, 12, 7])}\n`
}

function cols (values: ReadonlyArray<string | number>, widths: readonly number[]): string {
  return values.map((v, i) => String(v).padStart(widths[i]!)).join(' ')
}
