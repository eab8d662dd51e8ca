import type { LatencyPercentile } from '@nsqts/protocol'

/**
 * End-to-end processing latency (publish to FIN) per channel, for --e2e-processing-latency-percentile. Like NSQ it
 * keeps two rotating half-windows of --e2e-processing-latency-window-time; each keeps a bounded uniform sample
 * (reservoir), so memory stays flat however many messages are finished.
 */
const RESERVOIR = 1024

class Window {
  readonly samples: number[] = []
  seen = 0

  add (valueNs: number): void {
    this.seen++
    if (this.samples.length < RESERVOIR) {
      this.samples.push(valueNs)
      return
    }
    const slot = Math.floor(Math.random() * this.seen)
    if (slot < RESERVOIR) this.samples[slot] = valueNs
  }
}

export class LatencyStats {
  private current = new Window()
  private previous = new Window()
  private rotatedAt: number

  /** @param percentiles sorted descending, as nsqd reports them */
  constructor (
    readonly percentiles: readonly number[],
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.rotatedAt = now()
  }

  private rotate (): void {
    const now = this.now()
    const half = this.windowMs / 2
    if (now - this.rotatedAt < half) return
    this.previous = now - this.rotatedAt < this.windowMs ? this.current : new Window()
    this.current = new Window()
    this.rotatedAt = now
  }

  record (latencyMs: number): void {
    this.rotate()
    this.current.add(latencyMs * 1e6)
  }

  samples (): { count: number, values: number[] } {
    this.rotate()
    return {
      count: this.current.seen + this.previous.seen,
      values: [...this.current.samples, ...this.previous.samples],
    }
  }

  /** Count and percentiles of the union of several channels' samples (a topic's view). */
  static merge (
    percentiles: readonly number[],
    parts: ReadonlyArray<{ count: number, values: number[] }>,
  ): { count: number, percentiles: LatencyPercentile[] } {
    let count = 0
    const values: number[] = []
    for (const p of parts) {
      count += p.count
      for (const v of p.values) values.push(v)
    }
    values.sort((a, b) => a - b)
    return {
      count,
      percentiles: percentiles.map((quantile) => ({
        quantile,
        value: values.length === 0
          ? 0
          : values[Math.min(values.length - 1, Math.ceil(quantile * values.length) - 1)] as number,
      })),
    }
  }
}
