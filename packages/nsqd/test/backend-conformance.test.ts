import { describe, it, expect, afterEach } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Level } from 'level'
import { encodeMessage } from '@nsqts/protocol'
import { MemoryBackend } from '../src/backend/memory.js'
import { LevelStore } from '../src/backend/level/store.js'
import type { BackendQueue } from '../src/backend/types.js'

/** A stored-form record whose id encodes `n` and whose body says `body-n`. */
function rec (n: number, bodySize = 0): Buffer {
  const id = n.toString(16).padStart(16, '0')
  const body = bodySize > 0 ? Buffer.alloc(bodySize, n % 251) : Buffer.from(`body-${n}`)
  return encodeMessage(id, 1_700_000_000_000 + n, 0, body)
}

function numOf (record: Buffer): number {
  return parseInt(record.toString('latin1', 10, 26), 16)
}

/** Reads `n` records, waiting on onReadable whenever the queue has nothing ready; fails after timeoutMs. */
async function readN (q: BackendQueue, n: number, timeoutMs = 10_000): Promise<Buffer[]> {
  const out: Buffer[] = []
  const deadline = Date.now() + timeoutMs
  while (out.length < n) {
    const r = q.read()
    if (r !== undefined) {
      out.push(r)
      continue
    }
    const left = deadline - Date.now()
    if (left <= 0) throw new Error(`read ${out.length} of ${n} records`)
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, left)
      q.onReadable = () => { clearTimeout(t); resolve() }
    })
  }
  return out
}

/** Runs `fn` on the closed store's database, opened raw. */
async function withDb<T> (dir: string, fn: (db: Level<Buffer, Buffer>) => Promise<T>): Promise<T> {
  const db = new Level<Buffer, Buffer>(join(dir, 'nsqd.leveldb'), { keyEncoding: 'buffer', valueEncoding: 'buffer' })
  try {
    return await fn(db)
  } finally {
    await db.close()
  }
}

const chunkKeys = (db: Level<Buffer, Buffer>): Promise<Buffer[]> => db.keys({ gte: Buffer.from('q'), lt: Buffer.from('r') }).all()

/** [first seq, record count] of a chunk's key. */
function chunkOf (key: Buffer): [number, number] {
  return [key.readUInt32BE(9), key.readUInt32BE(13)]
}

interface Backend {
  /** A queue of the backend; `name` distinguishes queues sharing one store. */
  make (name: string): BackendQueue
  /** Closes everything and opens it again as a restart would; undefined for backends that keep nothing. */
  restart?: () => Promise<void>
  close (): Promise<void>
}

interface Implementation {
  name: string
  open (opts?: { cacheRecords?: number }): Promise<Backend>
}

const dirs: string[] = []
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
})

async function levelBackend (
  opts: { cacheRecords?: number, durable?: boolean } = {},
): Promise<Backend & { store: () => LevelStore, dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'nsqts-backend-'))
  dirs.push(dir)
  let store = await LevelStore.open(dir, { cacheRecords: opts.cacheRecords ?? 64, durable: opts.durable })
  return {
    dir,
    store: () => store,
    make: (name) => store.queue(name),
    async restart () {
      await store.close()
      store = await LevelStore.open(dir, { cacheRecords: opts.cacheRecords ?? 64, durable: opts.durable })
    },
    close: () => store.close(),
  }
}

const implementations: Implementation[] = [
  {
    name: 'memory',
    async open () {
      return { make: () => new MemoryBackend(), close: async () => {} }
    },
  },
  { name: 'level', open: (opts) => levelBackend(opts) },
  { name: 'level (durable)', open: (opts) => levelBackend({ ...opts, durable: true }) },
]

