/**
 * RDY management for one consumer over many nsqd connections, kept free of sockets and timers so it can be tested
 * directly. The consumer reports connections, messages and responses; the controller decides what RDY each
 * connection gets and sends it through a callback.
 *
 * RDY is a window on nsqd: it keeps sending while the connection's in-flight count is below it. The guarantee kept
 * here is that, across all connections, nsqd can never have more than maxInFlight messages in flight for this
 * consumer. For each connection the controller keeps an upper bound of what nsqd may have in flight:
 *
 *   ceiling = max(rdy, inFlight + transit)
 *
 * where inFlight counts messages received and not yet answered, and transit bounds the messages nsqd may have sent
 * under an earlier, larger RDY that have not arrived yet. Messages arrive in the order nsqd sent them, so every
 * arrival lowers transit by one; and since no protocol answer tells when nsqd applied an RDY, transit is dropped
 * once the connection's grace period (nsqd's output buffer timeout plus slack) has passed.
 * Lowering RDY takes effect at once; raising it is only done
 * within maxInFlight − Σ ceiling, and what cannot be granted yet is granted as responses free capacity. So when a new
 * connection arrives it waits for the others to drain below their new share instead of overshooting.
 *
 * Targets follow go-nsq: maxInFlight split evenly over the connections (capped by each nsqd's max_rdy_count). With
 * more connections than maxInFlight, a rotating set of maxInFlight connections holds RDY 1 and redistribute() moves
 * RDY away from connections that stayed idle. In backoff every connection is at 0 except, once the window has ended,
 * one connection at RDY 1 that tests the waters.
 */
export interface RdyConnection {
  /** nsqd's max_rdy_count for this connection. */
  readonly maxRdy: number
  /** The last RDY sent. */
  rdy: number
  /** Messages received and not yet answered with FIN or REQ. */
  inFlight: number
  /** Upper bound of messages sent by nsqd under an earlier, larger RDY that are still on their way. */
  transit: number
  /** When transit stops counting: by then anything nsqd sent under the old RDY has arrived. */
  transitUntil: number
  /**
   * How long after lowering RDY messages sent under the old value may still arrive: nsqd's output buffer timeout
   * (it holds messages that long before flushing) plus network slack.
   */
  readonly transitGraceMs: number
  /** When the last message arrived (or when the connection was added). */
  lastMessageAt: number
  /** When RDY last changed. */
  rdyAt: number
}

export interface RdyControllerOptions<C extends RdyConnection> {
  maxInFlight: number
  send: (conn: C, count: number) => void
  /** A connection holding RDY in rotation loses it after this long without a message. */
  lowRdyIdleTimeoutMs: number
  /** ... or after holding it this long. */
  lowRdyTimeoutMs: number
  /** Asks to be refreshed after `delayMs`, when capacity held back by transit will be free. */
  wake?: (delayMs: number) => void
  now?: () => number
  random?: () => number
}

type Mode = 'normal' | 'backoff' | 'stopped'

export class RdyController<C extends RdyConnection> {
  private readonly conns: C[] = []
  private maxInFlightValue: number
  private mode: Mode = 'normal'
  /** In backoff, after the window: the connection that gets RDY 1. */
  private testing = false
  private testConn: C | undefined
  /** With more connections than maxInFlight: the ones that hold RDY 1. */
  private readonly rotation = new Set<C>()
  /** While held, RDY is computed but nothing is sent: connections found together start together. */
  private held = false
  /** Some connection is below its target for lack of capacity: responses should retry. */
  private starving = false
  /** Where the next grant pass starts, so that scarce capacity is not always offered to the same connection. */
  private cursor = 0
  private readonly now: () => number
  private readonly random: () => number

  constructor (private readonly options: RdyControllerOptions<C>) {
    this.maxInFlightValue = options.maxInFlight
    this.now = options.now ?? Date.now
    this.random = options.random ?? Math.random
  }

  get maxInFlight (): number {
    return this.maxInFlightValue
  }

  get connectionCount (): number {
    return this.conns.length
  }

