import { readFileSync } from 'node:fs'
import { Command, CommanderError, Option } from 'commander'
import { formatGoDuration, goStyleFlags, parseConfigFile, parseDuration, parseLogLevel, resolveFlagValues, type ConfigValue } from '@nsqts/protocol'
import { NSQLookupd } from './nsqlookupd.js'
import { defaultLookupdOptions, type LookupdOptions } from './options.js'
import { VERSION } from './version.js'

type Kind = 'string' | 'duration' | 'int' | 'logLevel'

interface FlagSpec {
  /** NSQ's flag name; the config-file key is the same with - replaced by _. */
  readonly flag: string
  readonly key: keyof LookupdOptions
  readonly kind: Kind
  readonly help: string
}

/** nsqlookupd's flags: one table for the command line, the config file and the help text. */
export const LOOKUPD_FLAGS: readonly FlagSpec[] = [
  { flag: 'log-level', key: 'logLevel', kind: 'logLevel', help: 'set log verbosity: debug, info, warn, error, or fatal' },
  { flag: 'log-prefix', key: 'logPrefix', kind: 'string', help: 'log message prefix' },
  { flag: 'tcp-address', key: 'tcpAddress', kind: 'string', help: '<addr>:<port> to listen on for TCP clients' },
  { flag: 'http-address', key: 'httpAddress', kind: 'string', help: '<addr>:<port> to listen on for HTTP clients' },
  { flag: 'broadcast-address', key: 'broadcastAddress', kind: 'string', help: 'address of this lookupd node' },
  { flag: 'inactive-producer-timeout', key: 'inactiveProducerTimeout', kind: 'duration', help: 'duration of time a producer will remain in the active list since its last ping' },
  { flag: 'tombstone-lifetime', key: 'tombstoneLifetime', kind: 'duration', help: 'duration of time a producer will remain tombstoned if registration remains' },
  { flag: 'max-body-size', key: 'maxBodySize', kind: 'int', help: 'maximum size in bytes of an IDENTIFY body or a command line (nsqts; NSQ has no bound)' },
  { flag: 'http-bearer-token', key: 'httpBearerToken', kind: 'string', help: '(nsqts) require "Authorization: Bearer <token>" on the HTTP API (except /ping)' },
]

/** What the command line asks for. */
export type CliRequest =
  | { readonly action: 'run', readonly options: Partial<LookupdOptions> }
  | { readonly action: 'exit', readonly code: number, readonly output: string }

/** A bad command line or config file: the message is printed and the process exits 1. */
export class CliError extends Error {}

/** Converts a flag or config value; durations take Go's syntax (`300s`, `1m30s`) or a number of ms. */
function convert (spec: FlagSpec, value: ConfigValue): unknown {
  const bad = (): never => { throw new CliError(`invalid value ${JSON.stringify(value)} for ${spec.flag}`) }
  switch (spec.kind) {
    case 'string':
      return typeof value === 'string' ? value : bad()
    case 'duration': {
      const ms = typeof value === 'number' ? value : typeof value === 'string' ? parseDuration(value) : undefined
      return ms !== undefined && Number.isFinite(ms) ? ms : bad()
    }
    case 'int': {
      const n = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value
      return typeof n === 'number' && Number.isInteger(n) ? n : bad()
    }
    case 'logLevel':
      return (typeof value === 'string' ? parseLogLevel(value) : undefined) ?? bad()
  }
}

/**
 * Reads the command line (without the node and script paths). Precedence is NSQ's: a flag given on the command line,
 * else the --config file's key, else the default.
 */
export function parseCommandLine (args: string[], readFile: (path: string) => string = (p) => readFileSync(p, 'utf8')): CliRequest {
  let output = ''
  const program = new Command('nsqlookupd')
    .description('nsqlookupd: the NSQ discovery daemon (nsqts)')
    .helpOption('-h, --help', 'show this help')
    .option('--config <file>', 'path to config file')
    .option('--version', 'print version string')
    .option('--verbose', '[deprecated] has no effect, use --log-level')
    .allowExcessArguments(false)
    .exitOverride()
    .configureOutput({ writeOut: (s) => { output += s }, writeErr: (s) => { output += s } })
  for (const spec of LOOKUPD_FLAGS) {
    // Defaults go in the help text only: a commander default would hide whether the flag was given.
    const value = defaultLookupdOptions[spec.key]
    const shown = spec.kind === 'duration' ? formatGoDuration(Number(value) * 1e6) : JSON.stringify(value)
    program.addOption(new Option(`--${spec.flag} <value>`, `${spec.help} (default ${shown})`))
  }

  try {
    program.parse(goStyleFlags(args), { from: 'user' })
  } catch (err) {
    if (err instanceof CommanderError) return { action: 'exit', code: err.exitCode === 0 ? 0 : 1, output }
    throw err
  }
  const parsed = program.opts<Record<string, unknown>>()
  if (parsed.version === true) return { action: 'exit', code: 0, output: `nsqlookupd v${VERSION} (built w/nsqts)\n` }

  let file: Record<string, ConfigValue> = {}
  if (typeof parsed.config === 'string') {
    try {
      file = parseConfigFile(readFile(parsed.config))
    } catch (err) {
      throw new CliError(`failed to load config file ${parsed.config} - ${(err as Error).message}`)
    }
  }
  const options: Record<string, unknown> = {}
  for (const { spec, value } of resolveFlagValues(LOOKUPD_FLAGS, parsed, file)) {
    options[spec.key] = convert(spec, value as ConfigValue)
  }
  return { action: 'run', options: options as Partial<LookupdOptions> }
}

/** The nsqlookupd program: parse, start, and close cleanly on SIGINT or SIGTERM. */
export async function runCli (args: string[]): Promise<void> {
  const fail = (message: string): never => {
    process.stderr.write(`nsqlookupd: ${message}\n`)
    process.exit(1)
  }
  let request: CliRequest
  let lookupd: NSQLookupd
  try {
    request = parseCommandLine(args)
    if (request.action === 'exit') {
      (request.code === 0 ? process.stdout : process.stderr).write(request.output)
      process.exit(request.code)
    }
    lookupd = new NSQLookupd(request.options)
  } catch (err) {
    return fail((err as Error).message)
  }

  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    lookupd.logger.info(`${signal}: exiting`)
    lookupd.close().then(() => process.exit(0), (err: Error) => fail(`error while exiting: ${err.message}`))
  }
  process.on('SIGINT', () => { stop('SIGINT') })
  process.on('SIGTERM', () => { stop('SIGTERM') })

  try {
    await lookupd.start()
  } catch (err) {
    fail(`failed to start - ${(err as Error).message}`)
  }
}
