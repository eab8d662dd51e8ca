import { spawn, type ChildProcess } from 'node:child_process'
import { describe, it, expect, afterEach } from 'vitest'

// scripts/soak.mjs runs the built nsqd (packages/nsqd/dist: `npm test` builds it first) as its own child process.
const SCRIPT = new URL('../scripts/soak.mjs', import.meta.url).pathname

interface SoakResult { rate: number, published: number, consumed: number, errors: number, rssGrowth: number | null }

let running: ChildProcess | undefined
afterEach(() => {
  // SIGTERM lets the script end the nsqd it started.
  running?.kill('SIGTERM')
  running = undefined
})

describe('scripts/soak.mjs', () => {
  it('2 minutes, 100 topics, 1,000 connections at half the measured maximum: RSS grows at most 10% after the warm-up', async () => {
    const child = spawn(process.execPath, [SCRIPT, '--minutes', '2'], { stdio: ['ignore', 'pipe', 'pipe'] })
    running = child
    let out = ''
    child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString() })
    child.stderr.on('data', (chunk: Buffer) => { out += chunk.toString() })
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
    running = undefined
    const line = /^RESULT (.*)$/m.exec(out)
    expect(line, out).not.toBeNull()
    const result = JSON.parse((line as RegExpExecArray)[1] as string) as SoakResult
    expect({ code, errors: result.errors }, out).toEqual({ code: 0, errors: 0 })
    expect(result.rssGrowth).not.toBeNull()
    expect(result.rssGrowth as number).toBeLessThanOrEqual(0.1)
    expect(result.consumed).toBeGreaterThan(0)
  }, 420_000)
})
