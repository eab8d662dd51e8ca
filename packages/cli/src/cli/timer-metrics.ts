import type { Logger } from '@nsqts/protocol'

/**
 * --status-every: after every `every` timed operations, log their count, 99th and 95th percentile and mean, in the
 * line NSQ's relays print (`[aggregate]: finished 250 - 99th: 3.10ms - 95th: 2.40ms - avg: 1.20ms`). 0 disables.
 */
export class TimerMetrics {
  private readonly timings: number[] = []

  constructor (private readonly every: number, private readonly prefix: string, private readonly log: Logger) {}

  /** Records one operation that started at `startMs` (performance.now()). */
  status (startMs: number): void {
    if (this.every <= 0) return
    this.timings.push(performance.now() - startMs)
    if (this.timings.length < this.every) return
    const sorted = this.timings.sort((a, b) => a - b)
    let total = 0
    for (const t of sorted) total += t
    this.log.info(`${this.prefix} finished ${sorted.length} - 99th: ${rank(sorted, 99).toFixed(2)}ms - ` +
      `95th: ${rank(sorted, 95).toFixed(2)}ms - avg: ${(total / sorted.length).toFixed(2)}ms`)
    this.timings.length = 0
  }
}

/** The nearest-rank percentile, rounded up as NSQ's timer metrics do. */
function rank (sorted: readonly number[], percent: number): number {
  const index = Math.min(Math.ceil(percent / 100 * sorted.length + 0.5), sorted.length - 1)
  return sorted[index]!
}
