import { describe, it, expect, afterEach } from 'vitest'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { encodeMessage } from '@nsqts/protocol'
import { LevelStore } from '../src/backend/level/store.js'
import { KIND_KEPT, KIND_QUEUED, chunkKey, markerKeyAfter, recordKey } from '../src/backend/level/format.js'

// The shape of the tables LevelDB makes of a queue's writes costs nsqd CPU and RSS: a table whose key range spans
// records written later is merged with every later table, and every table kept open stays mapped.

const dirs: string[] = []
const stores: LevelStore[] = []
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()))
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
})

/** classic-level's own methods, which `level`'s types leave out. */
interface NodeLevel {
  compactRange (start: Buffer, end: Buffer): Promise<void>
  getProperty (property: string): string
}

async function open (): Promise<LevelStore> {
  const dir = await mkdtemp(join(tmpdir(), 'nsqts-tables-'))
  dirs.push(dir)
  // Syncs only when the test asks for one (drain), through the marker write drain ends with.
  const store = await LevelStore.open(dir, { cacheRecords: 1, syncEvery: 1_000_000_000, syncTimeout: 3_600_000 })
  stores.push(store)
  return store
}

/** Writes LevelDB's memtable out as a table: compactRange does that first, and nothing lies in the range 'z'. */
async function flushMemtable (store: LevelStore): Promise<void> {
  await (store.db as unknown as NodeLevel).compactRange(Buffer.from('z'), Buffer.from('z'))
}

/** Each table's first and last key, from LevelDB's own listing ("'first' @ seq : type .. 'last' @ seq : type"). */
function tableRanges (store: LevelStore): Array<{ first: string, last: string }> {
  const listing = (store.db as unknown as NodeLevel).getProperty('leveldb.sstables')
  return [...listing.matchAll(/\['(.*?)' @ \d+ : \d+ \.\. '(.*?)' @ \d+ : \d+\]/g)]
    .map((m) => ({ first: m[1] as string, last: m[2] as string }))
}

/** Each table's size in bytes, from the same listing ("number:size[...]"). */
function tableSizes (store: LevelStore): number[] {
  const listing = (store.db as unknown as NodeLevel).getProperty('leveldb.sstables')
  return [...listing.matchAll(/^ *\d+:(\d+)\[/gm)].map((m) => Number(m[1]))
}

describe('level store: the tables of a queue', () => {
  it('makes no table that spans records written after it, across the synced writes drain makes', async () => {
    const store = await open()
    const q = store.queue('t')
    const syncsBefore = store.pipeline.counters.syncs
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 50; i++) q.put(encodeMessage(String(round * 50 + i).padStart(16, '0'), 0, 0, Buffer.from('x')))
      // A synced write of a marker, since records were written after the last sync.
      await store.pipeline.drain()
      await flushMemtable(store)
    }
    expect(store.pipeline.counters.syncs - syncsBefore).toBe(4)
    const tables = tableRanges(store)
    expect(tables.length).toBeGreaterThanOrEqual(4)
    // Kinds sort 'i' < 'k' < 'q' < 's' < 'v': a table ending past the queues ('s', 'v') must start there too.
    const spanning = tables.filter((t) => /^[sv]/.test(t.last) && !/^[sv]/.test(t.first))
    expect(spanning).toEqual([])
    expect(q.depth).toBe(200)
  })

  it('keeps at most 64 tables mapped however many it wrote', async () => {
    const store = await open()
    const q = store.queue('t')
    // LevelDB opens each table it writes to check it, and maps it (mmap) while its table cache holds it.
    for (let i = 0; i < 80; i++) {
      q.put(encodeMessage(String(i).padStart(16, '0'), 0, 0, Buffer.from('x')))
      await store.pipeline.drain()
      await flushMemtable(store)
    }
    expect(tableRanges(store).length).toBeGreaterThanOrEqual(80)
    const mapped = new Set<string>()
    for (const line of (await readFile('/proc/self/maps', 'utf8')).split('\n')) {
      const path = line.slice(line.indexOf('/'))
      if (path.startsWith(store.location) && path.endsWith('.ldb')) mapped.add(path)
    }
    expect(mapped.size).toBeGreaterThan(0)
    expect(mapped.size).toBeLessThanOrEqual(64)
  })

  it('cuts the tables its compactions write at half the size LevelDB\'s default gives them', async () => {
    const store = await open()
    // Two queues written side by side (two channels of a topic): every table written out of the memtable spans both,
    // overlaps the one before it and is compacted, where one queue's tables only move down the levels whole.
    const queues = [store.queue('a'), store.queue('b')]
    for (let i = 0; i < 4_000; i++) {
      // Bodies that do not compress, so that a table's size is what its records take.
      for (const q of queues) q.put(encodeMessage(String(i).padStart(16, '0'), 0, 0, randomBytes(1_000)))
      if (i % 500 === 499) await store.pipeline.drain()
    }
    await (store.db as unknown as NodeLevel).compactRange(Buffer.from([0]), Buffer.from([0xff]))
    const sizes = tableSizes(store)
    expect(sizes.reduce((a, b) => a + b, 0)).toBeGreaterThan(7_000_000)
    // The table cache keeps 64 tables mapped, and what it maps goes with their size (recovery.ts, MAX_FILE_BYTES).
    // A table is cut once it passed the size, so it ends a chunk or two (here 257 KB each) beyond: 1.29 MB, where
    // LevelDB's default of 2 MiB makes them 2.33 MB.
    expect(Math.max(...sizes)).toBeLessThan(1_600_000)
  })

  it('puts a sync marker right after the key it follows, on no record\'s key', () => {
    const between = (low: Buffer, key: Buffer, high: Buffer): boolean =>
      Buffer.compare(low, key) < 0 && Buffer.compare(key, high) < 0
    fc.assert(fc.property(
      fc.nat({ max: 0xffffffff }), fc.nat({ max: 2 ** 52 }),
      fc.integer({ min: 1, max: 2048 }), fc.integer({ min: 1, max: 2048 }),
      (id, seq, count, nextCount) => {
        const chunk = chunkKey(id, seq, count)
        const next = chunkKey(id, seq + count, nextCount)
        const kept = recordKey(KIND_KEPT, id, seq)
        const markers = [markerKeyAfter(recordKey(KIND_QUEUED, id, seq)), markerKeyAfter(chunk), markerKeyAfter(kept)]
        return between(chunk, markers[0] as Buffer, next) && between(chunk, markers[1] as Buffer, next) &&
          between(kept, markers[2] as Buffer, recordKey(KIND_KEPT, id, seq + 1)) &&
          markers.every((m) => m.length !== 13 && m.length !== 17)
      }))
  })
})
