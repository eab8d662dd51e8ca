/**
 * Milliseconds since the Unix epoch with microsecond resolution, from the monotonic clock (so a wall-clock step does
 * not make every producer look inactive at once).
 */
export function nowMs (): number {
  return performance.timeOrigin + performance.now()
}

/** Go's UnixNano of a time from nowMs(). */
export function toUnixNano (ms: number): bigint {
  const whole = Math.floor(ms)
  const micros = Math.round((ms - whole) * 1000)
  return BigInt(whole) * 1_000_000n + BigInt(micros) * 1000n
}

/** Go's zero time.Time{}.UnixNano(): what /debug shows for a producer never tombstoned. */
export const GO_ZERO_TIME_UNIX_NANO = -6795364578871345152n