  /** Upper bound of what nsqd may have in flight on `conn`. */
  private ceiling (conn: C, now: number): number {
    if (conn.transit > 0 && now >= conn.transitUntil) conn.transit = 0
    return Math.max(conn.rdy, conn.inFlight + conn.transit)
  }

  /** Σ ceiling over all connections; never above maxInFlight once lowered RDYs have drained. */
  get committed (): number {
    const now = this.now()
    let sum = 0
    for (const c of this.conns) sum += this.ceiling(c, now)
    return sum
  }

  /** Whether redistribute() has work to do, so the consumer only runs its timer when needed. */
  get needsRedistribution (): boolean {
    const n = this.conns.length
    return (this.mode === 'normal' && n > this.maxInFlightValue && this.maxInFlightValue > 0) ||
      (this.mode === 'backoff' && this.testing && n > 1)
  }

  add (conn: C): void {
    this.conns.push(conn)
    this.apply()
  }

  remove (conn: C): void {
    const i = this.conns.indexOf(conn)
    if (i === -1) return
    this.conns.splice(i, 1)
    this.rotation.delete(conn)
    if (this.testConn === conn) this.testConn = undefined
    this.apply()
  }

  messageReceived (conn: C): void {
    conn.inFlight++
    if (conn.transit > 0) conn.transit--
    conn.lastMessageAt = this.now()
  }

  /** A FIN or REQ was sent for a message of `conn`. */
  responded (conn: C): void {
    if (conn.inFlight > 0) conn.inFlight--
    if (this.starving) this.apply()
  }

  setMaxInFlight (maxInFlight: number): void {
    this.maxInFlightValue = maxInFlight
    this.apply()
  }

  /** A backoff window starts: RDY 0 everywhere. */
  backoff (): void {
    this.mode = 'backoff'
    this.testing = false
    this.testConn = undefined
    this.apply()
  }

  /** The backoff window ended: RDY 1 on one random connection. */
  testWaters (): void {
    this.mode = 'backoff'
    this.testing = true
    this.testConn = undefined
    this.apply()
  }

  /** Backoff is over: normal RDY everywhere. */
  resume (): void {
    this.mode = 'normal'
    this.testing = false
    this.testConn = undefined
    this.apply()
  }

  /**
   * Sends no RDY until release(). A consumer holds while it makes its first connections: granting RDY to the first
   * one and lowering it when the next arrives would leave capacity tied up in transit for a grace period.
   */
  hold (): void {
    this.held = true
  }

  release (): void {
    this.held = false
    this.apply()
  }

  /** Re-evaluates RDY now (the wake-up asked for through the `wake` option). */
  refresh (): void {
    this.apply()
  }

  /** Sends nothing more (the consumer sent CLS, which sets RDY 0 on nsqd's side). */
  stop (): void {
    this.mode = 'stopped'
    this.starving = false
  }

  /**
   * Moves RDY away from connections that hold it without using it: with more connections than maxInFlight, those
   * idle for lowRdyIdleTimeoutMs or holding RDY for lowRdyTimeoutMs drop to 0 and others get a turn; in backoff, an
   * idle test connection hands the test to another one.
   */
  redistribute (): void {
    const now = this.now()
    if (this.mode === 'backoff' && this.testing && this.testConn !== undefined && this.conns.length > 1) {
      // A test message still being handled is not idleness.
      const test = this.testConn
      if (test.inFlight === 0 && now - Math.max(test.lastMessageAt, test.rdyAt) >= this.options.lowRdyIdleTimeoutMs) {
        const previous = this.testConn
        this.testConn = this.pickRandom(this.conns.filter((c) => c !== previous))
      }
    } else if (this.mode === 'normal' && this.conns.length > this.maxInFlightValue) {
      // Only hand a slot to a connection that can use it at once: one with nothing outstanding. Rotating to a
      // connection still within its transit grace would swap idle connections among themselves and starve the rest.
      const free = this.conns.filter((c) => !this.rotation.has(c) && this.ceiling(c, now) === 0)
      for (const c of [...this.rotation]) {
        if (free.length === 0) break
        if (c.rdy === 0) continue
        const idle = now - Math.max(c.lastMessageAt, c.rdyAt) >= this.options.lowRdyIdleTimeoutMs
        const held = now - c.rdyAt >= this.options.lowRdyTimeoutMs
        if (!idle && !held) continue
        this.rotation.delete(c)
        const i = Math.floor(this.random() * free.length)
        this.rotation.add(free[i]!)
        free.splice(i, 1)
      }
    }
    this.apply()
  }

