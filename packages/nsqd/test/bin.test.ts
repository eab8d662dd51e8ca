import { afterAll, describe, expect, it } from 'vitest'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { killLeftovers, spawnNsqd } from './storage-process.js'

const dirs: string[] = []
afterAll(async () => {
  killLeftovers()
  for (const dir of dirs) await rm(dir, { recursive: true, force: true })
})

/** nsqd started by its bin, as the PATH and npx start it: its environment and node arguments, and that it serves. */
async function startedThroughBin (env: NodeJS.ProcessEnv): Promise<{ environ: string[], argv: string[] }> {
  const dataPath = await mkdtemp(join(tmpdir(), 'nsqts-bin-'))
  dirs.push(dataPath)
  const nsqd = await spawnNsqd(dataPath, [], { throughBin: true, env })
  // sh execs node: the pid spawned is nsqd's own.
  const environ = (await readFile(`/proc/${nsqd.pid}/environ`, 'utf8')).split('\0')
  const argv = (await readFile(`/proc/${nsqd.pid}/cmdline`, 'utf8')).split('\0')
  expect(await (await fetch(`${nsqd.httpUrl}/ping`)).text()).toBe('OK')
  expect(await nsqd.stop('SIGTERM')).toBe(0)
  return { environ, argv }
}

describe('the nsqd bin', () => {
  it('starts nsqd with two malloc arenas, which glibc takes only from the environment', async () => {
    const { MALLOC_ARENA_MAX: _, ...env } = process.env
    expect((await startedThroughBin(env)).environ).toContain('MALLOC_ARENA_MAX=2')
  })

  it("keeps an operator's own MALLOC_ARENA_MAX", async () => {
    expect((await startedThroughBin({ ...process.env, MALLOC_ARENA_MAX: '4' })).environ).toContain('MALLOC_ARENA_MAX=4')
  })

  it('caps the young generation on node\'s command line, unless NODE_OPTIONS sets its size', async () => {
    const { NODE_OPTIONS: _, ...env } = process.env
    expect((await startedThroughBin(env)).argv).toContain('--max-semi-space-size=4')
    const own = await startedThroughBin({ ...env, NODE_OPTIONS: '--max-semi-space-size=8' })
    expect(own.argv.some((arg) => arg.includes('semi-space'))).toBe(false)
    expect(own.environ).toContain('NODE_OPTIONS=--max-semi-space-size=8')
  })
})
