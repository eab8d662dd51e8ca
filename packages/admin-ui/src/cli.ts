import { readFileSync } from 'node:fs'
import { Command, CommanderError } from 'commander'
import { flagKey, goStyleFlags, parseConfigFile, parseDuration, parseLogLevel, resolveFlagValues, type ConfigValue } from '@nsqts/protocol'
import { NSQAdmin } from './server/nsqadmin.js'
import type { AdminOptions } from './server/options.js'
import { VERSION } from './server/version.js'

type Kind = 'string' | 'list' | 'duration' | 'logLevel'

interface FlagSpec {
  readonly flag: string
  /** Config-file key (NSQ's cfg name). */
  readonly cfg: string
  readonly key: keyof AdminOptions
  readonly kind: Kind
  readonly help: string
}

/** nsqadmin's flags: one table for the command line, the config file and the help text. */
const FLAGS: readonly FlagSpec[] = [
  { flag: 'http-address', cfg: 'http_address', key: 'httpAddress', kind: 'string', help: '<addr>:<port> to listen on for HTTP clients' },
  { flag: 'lookupd-http-address', cfg: 'nsqlookupd_http_addresses', key: 'lookupdHttpAddresses', kind: 'list', help: 'lookupd HTTP address (may be given multiple times)' },
  { flag: 'nsqd-http-address', cfg: 'nsqd_http_addresses', key: 'nsqdHttpAddresses', kind: 'list', help: 'nsqd HTTP address (may be given multiple times)' },
  { flag: 'base-path', cfg: 'base_path', key: 'basePath', kind: 'string', help: 'URL base path' },
  { flag: 'notification-http-endpoint', cfg: 'notification_http_endpoint', key: 'notificationHttpEndpoint', kind: 'string', help: 'HTTP endpoint to which POST notifications of admin actions are sent' },
  { flag: 'admin-user', cfg: 'admin_users', key: 'adminUsers', kind: 'list', help: 'admin user (may be given multiple times; if set, only these users may make changes)' },
  { flag: 'acl-http-header', cfg: 'acl_http_header', key: 'aclHttpHeader', kind: 'string', help: 'HTTP header to check for authenticated admin users' },
  { flag: 'allow-config-from-cidr', cfg: 'allow_config_from_cidr', key: 'allowConfigFromCidr', kind: 'string', help: 'a CIDR from which to allow HTTP requests to the /config endpoint' },
  { flag: 'http-client-connect-timeout', cfg: 'http_client_connect_timeout', key: 'httpClientConnectTimeoutMs', kind: 'duration', help: 'timeout for HTTP connect' },
  { flag: 'http-client-request-timeout', cfg: 'http_client_request_timeout', key: 'httpClientRequestTimeoutMs', kind: 'duration', help: 'timeout for HTTP request' },
  { flag: 'log-level', cfg: 'log_level', key: 'logLevel', kind: 'logLevel', help: 'set log verbosity: debug, info, warn, error, or fatal' },
  { flag: 'log-prefix', cfg: 'log_prefix', key: 'logPrefix', kind: 'string', help: 'log message prefix' },
  { flag: 'history-interval', cfg: 'history_interval', key: 'historyIntervalMs', kind: 'duration', help: 'how often to sample every nsqd for the live charts (nsqts)' },
  { flag: 'history-window', cfg: 'history_window', key: 'historyWindowMs', kind: 'duration', help: 'how much live chart history to keep in memory (nsqts)' },
  { flag: 'http-bearer-token', cfg: 'http_bearer_token', key: 'httpBearerToken', kind: 'string', help: '(nsqts) require "Authorization: Bearer <token>" on /api and /config (the page takes it once as ?token=)' },
  { flag: 'upstream-http-bearer-token', cfg: 'upstream_http_bearer_token', key: 'upstreamHttpBearerToken', kind: 'string', help: '(nsqts) token to send to nsqd and nsqlookupd started with --http-bearer-token' },
]