  private pickRandom (from: readonly C[]): C | undefined {
    if (from.length === 0) return undefined
    return from[Math.floor(this.random() * from.length)]
  }

  /** Tops the rotation up to maxInFlight members, preferring connections with nothing outstanding. */
  private fillRotation (now: number): void {
    const outside = this.conns.filter((c) => !this.rotation.has(c))
    const free = outside.filter((c) => this.ceiling(c, now) === 0)
    const busy = outside.filter((c) => this.ceiling(c, now) > 0)
    for (const pool of [free, busy]) {
      while (this.rotation.size < this.maxInFlightValue && pool.length > 0) {
        const i = Math.floor(this.random() * pool.length)
        this.rotation.add(pool[i]!)
        pool.splice(i, 1)
      }
    }
  }

  private targets (): Map<C, number> {
    const out = new Map<C, number>()
    const n = this.conns.length
    const max = this.maxInFlightValue
    if (this.mode === 'backoff') {
      if (this.testing && this.testConn === undefined) this.testConn = this.pickRandom(this.conns)
      for (const c of this.conns) out.set(c, c === this.testConn && max > 0 ? 1 : 0)
      return out
    }
    if (n <= max) {
      this.rotation.clear()
      // Spread the remainder too, so the shares add up to maxInFlight exactly.
      const base = Math.floor(max / n)
      const extra = max % n
      this.conns.forEach((c, i) => { out.set(c, Math.min(base + (i < extra ? 1 : 0), c.maxRdy)) })
      return out
    }
    for (const c of this.rotation) if (!this.conns.includes(c)) this.rotation.delete(c)
    while (this.rotation.size > max) this.rotation.delete(this.rotation.values().next().value as C)
    this.fillRotation(this.now())
    for (const c of this.conns) out.set(c, this.rotation.has(c) ? 1 : 0)
    return out
  }

  private setRdy (conn: C, count: number): void {
    const now = this.now()
    if (count < conn.rdy) {
      // Messages nsqd sent under the larger window may still be on their way.
      conn.transit = Math.max(conn.transit, conn.rdy - conn.inFlight)
      conn.transitUntil = now + conn.transitGraceMs
    }
    conn.rdy = count
    conn.rdyAt = now
    this.options.send(conn, count)
  }

  private apply (): void {
    if (this.mode === 'stopped' || this.held) return
    const targets = this.targets()
    for (const c of this.conns) {
      const target = targets.get(c)!
      if (target < c.rdy) this.setRdy(c, target)
    }
    const now = this.now()
    let budget = this.maxInFlightValue - this.committed
    this.starving = false
    const n = this.conns.length
    for (let k = 0; k < n; k++) {
      const c = this.conns[(this.cursor + k) % n]!
      const target = targets.get(c)!
      if (target <= c.rdy) continue
      const ceiling = this.ceiling(c, now)
      const grant = Math.min(target, ceiling + budget)
      // Short of the target, only grant steps worth an RDY command; responses will bring the rest.
      if (grant <= c.rdy || (grant < target && c.rdy > 0 && grant - c.rdy < Math.ceil(target / 4))) {
        this.starving = true
        continue
      }
      if (grant < target) this.starving = true
      budget -= Math.max(0, grant - ceiling)
      this.setRdy(c, grant)
    }
    if (n > 0) this.cursor = (this.cursor + 1) % n
    if (this.starving && this.options.wake !== undefined) {
      let until = Infinity
      for (const c of this.conns) if (c.transit > 0) until = Math.min(until, c.transitUntil)
      if (until !== Infinity) this.options.wake(until - now)
    }
  }
}
