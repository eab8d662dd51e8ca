import { Command, CommanderError, InvalidArgumentError, Option } from 'commander'
import { goStyleFlags, parseDuration } from '@nsqts/protocol'
import { VERSION } from '../version.js'

/** A bad command line: the tool prints `<tool>: <message>` and exits 1, without a stack trace. */
export class CliError extends Error {}

/** What parsing a command line ended in: run the tool, or exit now (--help, --version, a bad flag). */
export type Parsed<T> =
  | { readonly action: 'run', readonly options: T }
  | { readonly action: 'exit', readonly code: number, readonly output: string }

/**
 * A commander program set up the way every tool needs it: NSQ's --version, help on -h/--help, and no exits or
 * writes of its own, so that parse() can report the outcome and tests can call it in-process.
 */
export function createProgram (name: string, description: string): { program: Command, output: () => string } {
  let output = ''
  const program = new Command(name)
    .description(description)
    .helpOption('-h, --help', 'show this help')
    .option('--version', 'print version string')
    .allowExcessArguments(false)
    .showHelpAfterError('(add --help for additional information)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => { output += s }, writeErr: (s) => { output += s } })
  return { program, output: () => output }
}

export function versionLine (name: string): string {
  return `${name} v${VERSION} (built w/nsqts)\n`
}

/**
 * Parses `args` (without node and script paths) and hands the options to `build`, which validates them the way the
 * NSQ tool does and throws CliError for a bad combination.
 */
export function parse<T> (
  name: string,
  made: { program: Command, output: () => string },
  args: readonly string[],
  build: (opts: Record<string, unknown>, program: Command) => T
): Parsed<T> {
  const { program, output } = made
  try {
    program.parse(goStyleArgs(program, args), { from: 'user' })
  } catch (err) {
    if (err instanceof CommanderError) return { action: 'exit', code: err.exitCode === 0 ? 0 : 1, output: output() }
    throw err
  }
  const opts = program.opts<Record<string, unknown>>()
  for (const option of program.options) {
    if (REPEATABLE.has(option) && opts[option.attributeName()] === undefined) opts[option.attributeName()] = []
  }
  if (opts.version === true) return { action: 'exit', code: 0, output: versionLine(name) }
  return { action: 'run', options: build(opts, program) }
}

/**
 * Go's flag package, which NSQ's tools use, also takes `-name` and `--bool=false`; commander takes neither. Rewrites
 * them so scripts written for NSQ keep working: `-topic=x` becomes `--topic=x`, a boolean `--gzip=true` becomes
 * `--gzip` and `--gzip=false` is dropped (every boolean flag defaults to false).
 */
export function goStyleArgs (program: Command, args: readonly string[]): string[] {
  const booleans = new Set(program.options.filter((o) => !o.required && !o.optional).map((o) => o.long))
  // One-letter flags (nsq_tail's and nsq_to_http's -n) are also written --n, --n=5 or -n=5 in Go.
  const shortOnly = new Set(program.options.filter((o) => o.long === undefined).map((o) => o.short!.slice(1)))
  const out: string[] = []
  for (let i = 0; i < args.length; i++) {
    let arg = args[i]!
    if (arg === '--') {
      out.push(...args.slice(i))
      break
    }
    const short = /^--?([a-z])(?:=(.*))?$/s.exec(arg)
    if (short !== null && shortOnly.has(short[1]!)) {
      out.push(`-${short[1]!}`)
      if (short[2] !== undefined) out.push(short[2])
      continue
    }
    arg = goStyleFlags([arg])[0] as string
    const eq = arg.indexOf('=')
    if (arg.startsWith('--') && eq > 0 && booleans.has(arg.slice(0, eq))) {
      const value = parseGoBool(arg.slice(eq + 1))
      if (value === undefined) throw new CliError(`invalid boolean value ${JSON.stringify(arg.slice(eq + 1))} for ${arg.slice(0, eq)}`)
      if (value) out.push(arg.slice(0, eq))
      continue
    }
    out.push(arg)
  }
  return out
}

/** strconv.ParseBool: what Go accepts for a boolean flag or option value. */
export function parseGoBool (text: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false
  return undefined
}

// ---- option builders: each parser throws InvalidArgumentError, which commander reports as a bad flag ----

function collect (value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value]
}

/** Options made by repeatable(): parse() gives them [] when absent (a commander default would show in --help). */
const REPEATABLE = new WeakSet<Option>()

/** A flag that may be given several times (NSQ's StringArray); the values are kept in order, never split. */
export function repeatable (flags: string, description: string): Option {
  const option = new Option(flags, `${description} (may be given multiple times)`).argParser(collect)
  REPEATABLE.add(option)
  return option
}

export function parseIntArg (min: number, max = Number.MAX_SAFE_INTEGER) {
  return (text: string): number => {
    if (!/^[-+]?\d+$/.test(text.trim())) throw new InvalidArgumentError('not an integer')
    const n = Number(text)
    if (n < min || n > max) throw new InvalidArgumentError(max === Number.MAX_SAFE_INTEGER ? `must be at least ${min}` : `must be in [${min}, ${max}]`)
    return n
  }
}

export function parseFloatArg (text: string): number {
  const n = Number(text)
  if (text.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError('not a number')
  return n
}

/** Go durations (`1m30s`, `250ms`); a bare number is milliseconds, as go-nsq takes it. */
export function parseDurationArg (text: string): number {
  const ms = parseDuration(text)
  if (ms === undefined || !Number.isFinite(ms)) throw new InvalidArgumentError('not a duration (like 30s, 1m or 250ms)')
  return ms
}

export function intOption (flags: string, description: string, defaultValue: number, min = 0): Option {
  return new Option(flags, description).argParser(parseIntArg(min)).default(defaultValue)
}

export function durationOption (flags: string, description: string, defaultMs: number, shown: string): Option {
  return new Option(flags, description).argParser(parseDurationArg).default(defaultMs, shown)
}

/** Throws the first message whose condition holds: NSQ's tools check their flags in a fixed order and stop there. */
export function check (...rules: Array<[boolean, string]>): void {
  for (const [bad, message] of rules) if (bad) throw new CliError(message)
}
