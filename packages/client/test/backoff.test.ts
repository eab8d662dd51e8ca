import { describe, expect, it } from 'vitest'
import { BackoffController } from '../src/internal.js'

const make = (over: Partial<ConstructorParameters<typeof BackoffController>[0]> = {}): BackoffController =>
  new BackoffController({ multiplierMs: 1000, maxDurationMs: 120_000, strategy: 'exponential', ...over })

describe('BackoffController', () => {
  it('stays out of backoff while messages succeed', () => {
    const b = make()
    expect(b.signal('success')).toEqual({ kind: 'none' })
    expect(b.signal('continue')).toEqual({ kind: 'none' })
    expect(b.inBackoff).toBe(false)
  })

  it('backs off exponentially on failures, ignoring signals during a window', () => {
    const b = make()
    expect(b.signal('failure')).toEqual({ kind: 'backoff', level: 1, durationMs: 2000 })
    expect(b.waiting).toBe(true)
    // In-flight messages from before the window finishing or failing change nothing.
    expect(b.signal('failure')).toEqual({ kind: 'none' })
    expect(b.signal('success')).toEqual({ kind: 'none' })
    b.windowEnded()
    expect(b.signal('failure')).toEqual({ kind: 'backoff', level: 2, durationMs: 4000 })
    b.windowEnded()
    expect(b.signal('failure')).toEqual({ kind: 'backoff', level: 3, durationMs: 8000 })
  })

  it('recovers one level per success, with a shorter window in between, then resumes', () => {
    const b = make()
    b.signal('failure'); b.windowEnded()
    b.signal('failure'); b.windowEnded()
    expect(b.level).toBe(2)
    expect(b.signal('success')).toEqual({ kind: 'backoff', level: 1, durationMs: 2000 })
    b.windowEnded()
    expect(b.signal('success')).toEqual({ kind: 'resume' })
    expect(b.inBackoff).toBe(false)
    expect(b.signal('success')).toEqual({ kind: 'none' })
  })

  it('a requeue without backoff during backoff waits another window at the same level', () => {
    const b = make()
    b.signal('failure'); b.windowEnded()
    expect(b.signal('continue')).toEqual({ kind: 'backoff', level: 1, durationMs: 2000 })
  })

  it('caps the window and stops climbing at the cap', () => {
    const b = make({ maxDurationMs: 10_000 })
    const durations: number[] = []
    for (let i = 0; i < 8; i++) {
      const d = b.signal('failure')
      if (d.kind === 'backoff') durations.push(d.durationMs)
      b.windowEnded()
    }
    expect(durations).toEqual([2000, 4000, 8000, 10_000, 10_000, 10_000, 10_000, 10_000])
    expect(b.level).toBe(4)
    // Four successes bring it all the way back.
    for (let i = 0; i < 3; i++) { expect(b.signal('success').kind).toBe('backoff'); b.windowEnded() }
    expect(b.signal('success')).toEqual({ kind: 'resume' })
  })

  it('enters backoff even when the multiplier alone reaches the cap', () => {
    const b = make({ multiplierMs: 5000, maxDurationMs: 3000 })
    expect(b.signal('failure')).toEqual({ kind: 'backoff', level: 1, durationMs: 3000 })
  })

  it('full jitter draws the window below the exponential value', () => {
    const b = make({ strategy: 'full-jitter', random: () => 0.5 })
    expect(b.signal('failure')).toEqual({ kind: 'backoff', level: 1, durationMs: 1000 })
  })

  it('reset forgets the level and any window', () => {
    const b = make()
    b.signal('failure')
    b.reset()
    expect(b.waiting).toBe(false)
    expect(b.level).toBe(0)
  })
})
