/**
 * Go's formatting where nsqd's text answers show it: e2e latencies (%.1f with a unit), RFC 3339 times and fmt's %-Ns
 * padding. Durations (time.Duration.String) are @nsqts/protocol's formatGoDuration, shared with nsqlookupd.
 */

/**
 * Go's %.1f of a non-negative number. toFixed rounds an exact tie up, Go to even; at one decimal the only ties a
 * double can hold end in .25 or .75, and only .25 comes out differently.
 */
function fixed1 (x: number): string {
  const quarters = x * 4
  if (Number.isInteger(quarters) && quarters % 4 === 1) return `${Math.floor(x)}.2`
  return x.toFixed(1)
}

/** How nsqd prints an e2e latency (ns) in the text /stats: one decimal and the largest unit it exceeds. */
export function nsToHuman (v: number): string {
  if (v > 1e9) return `${fixed1(v / 1e9)}s`
  if (v > 1e6) return `${fixed1(v / 1e6)}ms`
  if (v > 1e3) return `${fixed1(v / 1e3)}us`
  return `${fixed1(v)}ns`
}

const two = (n: number): string => String(n).padStart(2, '0')

/** time.Time.Format(time.RFC3339) of a Unix time, in the local zone like Go: `2026-11-21T04:38:37Z` in UTC. */
export function rfc3339 (unixSeconds: number): string {
  const date = new Date(unixSeconds * 1000)
  const offset = -date.getTimezoneOffset()
  const local = new Date(date.getTime() + offset * 60_000).toISOString().slice(0, 19)
  if (offset === 0) return `${local}Z`
  const abs = Math.abs(offset)
  return `${local}${offset > 0 ? '+' : '-'}${two(Math.floor(abs / 60))}:${two(abs % 60)}`
}

/** fmt's %-Ns / %-Nd: left-aligned, padded with spaces to `width` characters (runes), never cut. */
export function padRight (value: string | number, width: number): string {
  const s = String(value)
  const length = [...s].length
  return length >= width ? s : s + ' '.repeat(width - length)
}
