#!/usr/bin/env node
import { readFileSync } from 'node:fs'
import { Command, Option } from 'commander'
import { createLogger, flagKey, goStyleFlags, parseConfigFile, parseLogLevel, type ConfigValue } from '@nsqts/protocol'
import { NSQD } from '../nsqd.js'
import { VERSION } from '../version.js'
import { NSQD_FLAGS, configKeyIndex, convertValue } from '../flags.js'
import { defaultOptions, type NsqdOptions } from '../options.js'

function fail (message: string): never {
  process.stderr.write(`nsqd: ${message}\n`)
  process.exit(1)
}

const program = new Command('nsqd')
  .description('nsqd: the NSQ broker (nsqts)')
  .helpOption('-h, --help', 'show this help')
  .option('--config <file>', 'path to config file')
  .option('--version', 'print version string')
  .option('--verbose', '[deprecated] has no effect, use --log-level')
  .allowExcessArguments(false)
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) })

const defaults = defaultOptions()
for (const spec of NSQD_FLAGS) {
  const shown = defaults[spec.key]
  const opt = spec.kind === 'bool' || spec.kind === 'tlsRequired'
    ? new Option(`--${spec.flag} [bool]`, spec.help)
    : new Option(`--${spec.flag} <value>`, spec.help)
  opt.default(undefined, Array.isArray(shown) ? shown.join(',') : String(shown))
  if (spec.kind === 'strings' || spec.kind === 'floats') {
    opt.argParser((value: string, previous: unknown) => convertValue(spec, value, previous))
  }
  program.addOption(opt)
}

try {
  program.parse(goStyleFlags(process.argv.slice(2)), { from: 'user' })
} catch (err) {
  const code = (err as { exitCode?: number }).exitCode
  process.exit(code === 0 ? 0 : 1)
}
const parsed = program.opts<Record<string, unknown>>()

if (parsed.version === true) {
  process.stdout.write(`nsqd v${VERSION} (built w/nsqts, node ${process.version})\n`)
  process.exit(0)
}

const options: Partial<NsqdOptions> = {}
const set = (key: keyof NsqdOptions, value: unknown): void => { (options as Record<string, unknown>)[key] = value }

try {
  // Precedence as nsqd: command line over config file over defaults.
  if (typeof parsed.config === 'string') {
    const file = parseConfigFile(readFileSync(parsed.config, 'utf8'))
    const index = configKeyIndex()
    for (const [key, value] of Object.entries(file)) {
      const spec = index.get(key)
      if (spec === undefined) continue
      set(spec.key, convertValue(spec, value as ConfigValue))
    }
  }
  for (const spec of NSQD_FLAGS) {
    const raw = parsed[flagKey(spec.flag)]
    if (raw === undefined) continue
    if (spec.kind === 'strings' || spec.kind === 'floats') set(spec.key, raw)
    else set(spec.key, convertValue(spec, raw === true ? 'true' : raw as string))
  }
  if (options.logLevel !== undefined && parseLogLevel(options.logLevel) === undefined) throw new Error(`invalid log level ${options.logLevel}`)
  if (options.logLevel !== undefined) options.logLevel = parseLogLevel(options.logLevel)
} catch (err) {
  fail((err as Error).message)
}

let nsqd: NSQD
try {
  const holder: { nsqd?: NSQD } = {}
  const logger = createLogger(options.logPrefix ?? defaults.logPrefix, () => holder.nsqd?.options.logLevel ?? options.logLevel ?? 'info',
    (line) => process.stderr.write(line))
  nsqd = new NSQD({ ...options, logger })
  holder.nsqd = nsqd
} catch (err) {
  fail((err as Error).message)
}

let stopping = false
async function stop (signal: string): Promise<void> {
  if (stopping) return
  stopping = true
  nsqd.logger.info(`${signal}: exiting`)
  try {
    await nsqd.close()
    process.exit(0)
  } catch (err) {
    process.stderr.write(`nsqd: error while exiting: ${(err as Error).message}\n`)
    process.exit(1)
  }
}
process.on('SIGINT', () => { void stop('SIGINT') })
process.on('SIGTERM', () => { void stop('SIGTERM') })

nsqd.start().catch((err: Error) => fail(`failed to start - ${err.message}`))
