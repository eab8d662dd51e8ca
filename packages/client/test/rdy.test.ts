import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { RdyController } from '../src/internal.js'
import type { RdyConnection } from '../src/internal.js'

function newRdyConnection (maxRdy: number, now: number, transitGraceMs: number): RdyConnection {
  return { maxRdy, rdy: 0, inFlight: 0, transit: 0, transitUntil: 0, transitGraceMs, lastMessageAt: now, rdyAt: now }
}

interface Conn extends RdyConnection {
  name: string
  sent: number[]
  /** What nsqd really has in flight for this connection, simulated. */
  server: number
  /** Messages nsqd sent that have not arrived yet. */
  wire: number
  /** RDY commands written but not yet processed by nsqd. */
  pendingRdy: number[]
  serverRdy: number
}

function setup (
  maxInFlight: number, opts: { now?: () => number, random?: () => number, wake?: (ms: number) => void } = {},
) {
  const conns: Conn[] = []
  const ctl = new RdyController<Conn>({
    maxInFlight,
    send: (c, n) => { c.sent.push(n); c.pendingRdy.push(n) },
    lowRdyIdleTimeoutMs: 10_000,
    lowRdyTimeoutMs: 30_000,
    now: opts.now ?? (() => 0),
    random: opts.random ?? (() => 0),
    wake: opts.wake,
  })
  const add = (name: string, maxRdy = 2500): Conn => {
    const c: Conn = {
      ...newRdyConnection(maxRdy, 0, 1000), name, sent: [], server: 0, wire: 0, pendingRdy: [], serverRdy: 0,
    }
    conns.push(c)
    ctl.add(c)
    return c
  }
  /** Connections found in one discovery round start together. */
  const addAll = (...names: string[]): void => {
    ctl.hold()
    for (const n of names) add(n)
    ctl.release()
  }
  return { ctl, conns, add, addAll }
}

