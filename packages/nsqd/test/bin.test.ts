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

describe('the nsqd bin', () => {
  it('starts nsqd with two malloc arenas, which glibc takes only from the environment', async () => {
    const dataPath = await mkdtemp(join(tmpdir(), 'nsqts-bin-'))
    dirs.push(dataPath)
    const nsqd = await spawnNsqd(dataPath, [], true)
    // The shebang's env replaces itself with node: the pid spawned is nsqd's own.
    const environ = (await readFile(`/proc/${nsqd.pid}/environ`, 'utf8')).split('\0')
    expect(environ).toContain('MALLOC_ARENA_MAX=2')
    expect(await (await fetch(`${nsqd.httpUrl}/ping`)).text()).toBe('OK')
    expect(await nsqd.stop('SIGTERM')).toBe(0)
  })
})
