const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday']
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December']

function pad (n: number, width = 2): string {
  return String(n).padStart(width, '0')
}

function dayOfYear (t: Date): number {
  const sinceNewYear = Date.UTC(t.getFullYear(), t.getMonth(), t.getDate()) - Date.UTC(t.getFullYear(), 0, 1)
  return Math.round(sinceNewYear / 86_400_000) + 1
}

function zone (t: Date): string {
  const offset = -t.getTimezoneOffset()
  const abs = Math.abs(offset)
  return `${offset < 0 ? '-' : '+'}${pad(Math.floor(abs / 60))}${pad(abs % 60)}`
}

const ZONE_NAME = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' })

/** The conversions nsq_to_file's --datetime-format takes, in local time as NSQ formats it. */
const CONVERSIONS: Record<string, (t: Date) => string> = {
  a: (t) => DAYS[t.getDay()]!.slice(0, 3),
  A: (t) => DAYS[t.getDay()]!,
  b: (t) => MONTHS[t.getMonth()]!.slice(0, 3),
  B: (t) => MONTHS[t.getMonth()]!,
  c: (t) => `${CONVERSIONS.a!(t)} ${CONVERSIONS.b!(t)} ${String(t.getDate()).padStart(2)} ${CONVERSIONS.X!(t)} ${t.getFullYear()}`,
  d: (t) => pad(t.getDate()),
  f: (t) => pad(t.getMilliseconds() * 1000, 6),
  H: (t) => pad(t.getHours()),
  I: (t) => pad(t.getHours() % 12 === 0 ? 12 : t.getHours() % 12),
  j: (t) => pad(dayOfYear(t), 3),
  m: (t) => pad(t.getMonth() + 1),
  M: (t) => pad(t.getMinutes()),
  p: (t) => (t.getHours() < 12 ? 'AM' : 'PM'),
  S: (t) => pad(t.getSeconds()),
  s: (t) => String(Math.floor(t.getTime() / 1000)),
  u: (t) => String(t.getDay() === 0 ? 7 : t.getDay()),
  w: (t) => String(t.getDay()),
  x: (t) => `${pad(t.getMonth() + 1)}/${pad(t.getDate())}/${pad(t.getFullYear() % 100)}`,
  X: (t) => `${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}`,
  y: (t) => pad(t.getFullYear() % 100),
  Y: (t) => String(t.getFullYear()),
  z: zone,
  Z: (t) => ZONE_NAME.formatToParts(t).find((p) => p.type === 'timeZoneName')?.value ?? zone(t),
  '%': () => '%',
}

/** strftime: `%Y-%m-%d_%H` → `2026-11-21_04`. Unknown conversions are kept as written. */
export function strftime (format: string, t: Date): string {
  return format.replace(/%(.)/gs, (whole, c: string) => CONVERSIONS[c]?.(t) ?? whole)
}