/** NSQ's Graphite/statsd flags: accepted so existing command lines keep working, but the charts need none of them. */
const GRAPHITE_FLAGS = ['graphite-url', 'proxy-graphite', 'statsd-prefix', 'statsd-counter-format', 'statsd-gauge-format', 'statsd-interval']

export class CliError extends Error {}

function convert (spec: FlagSpec, value: ConfigValue): unknown {
  const bad = (): never => { throw new CliError(`invalid value ${JSON.stringify(value)} for --${spec.flag}`) }
  switch (spec.kind) {
    case 'string':
      return typeof value === 'string' ? value : bad()
    case 'list': {
      const list = Array.isArray(value) ? value : [value]
      return list.every((v) => typeof v === 'string') ? list : bad()
    }
    case 'duration': {
      const ms = typeof value === 'number' ? value : typeof value === 'string' ? parseDuration(value) : undefined
      return ms !== undefined && Number.isFinite(ms) && ms > 0 ? ms : bad()
    }
    case 'logLevel':
      return (typeof value === 'string' ? parseLogLevel(value) : undefined) ?? bad()
  }
}

export type CliRequest =
  | { readonly action: 'run', readonly options: Partial<AdminOptions>, readonly ignored: string[] }
  | { readonly action: 'exit', readonly code: number, readonly output: string }

/** Reads the command line: a flag given wins over the --config file's key, which wins over the default. */
export function parseCommandLine (args: string[], readFile: (path: string) => string = (p) => readFileSync(p, 'utf8')): CliRequest {
  let output = ''
  const program = new Command('nsqadmin')
    .description('nsqadmin: the NSQ web dashboard (nsqts), with live charts')
    .helpOption('-h, --help', 'show this help')
    .option('--config <file>', 'path to config file')
    .option('--version', 'print version string')
    .allowExcessArguments(false)
    .exitOverride()
    .configureOutput({ writeOut: (s) => { output += s }, writeErr: (s) => { output += s } })
  for (const spec of FLAGS) {
    if (spec.kind === 'list') program.option(`--${spec.flag} <value>`, spec.help, (v: string, prev: string[] = []) => [...prev, v])
    else program.option(`--${spec.flag} <value>`, spec.help)
  }
  for (const flag of GRAPHITE_FLAGS) program.option(`--${flag} [value]`, 'ignored: nsqts draws its own charts without Graphite')
  try {
    program.parse(goStyleFlags(args), { from: 'user' })
  } catch (err) {
    if (err instanceof CommanderError) return { action: 'exit', code: err.exitCode, output }
    throw err
  }
  const given = program.opts<Record<string, unknown>>()
  if (given.version === true) return { action: 'exit', code: 0, output: `nsqadmin v${VERSION} (nsqts)\n` }
  const fromFile = typeof given.config === 'string' ? parseConfigFile(readFile(given.config)) : {}
  const options: Record<string, unknown> = {}
  for (const { spec, value } of resolveFlagValues(FLAGS, given, fromFile)) {
    options[spec.key] = convert(spec, value as ConfigValue)
  }
  const ignored = GRAPHITE_FLAGS.filter((f) => given[flagKey(f)] !== undefined)
  return { action: 'run', options: options as Partial<AdminOptions>, ignored }
}

/** The nsqadmin process: parse, start, stop cleanly on SIGINT/SIGTERM. */
export async function runCli (args: string[]): Promise<void> {
  const request = parseCommandLine(args)
  if (request.action === 'exit') {
    process.stdout.write(request.output)
    process.exitCode = request.code
    return
  }
  const admin = new NSQAdmin(request.options)
  for (const flag of request.ignored) admin.logger.warn(`--${flag} ignored: nsqts draws its own live charts`)
  await admin.start()
  const stop = (): void => {
    admin.close().then(() => process.exit(0), (err: unknown) => {
      admin.logger.error(`shutdown: ${String(err)}`)
      process.exit(1)
    })
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}
