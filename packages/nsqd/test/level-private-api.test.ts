import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it, expect } from 'vitest'
import { Level } from 'level'
import type { RawChainedBatch } from '../src/backend/level/native-batch.js'

/**
 * The level store writes through classic-level's own chained batch (`_chainedBatch()`, then `_put`, `_del`,
 * `_write`, `_clear`; src/backend/level/native-batch.ts): private methods, checked against the versions nsqd's
 * package.json pins exactly (docs/storage.md). An upgrade that renames or changes them fails here, not as lost writes.
 */

const require = createRequire(import.meta.url)

async function installedVersion (name: string): Promise<string> {
  const manifest = JSON.parse(await readFile(require.resolve(`${name}/package.json`, { paths: [require.resolve('level')] }), 'utf8'))
  return (manifest as { version: string }).version
}

describe("classic-level's private batch methods", () => {
  it('are installed at the versions package.json pins', async () => {
    const ours = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string> }
    expect(await installedVersion('level')).toBe(ours.dependencies.level)
    expect(await installedVersion('classic-level')).toBe(ours.dependencies['classic-level'])
  })

  it('put, delete, write (synced or not) and clear as the store uses them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nsqts-level-private-'))
    const db = new Level<Buffer, Buffer>(join(dir, 'db'), { keyEncoding: 'buffer', valueEncoding: 'buffer' })
    try {
      await db.open()
      const open = db as unknown as { _chainedBatch?: () => RawChainedBatch }
      expect(typeof open._chainedBatch).toBe('function')
      const batch = open._chainedBatch!()
      for (const name of ['_put', '_del', '_clear', '_write'] as const) expect(typeof batch[name], name).toBe('function')

      const key = (k: string): Buffer => Buffer.from(k)
      batch._put(key('a'), Buffer.from('1'))
      batch._put(key('b'), Buffer.from('2'))
      await batch._write({ sync: true })
      batch._clear()
      // The batch is reused after a clear, as the store does: only the new operations are written.
      batch._del(key('a'))
      batch._put(key('c'), Buffer.from('3'))
      await batch._write({ sync: false })
      batch._clear()
      await batch._write({ sync: false })

      const entries: string[] = []
      for await (const [k, v] of db.iterator()) entries.push(`${k.toString()}=${v.toString()}`)
      expect(entries).toEqual(['b=2', 'c=3'])
    } finally {
      await db.close()
      await rm(dir, { recursive: true, force: true })
    }
  })
})