describe('RdyController', () => {
  it('gives a single connection all of maxInFlight, capped by max_rdy_count', () => {
    expect(setup(100).add('a').sent).toEqual([100])
    expect(setup(5000).add('a', 2500).sent).toEqual([2500])
  })

  it('splits maxInFlight evenly and adds up to it exactly', () => {
    const { addAll, conns, ctl } = setup(10)
    addAll('a', 'b', 'c')
    expect(conns.map((c) => c.rdy)).toEqual([4, 3, 3])
    expect(ctl.committed).toBe(10)
  })

  it('a new connection waits until the others drained below their new share', () => {
    const { add, ctl } = setup(10)
    const a = add('a')
    for (let i = 0; i < 10; i++) ctl.messageReceived(a)
    const b = add('b')
    expect(a.sent).toEqual([10, 5])
    expect(b.sent).toEqual([])
    // b gets what a frees, never more: the first message's worth at once, then steps of a quarter of its share.
    for (let i = 0; i < 5; i++) {
      ctl.responded(a)
      expect(ctl.committed).toBeLessThanOrEqual(10)
    }
    expect(b.sent).toEqual([1, 3, 5])
  })

  it('counts messages still on the wire after RDY was lowered, until they arrive or the grace period ends', () => {
    let now = 0
    const wakes: number[] = []
    const { add, ctl } = setup(10, { now: () => now, wake: (ms) => wakes.push(ms) })
    const a = add('a')
    // Three messages arrived; nsqd may have sent up to seven more before it saw the lower RDY.
    for (let i = 0; i < 3; i++) ctl.messageReceived(a)
    const b = add('b')
    expect(a.transit).toBe(7)
    expect(wakes).toEqual([1000])
    for (let i = 0; i < 3; i++) ctl.responded(a)
    expect(b.rdy).toBe(3)
    expect(ctl.committed).toBe(10)
    // Past the grace period nothing sent under RDY 10 can still be on its way.
    now = 1000
    ctl.refresh()
    expect(b.rdy).toBe(5)
    expect(ctl.committed).toBe(10)
  })

  it('messages that do arrive use up the transit allowance', () => {
    const { add, ctl } = setup(10)
    const a = add('a')
    const b = add('b')
    expect(a.transit).toBe(10)
    for (let i = 0; i < 10; i++) ctl.messageReceived(a)
    expect(a.transit).toBe(0)
    for (let i = 0; i < 10; i++) ctl.responded(a)
    expect(b.rdy).toBe(5)
  })

  it('with more connections than maxInFlight, only maxInFlight hold RDY 1 and idle ones rotate', () => {
    let now = 0
    const { addAll, conns, ctl } = setup(2, { now: () => now, random: () => 0 })
    addAll('a', 'b', 'c', 'd')
    expect(conns.filter((c) => c.rdy === 1)).toHaveLength(2)
    expect(ctl.needsRedistribution).toBe(true)
    const before = conns.filter((c) => c.rdy === 1).map((c) => c.name)
    now = 11_000
    ctl.redistribute()
    expect(ctl.committed).toBe(2)
    // The idle pair dropped to RDY 0 at once; the others get RDY 1 when nothing can be on its way any more.
    now = 12_000
    ctl.refresh()
    const after = conns.filter((c) => c.rdy === 1).map((c) => c.name)
    expect(after).toHaveLength(2)
    expect(after.some((n) => before.includes(n))).toBe(false)
    expect(ctl.committed).toBe(2)
  })

  it('hands a rotation slot only to a connection that can use it at once, so idle ones do not swap among themselves', () => {
    let now = 0
    const { addAll, conns, ctl } = setup(2, { now: () => now, random: () => 0 })
    addAll('a', 'b', 'c')
    const [a, b, c] = conns as [Conn, Conn, Conn]
    expect([a.rdy, b.rdy, c.rdy]).toEqual([1, 1, 0])
    // a stays busy, b goes idle: at the next redistribution c takes b's slot.
    now = 11_000
    ctl.messageReceived(a); ctl.responded(a)
    ctl.redistribute()
    expect([a.rdy, b.rdy, c.rdy]).toEqual([1, 0, 0])
    // Until b's grace period is over nothing can move: c waits, b is not swapped back in.
    for (now = 11_100; now < 12_000; now += 100) {
      ctl.messageReceived(a); ctl.responded(a)
      ctl.redistribute()
      expect([a.rdy, b.rdy, c.rdy]).toEqual([1, 0, 0])
    }
    now = 12_000
    ctl.refresh()
    expect([a.rdy, b.rdy, c.rdy]).toEqual([1, 0, 1])
    expect(ctl.committed).toBe(2)
  })

  it('backoff: RDY 0 everywhere, then RDY 1 on one connection, then the normal split', () => {
    let now = 0
    const { addAll, conns, ctl } = setup(10, { now: () => now })
    addAll('a', 'b')
    ctl.backoff()
    expect(conns.map((c) => c.rdy)).toEqual([0, 0])
    ctl.testWaters()
    expect(conns.map((c) => c.rdy).sort()).toEqual([0, 1])
    now = 2000
    ctl.resume()
    expect(conns.map((c) => c.rdy)).toEqual([5, 5])
  })

  it('moves the test of the waters away from a connection that stays idle', () => {
    let now = 0
    const { addAll, conns, ctl } = setup(10, { now: () => now, random: () => 0 })
    addAll('a', 'b')
    ctl.backoff()
    ctl.testWaters()
    expect(conns.map((c) => c.rdy)).toEqual([1, 0])
    now = 10_000
    ctl.redistribute()
    expect(conns.map((c) => c.rdy)).toEqual([0, 1])
  })

  it('maxInFlight 0 pauses and a larger value resumes', () => {
    let now = 0
    const { addAll, conns, ctl } = setup(4, { now: () => now })
    addAll('a', 'b')
    ctl.setMaxInFlight(0)
    expect(conns.map((c) => c.rdy)).toEqual([0, 0])
    now = 1000
    ctl.setMaxInFlight(6)
    expect(conns.map((c) => c.rdy)).toEqual([3, 3])
  })

  it('a removed connection frees its share for the others', () => {
    const { add, ctl } = setup(10)
    const a = add('a')
    const b = add('b')
    ctl.remove(b)
    expect(a.sent).toEqual([10, 5, 10])
  })

  it('nsqd never has more than maxInFlight in flight, whatever the interleaving (simulated nsqd)', () => {
    type Op = { kind: 'add' } | { kind: 'remove', i: number } | { kind: 'server', i: number } | { kind: 'deliver', i: number }
      | { kind: 'respond', i: number } | { kind: 'backoff' } | { kind: 'test' } | { kind: 'resume' }
      | { kind: 'max', n: number } | { kind: 'tick' }
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.constant({ kind: 'add' as const }),
      fc.record({ kind: fc.constant('remove' as const), i: fc.nat(7) }),
      fc.record({ kind: fc.constant('server' as const), i: fc.nat(7) }),
      fc.record({ kind: fc.constant('server' as const), i: fc.nat(7) }),
      fc.record({ kind: fc.constant('deliver' as const), i: fc.nat(7) }),
      fc.record({ kind: fc.constant('deliver' as const), i: fc.nat(7) }),
      fc.constant({ kind: 'tick' as const }),
      fc.record({ kind: fc.constant('respond' as const), i: fc.nat(7) }),
      fc.record({ kind: fc.constant('respond' as const), i: fc.nat(7) }),
      fc.constant({ kind: 'backoff' as const }),
      fc.constant({ kind: 'test' as const }),
      fc.constant({ kind: 'resume' as const }),
      fc.record({ kind: fc.constant('max' as const), n: fc.integer({ min: 0, max: 12 }) })
    )
    // Fixed seed: the run is the same every time; raise numRuns locally to search harder.
    fc.assert(fc.property(fc.integer({ min: 1, max: 12 }), fc.array(op, { maxLength: 300 }), (max, ops) => {
      let limit = max
      let now = 0
      const { ctl, conns, add } = setup(max, { random: () => 0.37, now: () => now })
      const live: Conn[] = []
      // In-flight on nsqd of connections that closed stays until it times out; it is not ours any more.
      const total = (): number => live.reduce((s, c) => s + c.server, 0)
      const received = new Map<Conn, number>()
      const deliver = (c: Conn): void => {
        c.wire--
        ctl.messageReceived(c)
        received.set(c, (received.get(c) ?? 0) + 1)
      }
      for (const o of ops) {
        const c = 'i' in o ? live[o.i % Math.max(1, live.length)] : undefined
        switch (o.kind) {
          case 'add': live.push(add(`c${conns.length}`)); break
          case 'remove': if (c) { live.splice(live.indexOf(c), 1); ctl.remove(c) } break
          case 'server':
            // nsqd processes the oldest RDY it was sent, or sends one message if its window allows.
            if (c) {
              const next = c.pendingRdy.shift()
              if (next !== undefined) c.serverRdy = next
              else if (c.server < c.serverRdy) { c.server++; c.wire++ }
            }
            break
          case 'deliver': if (c && c.wire > 0) deliver(c); break
          case 'tick':
            // The grace period's assumption: by its end nsqd has applied every RDY and what it sent has arrived.
            for (const l of live) {
              while (l.pendingRdy.length > 0) l.serverRdy = l.pendingRdy.shift()!
              while (l.wire > 0) deliver(l)
            }
            now += 1000
            ctl.refresh()
            break
          case 'respond':
            // FIN reaches nsqd in order with RDY: model it as immediate, which only makes nsqd freer.
            if (c && (received.get(c) ?? 0) > 0) { received.set(c, received.get(c)! - 1); c.server--; ctl.responded(c) }
            break
          case 'backoff': ctl.backoff(); break
          case 'test': ctl.testWaters(); break
          case 'resume': ctl.resume(); break
          case 'max': ctl.setMaxInFlight(o.n); limit = Math.max(limit, o.n); break
        }
        if (total() > limit) return false
        // Lowering maxInFlight cannot pull back what is in flight: the new limit holds from when nsqd drained to it.
        if (total() <= ctl.maxInFlight) limit = ctl.maxInFlight
      }
      return true
    }), { numRuns: 3000, seed: 20261121 })
  })
})
