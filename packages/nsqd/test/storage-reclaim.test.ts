import { describe, it, expect, afterEach } from 'vitest'
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { encodeMessage } from '@nsqts/protocol'
import { LevelStore } from '../src/backend/level/store.js'
import { RECLAIM_AFTER_BYTES } from '../src/backend/level/reclaim.js'
import type { BackendQueue } from '../src/backend/types.js'

// LevelDB maps the tables it reads: what a queue read back and removed must not stay mapped (and in nsqd's RSS)
// until some later write happens to compact it.

const dirs: string[] = []
const stores: LevelStore[] = []
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()))
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
})

async function open (dir: string): Promise<LevelStore> {
  const store = await LevelStore.open(dir, { cacheRecords: 64 })
  stores.push(store)
  return store
}

async function reopen (store: LevelStore, dir: string): Promise<LevelStore> {
  stores.splice(stores.indexOf(store), 1)
  await store.close()
  return open(dir)
}

/** Bytes of this database's tables mapped into this process (LevelDB mmaps the tables it reads). */
async function mappedTableBytes (location: string): Promise<number> {
  let bytes = 0
  for (const line of (await readFile('/proc/self/maps', 'utf8')).split('\n')) {
    if (!line.includes(location) || !line.includes('.ldb')) continue
    const [start, end] = (line.split(' ')[0] as string).split('-').map((h) => parseInt(h, 16)) as [number, number]
    bytes += end - start
  }
  return bytes
}

async function tableBytes (location: string): Promise<number> {
  let bytes = 0
  for (const name of await readdir(location)) if (name.endsWith('.ldb')) bytes += (await stat(join(location, name))).size
  return bytes
}

async function readAll (q: BackendQueue, n: number): Promise<void> {
  let read = 0
  while (read < n) {
    if (q.read() !== undefined) {
      read++
      continue
    }
    await new Promise<void>((resolve) => { q.onReadable = resolve })
  }
}

describe('level store: reclaiming what was read', () => {
  it('compacts away the tables of records read back and removed, so they are no longer mapped', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nsqts-reclaim-'))
    dirs.push(dir)
    let store = await open(dir)
    // Incompressible bodies, so that the tables are as large as the records: three times the reclaim threshold.
    const records = Math.ceil(3 * RECLAIM_AFTER_BYTES / 4096)
    const q1 = store.queue('t')
    for (let i = 0; i < records; i++) q1.put(encodeMessage(i.toString(16).padStart(16, '0'), i, 0, randomBytes(4000)))
    // On disk, read back from there after the restart.
    store = await reopen(store, dir)
    const location = store.location
    expect(await tableBytes(location)).toBeGreaterThan(2.5 * RECLAIM_AFTER_BYTES)
    const q = store.queue('t')
    expect(q.depth).toBe(records)
    await readAll(q, records)
    await store.reclaimer.settled()
    // What was removed since the last compaction may still be there, in the table that holds it; nothing before it.
    // A compaction run while the queue's iterator was open kept 17-30 MB: the iterator's snapshot held the records.
    expect(await mappedTableBytes(location)).toBeLessThan(RECLAIM_AFTER_BYTES / 2)
    expect(await tableBytes(location)).toBeLessThan(RECLAIM_AFTER_BYTES / 2)
    store = await reopen(store, dir)
    expect(store.queue('t').depth).toBe(0)
  })
})
