/** Each bucket is 2% wider than the one before: percentiles within 2%, in constant memory however many samples. */
const GROWTH = 1.02
const INV_LN_GROWTH = 1 / Math.log(GROWTH)
/** From 1 µs to about 30 minutes. */
const BUCKETS = Math.ceil(Math.log(1.8e9) * INV_LN_GROWTH) + 1

/** A latency histogram over microsecond buckets of exponentially growing width. */
export class Histogram {
  private readonly counts = new Float64Array(BUCKETS)
  count = 0
  maxMs = 0
  private sumMs = 0

  record (ms: number): void {
    const us = ms * 1000
    const index = us <= 1 ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(us) * INV_LN_GROWTH))
    this.counts[index]!++
    this.count++
    this.sumMs += ms
    if (ms > this.maxMs) this.maxMs = ms
  }

  get meanMs (): number {
    return this.count === 0 ? 0 : this.sumMs / this.count
  }

  /** The latency below which `percent` of the samples fall (the bucket's upper bound), in ms. */
  percentile (percent: number): number {
    if (this.count === 0) return 0
    const rank = Math.ceil(percent / 100 * this.count)
    let seen = 0
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!
      if (seen >= rank) return Math.min(GROWTH ** i / 1000, this.maxMs)
    }
    return this.maxMs
  }
}
