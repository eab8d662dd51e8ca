import { execFileSync } from 'node:child_process'
import { describe, it, expect, afterEach } from 'vitest'
import { runScript, stopScripts } from './run-script.js'

// scripts/chaos.mjs runs the built daemons (packages/*/dist: `npm test` builds them first) as its own child processes.
const SCRIPT = new URL('../scripts/chaos.mjs', import.meta.url).pathname

interface ChannelResult { consumed: number, lost: number, duplicates: number }
interface ChaosResult {
  faults: number
  acknowledged: number
  lost: number
  drainSeconds: number | null
  channels: Record<string, ChannelResult>
}

afterEach(stopScripts)

describe('scripts/chaos.mjs', () => {
  it('replays the same fault sequence for a seed, another one for another seed', () => {
    const schedule = (seed: number): string => execFileSync(process.execPath, [SCRIPT, '--print-schedule', '--minutes', '2', '--seed', String(seed)]).toString()
    const first = schedule(7)
    expect(first.split('\n').length).toBeGreaterThan(20)
    expect(schedule(7)).toBe(first)
    expect(schedule(8)).not.toBe(first)
  })

  it('one minute of faults on 3 nsqd --durable and 2 nsqlookupd: every acknowledged message consumed, then drained', async () => {
    const { code, out, result: parsed } = await runScript<ChaosResult>('chaos.mjs', ['--minutes', '1', '--seed', '1', '--drain-timeout', '120'])
    expect(parsed, out).toBeDefined()
    const result = parsed as ChaosResult
    console.log(`chaos, 1 min, seed 1: ${JSON.stringify(result)}`)
    expect({ code, lost: result.lost }, out).toEqual({ code: 0, lost: 0 })
    expect(result.drainSeconds).not.toBeNull()
    expect(result.faults).toBeGreaterThan(10)
    // 300 msgs/s asked for; faults and a loaded machine cost some of it, but not most.
    expect(result.acknowledged).toBeGreaterThan(5000)
    for (const channel of Object.values(result.channels)) {
      expect(channel.lost).toBe(0)
      expect(channel.consumed).toBeGreaterThanOrEqual(result.acknowledged)
    }
  }, 420_000)
})
