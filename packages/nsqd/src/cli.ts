import { readFileSync } from 'node:fs'
import { Command, CommanderError, Option } from 'commander'
import { createLogger, writeLogLine, goStyleFlags, parseConfigFile, parseLogLevel, resolveFlagValues, type ConfigValue } from '@nsqts/protocol'
import { NSQD } from './nsqd.js'
import { VERSION } from './version.js'
import { NSQD_FLAGS, convertValue } from './flags.js'
import { defaultOptions, type NsqdOptions } from './options.js'

/** What the command line asks for. */
export type CliRequest =
  | { readonly action: 'run', readonly options: Partial<NsqdOptions> }
  | { readonly action: 'exit', readonly code: number, readonly output: string }

/** A bad command line or config file: the message is printed and the process exits 1. */
export class CliError extends Error {}

/**
 * Reads the command line (without the node and script paths); pure but for `readFile`, for the --config file.
 * Precedence is NSQ's: a flag given on the command line, else the config file's key, else the default.
 */
export function parseCommandLine (args: readonly string[], readFile: (path: string) => string = (p) => readFileSync(p, 'utf8')): CliRequest {
  let output = ''
  const program = new Command('nsqd')
    .description('nsqd: the NSQ broker (nsqts)')
    .helpOption('-h, --help', 'show this help')
    .option('--config <file>', 'path to config file')
    .option('--version', 'print version string')
    .option('--verbose', '[deprecated] has no effect, use --log-level')
    .allowExcessArguments(false)
    .exitOverride()
    .configureOutput({ writeOut: (s) => { output += s }, writeErr: (s) => { output += s } })
  const defaults = defaultOptions()
  for (const spec of NSQD_FLAGS) {
    const shown = defaults[spec.key]
    const opt = spec.kind === 'bool' || spec.kind === 'tlsRequired'
      ? new Option(`--${spec.flag} [bool]`, spec.help)
      : new Option(`--${spec.flag} <value>`, spec.help)
    // Defaults go in the help text only: a commander default would hide whether the flag was given.
    opt.default(undefined, Array.isArray(shown) ? shown.join(',') : String(shown))
    if (spec.kind === 'strings' || spec.kind === 'floats') {
      opt.argParser((value: string, previous: unknown) => convertValue(spec, value, previous))
    }
    program.addOption(opt)
  }

  try {
    program.parse(goStyleFlags([...args]), { from: 'user' })
  } catch (err) {
    if (err instanceof CommanderError) return { action: 'exit', code: err.exitCode === 0 ? 0 : 1, output }
    throw new CliError((err as Error).message)
  }
  const parsed = program.opts<Record<string, unknown>>()
  if (parsed.version === true) return { action: 'exit', code: 0, output: `nsqd v${VERSION} (built w/nsqts, node ${process.version})\n` }

  const options: Partial<NsqdOptions> = {}
  const set = (key: keyof NsqdOptions, value: unknown): void => { (options as Record<string, unknown>)[key] = value }
  try {
    const file = typeof parsed.config === 'string' ? parseConfigFile(readFile(parsed.config)) : {}
    for (const { spec, value, from } of resolveFlagValues(NSQD_FLAGS, parsed, file)) {
      // Lists given on the command line were gathered (and converted) flag by flag as commander read them.
      if (from === 'command line' && (spec.kind === 'strings' || spec.kind === 'floats')) set(spec.key, value)
      else set(spec.key, convertValue(spec, value === true ? 'true' : value as ConfigValue))
    }
  } catch (err) {
    throw new CliError((err as Error).message)
  }
  if (options.logLevel !== undefined) {
    const level = parseLogLevel(options.logLevel)
    if (level === undefined) throw new CliError(`invalid log level ${options.logLevel}`)
    options.logLevel = level
  }
  return { action: 'run', options }
}

/** The nsqd program: parse, start, and close cleanly on SIGINT or SIGTERM. */
export async function runCli (args: readonly string[]): Promise<void> {
  const fail = (message: string): never => {
    process.stderr.write(`nsqd: ${message}\n`)
    process.exit(1)
  }
  let nsqd: NSQD
  try {
    const request = parseCommandLine(args)
    if (request.action === 'exit') {
      (request.code === 0 ? process.stdout : process.stderr).write(request.output)
      process.exit(request.code)
    }
    const { options } = request
    // The level is read per line, so that PUT /config/log_level takes effect at once.
    const holder: { nsqd?: NSQD } = {}
    const logger = createLogger(options.logPrefix ?? defaultOptions().logPrefix,
      () => holder.nsqd?.options.logLevel ?? options.logLevel ?? 'info', writeLogLine)
    nsqd = new NSQD({ ...options, logger })
    holder.nsqd = nsqd
  } catch (err) {
    return fail((err as Error).message)
  }

  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    nsqd.logger.info(`${signal}: exiting`)
    nsqd.close().then(() => process.exit(0), (err: Error) => fail(`error while exiting: ${err.message}`))
  }
  process.on('SIGINT', () => { stop('SIGINT') })
  process.on('SIGTERM', () => { stop('SIGTERM') })

  try {
    await nsqd.start()
  } catch (err) {
    fail(`failed to start - ${(err as Error).message}`)
  }
}
