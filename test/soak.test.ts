import { describe, it, expect, afterEach } from 'vitest'
import { runScript, stopScripts } from './run-script.js'

// scripts/soak.mjs runs the built nsqd (packages/nsqd/dist: `npm test` builds it first) as its own child process.

interface SoakResult { rate: number, published: number, consumed: number, errors: number, rssGrowth: number | null }

afterEach(stopScripts)

describe('scripts/soak.mjs', () => {
  it('2 minutes, 100 topics, 1,000 connections at half the measured maximum: RSS grows at most 10% after the warm-up', async () => {
    const { code, out, result: parsed } = await runScript<SoakResult>('soak.mjs', ['--minutes', '2'])
    expect(parsed, out).toBeDefined()
    const result = parsed as SoakResult
    console.log(out.split('\n').filter((l) => !l.startsWith('RESULT')).join('\n'))
    expect({ code, errors: result.errors }, out).toEqual({ code: 0, errors: 0 })
    expect(result.rssGrowth).not.toBeNull()
    expect(result.rssGrowth as number).toBeLessThanOrEqual(0.1)
    expect(result.consumed).toBeGreaterThan(0)
  }, 420_000)
})
