import type { RdyConnection, RdyController } from './rdy.js'

/**
 * The timers that run a consumer's RdyController: its wake-ups (one timer, kept at the earliest asked for) and the
 * periodic redistribution, running only while the controller has work for it.
 */
export class RdyTimers<C extends RdyConnection> {
  private wakeTimer: NodeJS.Timeout | undefined
  private wakeAt = Infinity
  private redistributeTimer: NodeJS.Timeout | undefined

  constructor (
    private readonly rdy: RdyController<C>,
    private readonly redistributeIntervalMs: number,
    private readonly isRunning: () => boolean
  ) {}

  /** The controller asks to be refreshed after `delayMs`. */
  wake (delayMs: number): void {
    const at = Date.now() + delayMs
    if (this.wakeTimer !== undefined && this.wakeAt <= at) return
    clearTimeout(this.wakeTimer)
    this.wakeAt = at
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = undefined
      this.wakeAt = Infinity
      if (this.isRunning()) this.rdy.refresh()
    }, Math.max(0, delayMs) + 1)
    this.wakeTimer.unref()
  }

  /** Starts or stops redistribution after a change of connections, maxInFlight or backoff. */
  update (): void {
    const needed = this.isRunning() && this.rdy.needsRedistribution
    if (needed && this.redistributeTimer === undefined) {
      this.redistributeTimer = setInterval(() => { this.rdy.redistribute() }, this.redistributeIntervalMs)
      this.redistributeTimer.unref()
    } else if (!needed && this.redistributeTimer !== undefined) {
      clearInterval(this.redistributeTimer)
      this.redistributeTimer = undefined
    }
  }

  stop (): void {
    clearInterval(this.redistributeTimer)
    clearTimeout(this.wakeTimer)
  }
}