describe.each(implementations)('BackendQueue conformance: $name', (impl) => {
  it('reads nothing from a new queue', async () => {
    const b = await impl.open()
    const q = b.make('t')
    expect(q.depth).toBe(0)
    expect(q.read()).toBeUndefined()
    expect(q.paused).toBe(false)
    await b.close()
  })

  it('returns records in the order they were put, and counts them exactly', async () => {
    const b = await impl.open()
    const q = b.make('t')
    for (let i = 0; i < 10; i++) q.put(rec(i))
    expect(q.depth).toBe(10)
    const got = await readN(q, 4)
    expect(got.map(numOf)).toEqual([0, 1, 2, 3])
    expect(q.depth).toBe(6)
    const rest = await readN(q, 6)
    expect(rest.map(numOf)).toEqual([4, 5, 6, 7, 8, 9])
    expect(rest[0]?.equals(rec(4))).toBe(true)
    expect(q.depth).toBe(0)
    expect(q.read()).toBeUndefined()
    await b.close()
  })

  it('streams a backlog far larger than its read-ahead in order, interleaved with new puts', async () => {
    const b = await impl.open({ cacheRecords: 32 })
    const q = b.make('t')
    let next = 0
    let expected = 0
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 500; i++) q.put(rec(next++, 100))
      const got = await readN(q, 300)
      for (const r of got) expect(numOf(r)).toBe(expected++)
    }
    expect(q.depth).toBe(next - expected)
    const got = await readN(q, next - expected)
    for (const r of got) expect(numOf(r)).toBe(expected++)
    expect(q.depth).toBe(0)
    await b.close()
  })

  it('keeps queues apart', async () => {
    const b = await impl.open()
    const a = b.make('a')
    const c = b.make('a:c')
    a.put(rec(1))
    c.put(rec(2))
    c.put(rec(3))
    expect((await readN(c, 2)).map(numOf)).toEqual([2, 3])
    expect((await readN(a, 1)).map(numOf)).toEqual([1])
    await b.close()
  })

  it('empty() drops every record and the queue goes on working', async () => {
    const b = await impl.open({ cacheRecords: 8 })
    const q = b.make('t')
    for (let i = 0; i < 100; i++) q.put(rec(i))
    await q.empty()
    expect(q.depth).toBe(0)
    expect(q.read()).toBeUndefined()
    q.put(rec(1000))
    expect((await readN(q, 1)).map(numOf)).toEqual([1000])
    await b.close()
  })

  it('carries large records intact', async () => {
    const b = await impl.open({ cacheRecords: 2 })
    const q = b.make('t')
    for (let i = 0; i < 6; i++) q.put(rec(i, 1024 * 1024))
    const got = await readN(q, 6)
    got.forEach((r, i) => expect(r.equals(rec(i, 1024 * 1024))).toBe(true))
    await b.close()
  })

  it('delete() drops the queue', async () => {
    const b = await impl.open()
    const q = b.make('t')
    q.put(rec(1))
    await q.delete()
    expect(q.depth).toBe(0)
    await b.close()
  })

  it('peeks the next records in read order without reading them, from the read-ahead and from disk', async () => {
    const b = await impl.open({ cacheRecords: 16 })
    const q = b.make('t')
    for (let i = 0; i < 300; i++) q.put(rec(i))
    expect((await q.peek(5)).map(numOf)).toEqual([0, 1, 2, 3, 4])
    const first = await readN(q, 10)
    for (const r of first) q.ack(numOf(r).toString(16).padStart(16, '0'))
    // Past the read-ahead (16 records) and into what is only on disk.
    const peeked = await q.peek(100)
    expect(peeked.map(numOf)).toEqual(Array.from({ length: 100 }, (_, i) => i + 10))
    expect(peeked[0]?.equals(rec(10))).toBe(true)
    expect((await q.peek(1000)).length).toBe(290)
    expect(q.depth).toBe(290)
    // Reads go on exactly where they were.
    expect((await readN(q, 290)).map(numOf)).toEqual(Array.from({ length: 290 }, (_, i) => i + 10))
    expect(await q.peek(10)).toEqual([])
    await b.close()
  })

  it('peeks records put in this turn, before their write', async () => {
    const b = await impl.open({ cacheRecords: 4 })
    const q = b.make('t')
    for (let i = 0; i < 20; i++) q.put(rec(i))
    expect((await q.peek(20)).map(numOf)).toEqual(Array.from({ length: 20 }, (_, i) => i))
    expect((await readN(q, 20)).map(numOf)).toEqual(Array.from({ length: 20 }, (_, i) => i))
    await b.close()
  })

  it('keeps the policy it is given', async () => {
    const b = await impl.open()
    const q = b.make('t:c')
    expect(q.policy).toBeUndefined()
    q.setPolicy({ max_attempts: 3, ttl_ms: 1500 })
    expect(q.policy).toEqual({ max_attempts: 3, ttl_ms: 1500 })
    q.setPolicy(undefined)
    expect(q.policy).toBeUndefined()
    await b.close()
  })
})

describe.each(implementations.filter((i) => i.name !== 'memory'))('persistent BackendQueue: $name', (impl) => {
  it('keeps policies across a restart, beside the paused flag; a cleared one is gone', async () => {
    const b = await impl.open()
    b.make('t').setPolicy({ max_depth: 10, overflow: 'reject' })
    const c = b.make('t:c')
    c.setPolicy({ max_attempts: 2 })
    c.setPaused(true)
    const d = b.make('t:d')
    d.setPolicy({ max_attempts: 2 })
    d.setPolicy(undefined)
    await b.restart?.()
    expect(b.make('t').policy).toEqual({ max_depth: 10, overflow: 'reject' })
    const c2 = b.make('t:c')
    expect([c2.policy, c2.paused]).toEqual([{ max_attempts: 2 }, true])
    expect(b.make('t:d').policy).toBeUndefined()
    await b.close()
  })

  it('keeps unread records, their order, names and paused flags across a restart; read ones are gone', async () => {
    const b = await impl.open({ cacheRecords: 16 })
    const q = b.make('t')
    const c = b.make('t:c')
    for (let i = 0; i < 200; i++) q.put(rec(i))
    c.put(rec(999))
    c.setPaused(true)
    const first = await readN(q, 50)
    for (const r of first) q.ack(numOf(r).toString(16).padStart(16, '0'))
    expect(q.depth).toBe(150)
    await b.restart?.()
    const q2 = b.make('t')
    const c2 = b.make('t:c')
    expect(q2.depth).toBe(150)
    expect(c2.paused).toBe(true)
    expect(q2.paused).toBe(false)
    expect((await readN(q2, 150)).map(numOf)).toEqual(Array.from({ length: 150 }, (_, i) => i + 50))
    expect((await readN(c2, 1)).map(numOf)).toEqual([999])
    await b.close()
  })

  it('gives kept records back with their due time after a restart', async () => {
    const b = await impl.open()
    const q = b.make('t')
    q.keep(rec(7), 1_234_567)
    q.keep(rec(8), 2_345_678)
    expect(q.takeKept()).toEqual([])
    await b.restart?.()
    const kept = b.make('t').takeKept()
    expect(kept.map((k) => [numOf(k.record), k.dueAt])).toEqual([[7, 1_234_567], [8, 2_345_678]])
    expect(kept[0]?.record.equals(rec(7))).toBe(true)
    await b.close()
  })

  it('a deleted queue stays deleted, and a new one of the same name starts empty', async () => {
    const b = await impl.open()
    const q = b.make('t')
    q.put(rec(1))
    q.keep(rec(2), 5)
    await q.delete()
    const again = b.make('t')
    again.put(rec(3))
    await b.restart?.()
    const q2 = b.make('t')
    expect(q2.depth).toBe(1)
    expect((await readN(q2, 1)).map(numOf)).toEqual([3])
    expect(q2.takeKept()).toEqual([])
    await b.close()
  })
})

describe('level store', () => {
  it('default mode: a kept record is handed over once; after the next restart it is gone', async () => {
    const b = await levelBackend()
    b.make('t').keep(rec(1), 99)
    await b.restart?.()
    expect(b.make('t').takeKept()).toHaveLength(1)
    await b.restart?.()
    expect(b.make('t').takeKept()).toHaveLength(0)
    await b.close()
  })

  it('durable mode: read records stay until acked or stored again; a clean close after the owner stored what it holds keeps exactly that', async () => {
    const b = await levelBackend({ durable: true, cacheRecords: 8 })
    const q = b.make('t')
    for (let i = 0; i < 5; i++) q.put(rec(i))
    const got = await readN(q, 5)
    q.ack(got[0]!.toString('latin1', 10, 26)) // 0 finished
    q.put(got[1]!) // 1 requeued: one record, not two
    q.keep(got[2]!, 4_000_000_000_000) // 2 deferred
    // 3 and 4 are in flight; at shutdown nsqd stores them again (with their attempts), as here.
    q.put(got[3]!)
    q.put(got[4]!)
    await b.close()
    // Every record of the first chunk was done: it is gone, and the three requeued ones sit in a chunk of their own.
    expect((await withDb(b.dir, chunkKeys)).map(chunkOf)).toEqual([[5, 3]])
    await b.restart?.()
    const q2 = b.make('t')
    expect(q2.depth).toBe(3)
    expect((await readN(q2, 3)).map(numOf)).toEqual([1, 3, 4])
    const kept = q2.takeKept()
    expect(kept.map((k) => numOf(k.record))).toEqual([2])
    await b.restart?.()
    // Nothing was acked: everything comes back again.
    const q3 = b.make('t')
    expect(q3.depth).toBe(3)
    expect(q3.takeKept()).toHaveLength(1)
    await b.close()
  })

  it('durable mode: a chunk partly finished when nsqd dies comes back whole; it goes once every record is done', async () => {
    const b = await levelBackend({ durable: true })
    const q = b.make('t')
    const mark = b.store().mark()
    for (let i = 0; i < 10; i++) q.put(rec(i))
    await b.store().writeSince(mark)?.settled()
    const got = await readN(q, 10)
    const acked = b.store().mark()
    for (const r of got.slice(0, 7)) q.ack(r.toString('latin1', 10, 26))
    // Whatever the acks wrote has landed; then kill -9: nothing more reaches the disk (no final write).
    await b.store().writeSince(acked)?.settled()
    await b.store().db.close()
    const crashed = await LevelStore.open(b.dir, { durable: true })
    const q2 = crashed.queue('t')
    expect(q2.depth).toBe(10)
    const again = await readN(q2, 10)
    expect(again.map(numOf)).toEqual(Array.from({ length: 10 }, (_, i) => i))
    // Finished but for one, then that one too: the chunk goes with the last.
    for (const r of again.slice(0, 9)) q2.ack(r.toString('latin1', 10, 26))
    await crashed.close()
    expect((await withDb(b.dir, chunkKeys)).map(chunkOf)).toEqual([[0, 10]])
    const last = await LevelStore.open(b.dir, { durable: true })
    const q3 = last.queue('t')
    const all = await readN(q3, 10)
    for (const r of all) q3.ack(r.toString('latin1', 10, 26))
    await last.close()
    expect(await withDb(b.dir, chunkKeys)).toHaveLength(0)
  })

  it('durable mode: a requeue stores the record again before its old chunk goes; a kill in between duplicates it', async () => {
    const b = await levelBackend({ durable: true })
    const q = b.make('t')
    let mark = b.store().mark()
    for (let i = 0; i < 5; i++) q.put(rec(i))
    await b.store().writeSince(mark)?.settled()
    const got = await readN(q, 5)
    const requeued = Buffer.from(got[1]!)
    requeued.writeUInt16BE(1, 8) // delivered once
    mark = b.store().mark()
    q.put(requeued)
    await b.store().writeSince(mark)?.settled()
    // Killed now: the old chunk (none of its records finished) and the requeued record both come back.
    await b.store().db.close()
    expect((await withDb(b.dir, chunkKeys)).map(chunkOf)).toEqual([[0, 5], [5, 1]])
    const store = await LevelStore.open(b.dir, { durable: true })
    const q2 = store.queue('t')
    const again = await readN(q2, 6)
    expect(again.map(numOf)).toEqual([0, 1, 2, 3, 4, 1])
    expect(again[5]!.readUInt16BE(8)).toBe(1)
    // Requeued once more, the rest finished: only the latest copy stays, in a chunk of its own (the second copy read
    // stood in for the first, so the old chunk is done too).
    mark = store.mark()
    q2.put(again[5]!)
    for (const r of again.slice(0, 5)) q2.ack(r.toString('latin1', 10, 26))
    await store.writeSince(mark)?.settled()
    await store.db.close()
    expect((await withDb(b.dir, chunkKeys)).map(chunkOf)).toEqual([[6, 1]])
  })

  it('durable mode: a clean close stores exactly the unread rest of a chunk whose read records are all finished', async () => {
    const b = await levelBackend({ durable: true })
    const q = b.make('t')
    const mark = b.store().mark()
    for (let i = 0; i < 10; i++) q.put(rec(i))
    await b.store().writeSince(mark)?.settled()
    for (const r of await readN(q, 4)) q.ack(r.toString('latin1', 10, 26))
    await b.close()
    expect((await withDb(b.dir, chunkKeys)).map(chunkOf)).toEqual([[4, 6]])
    await b.restart?.()
    expect((await readN(b.make('t'), 6)).map(numOf)).toEqual([4, 5, 6, 7, 8, 9])
    await b.close()
  })

  it('refuses a second open of the same data path with a clear message', async () => {
    const b = await levelBackend()
    await expect(LevelStore.open(b.dir)).rejects.toThrow(`--data-path=${b.dir} in use (possibly by another instance of nsqd)`)
    await b.close()
  })

  it('sets a damaged chunk aside, skips its records and keeps the depth exact', async () => {
    const b = await levelBackend({ cacheRecords: 4 })
    const q = b.make('t')
    // Three writes, three chunks: 0-3, 4-6, 7-9.
    for (const [from, to] of [[0, 4], [4, 7], [7, 10]] as const) {
      const mark = b.store().mark()
      for (let i = from; i < to; i++) q.put(rec(i))
      await b.store().writeSince(mark)?.settled()
    }
    await b.close()
    // Damage the middle chunk in place, as a bad disk would.
    const keys = await withDb(b.dir, async (db) => {
      const keys = await chunkKeys(db)
      const value = (await db.get(keys[1]!))!
      value[value.length - 1] = (value.at(-1) as number) ^ 0xff
      await db.put(keys[1]!, value)
      return keys
    })
    expect(keys.map(chunkOf)).toEqual([[0, 4], [4, 3], [7, 3]])

    const errors: string[] = []
    const logger = { debug () {}, info () {}, warn () {}, error: (m: string) => errors.push(m) }
    const store = await LevelStore.open(b.dir, { cacheRecords: 4, logger })
    const q2 = store.queue('t')
    expect(q2.depth).toBe(10)
    expect((await readN(q2, 7)).map(numOf)).toEqual([0, 1, 2, 3, 7, 8, 9])
    expect(q2.depth).toBe(0)
    expect(errors.join('\n')).toMatch(/chunk of records 4\.\.6 of queue t is damaged .* set aside as x71/)
    await store.close()
    await withDb(b.dir, async (db) => {
      expect(await db.keys({ gte: Buffer.from('x'), lt: Buffer.from('y') }).all()).toHaveLength(1)
      expect(await chunkKeys(db)).toHaveLength(0)
    })
  })

  it('stores the records a queue puts in one write as one chunk, at most MAX_CHUNK_RECORDS each', async () => {
    const b = await levelBackend({ cacheRecords: 16 })
    const q = b.make('t')
    let mark = b.store().mark()
    for (let i = 0; i < 5000; i++) q.put(rec(i))
    await b.store().writeSince(mark)?.settled()
    mark = b.store().mark()
    for (let i = 5000; i < 5010; i++) q.put(rec(i))
    await b.store().writeSince(mark)?.settled()
    await b.close()
    // The read-ahead took the first 16 in a chunk of their own, so that a load always starts at a chunk.
    const keys = await withDb(b.dir, chunkKeys)
    expect(keys.map(chunkOf)).toEqual([[0, 16], [16, 2048], [2064, 2048], [4112, 888], [5000, 10]])
    await b.restart?.()
    const q2 = b.make('t')
    expect(q2.depth).toBe(5010)
    expect((await readN(q2, 5010)).map(numOf)).toEqual(Array.from({ length: 5010 }, (_, i) => i))
    await b.close()
  })

  it('a chunk read in part before its write is stored without the records read', async () => {
    const b = await levelBackend({ cacheRecords: 1000 })
    const q = b.make('t')
    for (let i = 0; i < 100; i++) q.put(rec(i))
    expect((await readN(q, 40)).map(numOf)).toEqual(Array.from({ length: 40 }, (_, i) => i))
    await b.close()
    expect((await withDb(b.dir, chunkKeys)).map(chunkOf)).toEqual([[40, 60]])
  })

  it('a clean close stores exactly the unread rest of a chunk read in part, from disk or from the read-ahead', async () => {
    const b = await levelBackend({ cacheRecords: 1000 })
    const q = b.make('t')
    const mark = b.store().mark()
    for (let i = 0; i < 100; i++) q.put(rec(i))
    q.put(rec(100)) // same write, same chunk
    await b.store().writeSince(mark)?.settled()
    // Written, then read in part from the read-ahead.
    expect((await readN(q, 30)).map(numOf)).toEqual(Array.from({ length: 30 }, (_, i) => i))
    await b.close()
    expect((await withDb(b.dir, chunkKeys)).map(chunkOf)).toEqual([[30, 71]])
    await b.restart?.()
    // Loaded from disk, then read in part.
    const q2 = b.make('t')
    expect(q2.depth).toBe(71)
    expect((await readN(q2, 21)).map(numOf)).toEqual(Array.from({ length: 21 }, (_, i) => i + 30))
    await b.close()
    expect((await withDb(b.dir, chunkKeys)).map(chunkOf)).toEqual([[51, 50]])
    await b.restart?.()
    const q3 = b.make('t')
    expect(q3.depth).toBe(50)
    expect((await readN(q3, 50)).map(numOf)).toEqual(Array.from({ length: 50 }, (_, i) => i + 51))
    await b.close()
    // Read to the end: the chunk is gone.
    expect(await withDb(b.dir, chunkKeys)).toHaveLength(0)
  })

  it('durable mode takes over chunks written in default mode, acks and all', async () => {
    const b = await levelBackend()
    const q = b.make('t')
    for (let i = 0; i < 10; i++) q.put(rec(i))
    await b.close()
    const durable = await LevelStore.open(b.dir, { durable: true })
    const q2 = durable.queue('t')
    const got = await readN(q2, 10)
    for (const r of got.slice(0, 3)) q2.ack(r.toString('latin1', 10, 26))
    // The rest in flight: the chunk stays whole until they are done, here stored again as a shutdown does.
    for (const r of got.slice(3)) q2.put(r)
    await durable.close()
    expect((await withDb(b.dir, chunkKeys)).map(chunkOf)).toEqual([[10, 7]])
    const again = await LevelStore.open(b.dir, { durable: true })
    expect((await readN(again.queue('t'), 7)).map(numOf)).toEqual([3, 4, 5, 6, 7, 8, 9])
    await again.close()
  })

  it('refuses a database of another format with a clear message', async () => {
    const b = await levelBackend()
    await b.close()
    await withDb(b.dir, (db) => db.put(Buffer.from('v'), Buffer.from('nsqts-level/1')))
    await expect(LevelStore.open(b.dir)).rejects.toThrow(/holds format "nsqts-level\/1", this nsqd reads "nsqts-level\/2"/)
  })

  it('a failed write fails its waiters and the health, is retried, and the next good write clears it', async () => {
    const b = await levelBackend()
    const health: Array<string | undefined> = []
    await b.close()
    const store = await LevelStore.open(b.dir, { onHealth: (e) => health.push(e?.message) })
    const q = store.queue('t')
    await store.writeSince(-1)?.settled()
    store.injectWriteFault(new Error('disk full'))
    const mark = store.mark()
    q.put(rec(1))
    const w = store.writeSince(mark)
    await expect(w?.settled()).rejects.toThrow('disk full')
    expect(health).toEqual(['disk full'])
    store.injectWriteFault(undefined)
    const mark2 = store.mark()
    q.put(rec(2))
    await store.writeSince(mark2)?.settled()
    expect(health).toEqual(['disk full', undefined])
    await store.close()
    // The record of the failed write was retried with the next one: both are stored.
    const again = await LevelStore.open(b.dir)
    expect((await readN(again.queue('t'), 2)).map(numOf)).toEqual([1, 2])
    await again.close()
  })
})
