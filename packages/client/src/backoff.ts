/**
 * The consumer's backoff state machine (go-nsq's), kept free of timers and sockets so it can be tested directly.
 *
 * A failed message raises the level and starts a backoff window: RDY 0 everywhere for duration(level). When the
 * window ends the consumer "tests the waters" with RDY 1 on one connection; the outcome of that message decides:
 * success lowers the level (at 0 normal RDY comes back, above 0 a shorter window follows), failure raises it again.
 * Signals that arrive while a window is running are ignored: they come from messages that were in flight before it.
 */
export type BackoffSignal = 'success' | 'failure' | 'continue'

export type BackoffStrategy = 'exponential' | 'full-jitter'

export interface BackoffOptions {
  /** duration(level) = multiplierMs × 2^level, capped at maxDurationMs. */
  multiplierMs: number
  maxDurationMs: number
  /** full-jitter draws each window uniformly from [0, duration(level)). */
  strategy: BackoffStrategy
  random?: () => number
}

export type BackoffDecision =
  | { kind: 'none' }
  /** Set RDY 0 on every connection and call windowEnded() after durationMs. */
  | { kind: 'backoff', level: number, durationMs: number }
  /** Leave backoff: normal RDY on every connection. */
  | { kind: 'resume' }

const NONE: BackoffDecision = { kind: 'none' }
const RESUME: BackoffDecision = { kind: 'resume' }

export class BackoffController {
  private levelValue = 0
  private windowOpen = false
  private readonly random: () => number

  constructor (private readonly options: BackoffOptions) {
    this.random = options.random ?? Math.random
  }

  get level (): number {
    return this.levelValue
  }

  /** True from the first failure until a success brings the level back to 0. */
  get inBackoff (): boolean {
    return this.levelValue > 0
  }

  /** True while a backoff window runs (every connection at RDY 0). */
  get waiting (): boolean {
    return this.windowOpen
  }

  /** The window length at `level`, before any jitter. */
  duration (level: number): number {
    return Math.min(this.options.multiplierMs * 2 ** level, this.options.maxDurationMs)
  }

  signal (signal: BackoffSignal): BackoffDecision {
    if (this.windowOpen) return NONE
    let changed = false
    if (signal === 'success' && this.levelValue > 0) {
      this.levelValue--
      changed = true
    } else if (signal === 'failure' && this.duration(this.levelValue) < this.options.maxDurationMs) {
      // Stop climbing once the cap is reached, so the level stays meaningful (and 2^level finite).
      this.levelValue++
      changed = true
    } else if (signal === 'failure' && this.levelValue === 0) {
      this.levelValue = 1
      changed = true
    }
    if (this.levelValue === 0) return changed ? RESUME : NONE
    this.windowOpen = true
    const full = this.duration(this.levelValue)
    const durationMs = this.options.strategy === 'full-jitter' ? Math.floor(this.random() * full) : full
    return { kind: 'backoff', level: this.levelValue, durationMs }
  }

  /** The window's timer fired: the consumer now tests the waters and the next signal counts. */
  windowEnded (): void {
    this.windowOpen = false
  }

  /** Forgets everything (used when the consumer closes). */
  reset (): void {
    this.levelValue = 0
    this.windowOpen = false
  }
}
