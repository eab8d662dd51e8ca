import type { Command } from 'commander'
import { Option } from 'commander'
import { parseAddress } from '@nsqts/client'
import type { ConsumerOptions } from '@nsqts/client'
import { isValidChannelName, isValidTopicName } from '@nsqts/protocol'
import { VERSION } from '../version.js'
import { GO_NSQ_CONSUMER_DEFAULTS, consumerOptions } from './go-nsq-options.js'
import { CliError, check, intOption, repeatable } from './program.js'

/** The flags every consuming tool shares, with NSQ's names and help. */
export function addConsumerFlags (program: Command, defaults: { channel?: string, maxInFlight: number }): void {
  program
    .addOption(new Option('--channel <channel>', 'NSQ channel').default(defaults.channel ?? ''))
    .addOption(intOption('--max-in-flight <n>', 'max number of messages to allow in flight', defaults.maxInFlight, 1))
    .addOption(repeatable('--nsqd-tcp-address <addr>', 'nsqd TCP address'))
    .addOption(repeatable('--lookupd-http-address <addr>', 'lookupd HTTP address'))
    .addOption(repeatable('--consumer-opt <name,value>', 'option to passthrough to the consumer (go-nsq Config names: max_attempts, msg_timeout, ...)'))
    .addOption(bearerTokenOption())
}

/** nsqts: the token of daemons started with --http-bearer-token, for every nsqd and nsqlookupd HTTP call of a tool. */
export function bearerTokenOption (): Option {
  return new Option('--http-bearer-token <token>', '(nsqts) sent as "Authorization: Bearer <token>" to the nsqd and nsqlookupd HTTP APIs').default('')
}

export interface ConsumerFlags {
  channel: string
  maxInFlight: number
  readonly nsqdTcpAddresses: string[]
  readonly lookupdHttpAddresses: string[]
  readonly consumerOpts: string[]
  readonly httpBearerToken: string
}

export function readConsumerFlags (opts: Record<string, unknown>): ConsumerFlags {
  return {
    channel: opts.channel as string,
    maxInFlight: opts.maxInFlight as number,
    nsqdTcpAddresses: opts.nsqdTcpAddress as string[],
    lookupdHttpAddresses: opts.lookupdHttpAddress as string[],
    consumerOpts: opts.consumerOpt as string[],
    httpBearerToken: opts.httpBearerToken as string,
  }
}

/** NSQ's checks on where to consume from: exactly one of the two address lists. */
export function checkSources (flags: ConsumerFlags): void {
  check(
    [flags.nsqdTcpAddresses.length === 0 && flags.lookupdHttpAddresses.length === 0, '--nsqd-tcp-address or --lookupd-http-address required'],
    [flags.nsqdTcpAddresses.length > 0 && flags.lookupdHttpAddresses.length > 0, 'use --nsqd-tcp-address or --lookupd-http-address not both']
  )
  checkTcpAddresses('--nsqd-tcp-address', flags.nsqdTcpAddresses)
  for (const a of flags.lookupdHttpAddresses) checkHttpAddress('--lookupd-http-address', a)
}

export function checkTcpAddresses (flag: string, addresses: readonly string[]): void {
  for (const a of addresses) {
    try {
      parseAddress(a)
    } catch (err) {
      throw new CliError(`${flag}: ${(err as Error).message}`)
    }
  }
}

export function checkHttpAddress (flag: string, address: string): void {
  try {
    const url = new URL(address.includes('://') ? address : `http://${address}`)
    if (url.hostname === '') throw new Error('no host')
  } catch {
    throw new CliError(`${flag}: invalid address ${JSON.stringify(address)}`)
  }
}

export function checkTopic (flag: string, topic: string): void {
  if (!isValidTopicName(topic)) throw new CliError(`${flag} ${JSON.stringify(topic)} is not a valid topic name`)
}

export function checkChannel (channel: string): void {
  if (!isValidChannelName(channel)) throw new CliError(`--channel ${JSON.stringify(channel)} is not a valid channel name`)
}

/** One tool's IDENTIFY user_agent, as NSQ's tools send `<tool>/<version> go-nsq/<version>`. */
export function userAgent (tool: string): string {
  return `${tool}/${VERSION} nsqts`
}

/**
 * The client options of a consuming tool, with NSQ's precedence: go-nsq's defaults, then --consumer-opt, then the
 * tool's own flags (--max-in-flight wins over max_in_flight).
 */
export function buildConsumerOptions (tool: string, flags: ConsumerFlags, warn: (m: string) => void): ConsumerOptions {
  return {
    ...GO_NSQ_CONSUMER_DEFAULTS,
    userAgent: userAgent(tool),
    ...consumerOptions(flags.consumerOpts, warn),
    maxInFlight: flags.maxInFlight,
    nsqdTcpAddresses: flags.nsqdTcpAddresses,
    lookupdHttpAddresses: flags.lookupdHttpAddresses,
    lookupdHttpBearerToken: flags.httpBearerToken,
  }
}

export function stderrWarn (tool: string): (message: string) => void {
  return (message) => { process.stderr.write(`${tool}: warning: ${message}\n`) }
}
