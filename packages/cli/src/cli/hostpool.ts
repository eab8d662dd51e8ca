import { CliError } from './program.js'

/** Picks the destination of each message; `done` reports how it went so the pool can learn. */
export interface HostPool {
  get (): { host: string, done (ok: boolean): void }
}

export type Mode = 'round-robin' | 'hostpool'

/** --mode: NSQ's relays accept round-robin, hostpool and its older name epsilon-greedy. */
export function parseMode (text: string): Mode {
  if (text === 'round-robin') return 'round-robin'
  if (text === 'hostpool' || text === 'epsilon-greedy') return 'hostpool'
  throw new CliError(`--mode ${JSON.stringify(text)}: expected round-robin, hostpool or epsilon-greedy`)
}

export function createHostPool (
  mode: Mode, hosts: readonly string[], random: () => number = Math.random, now: () => number = Date.now,
): HostPool {
  return mode === 'round-robin' ? new RoundRobin(hosts) : new EpsilonGreedy(hosts, random, now)
}

const noop = (): void => {}

class RoundRobin implements HostPool {
  private counter = 0
  constructor (private readonly hosts: readonly string[]) {}

  get (): { host: string, done (ok: boolean): void } {
    const host = this.hosts[this.counter++ % this.hosts.length]!
    return { host, done: noop }
  }
}

interface HostState {
  readonly host: string
  dead: boolean
  retryAt: number
  retryDelayMs: number
  /** Moving average of response times; 0 until measured, so every host gets tried early on. */
  avgMs: number
}

/** Chance of exploring a random host instead of the fastest one. */
const EPSILON = 0.3
/** A failed host is left alone this long, doubling on each failure up to MAX_RETRY_MS (go-hostpool's values). */
const RETRY_MS = 30_000
const MAX_RETRY_MS = 900_000
/** Weight of the newest response time in the moving average. */
const ALPHA = 0.1

/**
 * NSQ's "hostpool" mode (go-hostpool's epsilon-greedy pool): mostly the host with the best response times, sometimes a
 * random one so that a host that got faster is noticed; failing hosts are skipped until their retry time. When every
 * host is down, all are tried again rather than none.
 */
class EpsilonGreedy implements HostPool {
  private readonly hosts: HostState[]

  constructor (hosts: readonly string[], private readonly random: () => number, private readonly now: () => number) {
    this.hosts = hosts.map((host) => ({ host, dead: false, retryAt: 0, retryDelayMs: RETRY_MS, avgMs: 0 }))
  }

  get (): { host: string, done (ok: boolean): void } {
    const now = this.now()
    let alive = this.hosts.filter((h) => !h.dead || h.retryAt <= now)
    if (alive.length === 0) {
      for (const h of this.hosts) h.dead = false
      alive = this.hosts
    }
    let chosen: HostState
    if (this.random() < EPSILON) {
      chosen = alive[Math.floor(this.random() * alive.length)]!
    } else {
      chosen = alive[0]!
      for (const h of alive) if (h.avgMs < chosen.avgMs) chosen = h
    }
    const started = now
    return {
      host: chosen.host,
      done: (ok) => { this.mark(chosen, ok, this.now() - started) },
    }
  }

  private mark (h: HostState, ok: boolean, elapsedMs: number): void {
    if (ok) {
      h.dead = false
      h.retryDelayMs = RETRY_MS
      h.avgMs = h.avgMs === 0 ? elapsedMs : h.avgMs + ALPHA * (elapsedMs - h.avgMs)
      return
    }
    if (h.dead) h.retryDelayMs = Math.min(h.retryDelayMs * 2, MAX_RETRY_MS)
    h.dead = true
    h.retryAt = this.now() + h.retryDelayMs
  }
}
