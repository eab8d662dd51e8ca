/**
 * Pure helpers shared by the daemons' command lines and config files: Go-style durations and the subset of TOML
 * that NSQ's --config files use (`key = value` lines with strings, numbers, booleans and arrays of those).
 */
const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/** Parses a Go duration ("1h30m", "2.5s", "250ms") into ms; a bare number is taken as ms. Undefined when malformed. */
export function parseDuration (text: string): number | undefined {
  const t = text.trim()
  if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t)
  const m = /^(-?)((?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+)$/.exec(t)
  if (m === null) return undefined
  let total = 0
  for (const part of (m[2] as string).matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) {
    total += Number(part[1]) * (UNIT_MS[part[2] as string] as number)
  }
  return m[1] === '-' ? -total : total
}

export type ConfigValue = string | number | boolean | ConfigValue[]

/** Parses `key = value` lines (comments with #, blank lines ignored). Throws with the line number on bad syntax. */
export function parseConfigFile (text: string): Record<string, ConfigValue> {
  // No prototype: a `__proto__` key is a key like any other (one no flag reads), not the object's prototype.
  const out: Record<string, ConfigValue> = Object.create(null) as Record<string, ConfigValue>
  const lines = text.split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    const line = stripComment(lines[i] as string).trim()
    if (line === '') continue
    const eq = line.indexOf('=')
    if (eq === -1) throw new Error(`config line ${i + 1}: expected key = value`)
    const key = line.slice(0, eq).trim().replace(/^"(.*)"$/, '$1')
    if (!/^[A-Za-z0-9_-]+$/.test(key)) throw new Error(`config line ${i + 1}: bad key ${JSON.stringify(key)}`)
    out[key] = parseValue(line.slice(eq + 1).trim(), i + 1)
  }
  return out
}

function stripComment (line: string): string {
  let inString: string | null = null
  for (let i = 0; i < line.length; i++) {
    const c = line[i]
    if (inString !== null) {
      if (c === '\\' && inString === '"') i++
      else if (c === inString) inString = null
    } else if (c === '"' || c === "'") {
      inString = c
    } else if (c === '#') {
      return line.slice(0, i)
    }
  }
  return line
}

function parseValue (text: string, lineNo: number): ConfigValue {
  if (text.startsWith('[')) {
    if (!text.endsWith(']')) throw new Error(`config line ${lineNo}: unterminated array`)
    const inner = text.slice(1, -1).trim()
    if (inner === '') return []
    return splitTopLevel(inner).map((part) => parseValue(part.trim(), lineNo))
  }
  if (text.startsWith('"')) {
    try {
      return JSON.parse(text) as string
    } catch {
      throw new Error(`config line ${lineNo}: bad string ${text}`)
    }
  }
  if (text.startsWith("'") && text.endsWith("'") && text.length >= 2) return text.slice(1, -1)
  if (text === 'true') return true
  if (text === 'false') return false
  const n = Number(text.replace(/_/g, ''))
  if (text !== '' && Number.isFinite(n)) return n
  throw new Error(`config line ${lineNo}: bad value ${text}`)
}

function splitTopLevel (text: string): string[] {
  const parts: string[] = []
  let depth = 0
  let inString: string | null = null
  let start = 0
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (inString !== null) {
      if (c === '\\' && inString === '"') i++
      else if (c === inString) inString = null
      continue
    }
    if (c === '"' || c === "'") inString = c
    else if (c === '[') depth++
    else if (c === ']') depth--
    else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i))
      start = i + 1
    }
  }
  const last = text.slice(start)
  if (last.trim() !== '') parts.push(last)
  return parts
}

/**
 * Go's flag package takes `-name` as well as `--name`; commander only knows `--name`. Rewrites one-dash long flags
 * (user arguments only, without node and script paths) so NSQ command lines work unchanged.
 */
export function goStyleFlags (args: readonly string[]): string[] {
  return args.map((a) => (/^-[a-z][a-z0-9-]+(=|$)/.test(a) ? '-' + a : a))
}

/** A flag name as commander keys its value: `max-in-flight` → `maxInFlight`. */
export function flagKey (flag: string): string {
  return flag.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase())
}

/** A flag as a daemon's table names it: NSQ's flag name, and its config-file key when that is not the flag with _. */
export interface FlagName {
  readonly flag: string
  readonly cfg?: string
}

/**
 * NSQ's precedence over one daemon's flag table: a flag given on the command line (`commandLine`, commander's values
 * by {@link flagKey}), else the config file's key (its cfg name if it has one, else the flag name with - as _, as NSQ's
 * options.Resolve reads it), else nothing (the default stands). The raw values, in table order, for the daemon to
 * convert with its own kinds.
 */
export function resolveFlagValues<S extends FlagName> (table: readonly S[],
  commandLine: Readonly<Record<string, unknown>>, file: Readonly<Record<string, ConfigValue>> = {}): Array<{ spec: S, value: unknown, from: 'command line' | 'config file' }> {
  const out: Array<{ spec: S, value: unknown, from: 'command line' | 'config file' }> = []
  for (const spec of table) {
    const given = commandLine[flagKey(spec.flag)]
    if (given !== undefined) {
      out.push({ spec, value: given, from: 'command line' })
      continue
    }
    const value = file[spec.cfg ?? spec.flag.replace(/-/g, '_')]
    if (value !== undefined) out.push({ spec, value, from: 'config file' })
  }
  return out
}
