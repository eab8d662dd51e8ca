/**
 * The logger every daemon and library takes. Lines look like NSQ's: `[nsqd] 2026/11/21 04:38:37.199648 INFO: text`.
 * Levels and their numbers are NSQ's (GET /config/log_level answers the number).
 */
export const LOG_LEVELS = { debug: 1, info: 2, warn: 3, error: 4, fatal: 5 } as const
export type LogLevelName = keyof typeof LOG_LEVELS

export interface Logger {
  debug (msg: string): void
  info (msg: string): void
  warn (msg: string): void
  error (msg: string): void
}

/** One of LOG_LEVELS' own names: `in` would also take `constructor` and `__proto__`, from Object.prototype. */
export function isLogLevel (name: string): name is LogLevelName {
  return Object.hasOwn(LOG_LEVELS, name)
}

export function parseLogLevel (text: string): LogLevelName | undefined {
  const name = text.trim().toLowerCase()
  return isLogLevel(name) ? name : undefined
}

function pad (n: number, width = 2): string {
  return String(n).padStart(width, '0')
}

/** NSQ's timestamp layout, `2006/01/02 15:04:05.000000`, in UTC. */
export function formatLogTime (date: Date): string {
  return `${date.getUTCFullYear()}/${pad(date.getUTCMonth() + 1)}/${pad(date.getUTCDate())} ` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}.${pad(date.getUTCMilliseconds(), 3)}000`
}

/**
 * A logger that formats NSQ-style lines and hands them to `write`. `level` is read on every call, so a daemon can
 * change it live (PUT /config/log_level).
 */
export function createLogger (prefix: string, level: () => LogLevelName, write: (line: string) => void): Logger {
  // Lines come in bursts (a registration storm, a reconnecting fleet): the time is formatted once per millisecond.
  let stampMs = -1
  let stamp = ''
  const at = (name: LogLevelName, label: string) => (msg: string): void => {
    if (LOG_LEVELS[name] < LOG_LEVELS[level()]) return
    const now = Date.now()
    if (now !== stampMs) {
      stampMs = now
      stamp = formatLogTime(new Date(now))
    }
    write(`${prefix}${stamp} ${label}: ${msg}\n`)
  }
  return { debug: at('debug', 'DEBUG'), info: at('info', 'INFO'), warn: at('warn', 'WARNING'), error: at('error', 'ERROR') }
}

const noop = (): void => {}
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop }
