import { describe, it, expect, afterEach, vi } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { encodeMessage } from '@nsqts/protocol'
import { LevelStore, type LevelStoreOptions } from '../src/backend/level/store.js'
import { LogSync } from '../src/backend/level/log-sync.js'

// Default mode's --sync-every and --sync-timeout syncs: LevelDB's logs are fdatasync'd beside the writes, which go on
// meanwhile (log-sync.ts).

const dirs: string[] = []
const stores: LevelStore[] = []
/** Held syncs are let go before the stores close, which waits for them, even after a failed test. */
const releases: Array<() => void> = []
afterEach(async () => {
  vi.restoreAllMocks()
  for (const release of releases.splice(0)) release()
  await Promise.all(stores.splice(0).map((s) => s.close()))
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
})

async function open (opts: LevelStoreOptions): Promise<LevelStore> {
  const dir = await mkdtemp(join(tmpdir(), 'nsqts-sync-'))
  dirs.push(dir)
  const store = await LevelStore.open(dir, opts)
  stores.push(store)
  return store
}

/** Puts `n` records on queue 't' and waits until their write landed. */
async function putLanded (store: LevelStore, n: number, from: number): Promise<void> {
  const q = store.queue('t')
  const mark = store.mark()
  for (let i = from; i < from + n; i++) q.put(encodeMessage(String(i).padStart(16, '0'), 0, 0, Buffer.from('x')))
  await store.writeSince(mark)?.settled()
}

/** Holds every log sync until release(), and records what each one synced. */
function holdLogSyncs (): { release: () => void, calls: Array<Promise<string[]>>, called: Promise<void> } {
  const sync = LogSync.prototype.syncFiles
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  releases.push(release)
  let called!: () => void
  const firstCall = new Promise<void>((resolve) => { called = resolve })
  const calls: Array<Promise<string[]>> = []
  vi.spyOn(LogSync.prototype, 'syncFiles').mockImplementation(function (this: LogSync) {
    const result = gate.then(() => sync.call(this))
    calls.push(result)
    called()
    return result
  })
  return { release, calls, called: firstCall }
}

/** A sync's outcome: it synced LevelDB's logs, and only them. */
async function expectLogsSynced (sync: Promise<string[]> | undefined): Promise<void> {
  const synced = (await sync) ?? []
  expect(synced.length).toBeGreaterThan(0)
  for (const name of synced) expect(name).toMatch(/^\d+\.log$/)
}

/** A store whose log syncs are held, with `n` records landed; `syncsBefore`: its sync count before them. */
async function storeWithLanded (opts: LevelStoreOptions, n: number):
Promise<{ store: LevelStore, held: ReturnType<typeof holdLogSyncs>, syncsBefore: number }> {
  const store = await open(opts)
  const held = holdLogSyncs()
  const syncsBefore = store.counters.syncs
  await putLanded(store, n, 0)
  return { store, held, syncsBefore }
}

describe('level store: default mode syncs', () => {
  it('syncs LevelDB\'s log after --sync-every records, and the next write lands while the sync runs', async () => {
    const { store, held, syncsBefore } = await storeWithLanded({ syncEvery: 10, syncTimeout: 3_600_000 }, 20)
    expect(held.calls.length).toBe(1)
    // The sync is still held: a write that waited for it would never land.
    await putLanded(store, 5, 20)
    expect(store.counters.syncs).toBe(syncsBefore)
    held.release()
    await expectLogsSynced(held.calls[0])
    await store.pipeline.drain()
    // The log sync, then the synced write drain makes for the 5 records written after it.
    expect(store.counters.syncs - syncsBefore).toBe(2)
    expect(held.calls.length).toBe(1)
  })

  it('syncs LevelDB\'s log --sync-timeout after a write that --sync-every did not sync', async () => {
    const { store, held, syncsBefore } = await storeWithLanded({ syncEvery: 1_000_000, syncTimeout: 10 }, 3)
    expect(held.calls.length).toBe(0)
    held.release()
    await held.called
    await expectLogsSynced(held.calls[0])
    await store.pipeline.drain()
    // Nothing was written after the timer's sync, so drain had nothing to sync.
    expect(store.counters.syncs - syncsBefore).toBe(1)
  })
})
