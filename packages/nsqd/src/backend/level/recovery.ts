import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Level } from 'level'
import type { Logger } from '@nsqts/protocol'
import {
  FORMAT, KIND_VERSION, KIND_ENTRY, KIND_QUEUED, KIND_KEPT, KIND_ASIDE, RECORD_KEY_LENGTH, CHUNK_KEY_LENGTH,
  idOfKey, seqOfKey, countOfKey, kindStart, kindEnd, asideKey, decodeKept, decodeEntry,
} from './format.js'
import type { LevelOp } from './chunk.js'
import type { Db } from './write-pipeline.js'
import type { StoredPolicy } from '../types.js'

/**
 * What a start finds on disk. Bad data never stops a start: a damaged database is repaired, and entries or records
 * that cannot be read are set aside under 'x' for a person to look at.
 */

/** A queue as found on disk when the store opened. */
export interface FoundQueue {
  name: string | undefined
  paused: boolean
  policy: StoredPolicy | undefined
  count: number
  chunks: number
  firstSeq: number
  /** The seq past its last queued record. */
  endSeq: number
  kept: Array<{ key: Buffer, record: Buffer, dueAt: number }>
  lastKeptSeq: number
}

/** What opening the database found: whether it had to be repaired, and how much of its log LevelDB dropped. */
export interface Opened {
  db: Db
  repaired: boolean
  droppedLogBytes: number
}

/**
 * LevelDB's least (it raises anything lower to this): 10 files of its own and a table cache of 64. It reads tables
 * through mmap, and a table stays mapped, with every page a read touched resident in nsqd's RSS, until the table cache
 * lets it go. Each table LevelDB writes is opened at once to check it (its index pages are touched), so with the
 * default of 1,000 the tables of a publish burst (a 4 MiB memtable made one of about 300 KB) stayed mapped by the
 * hundred: 10-12 MB of nsqd's peak RSS in NSQ's benchmark scenario, against 2 MB with 64.
 */
const MAX_OPEN_FILES = 74
/**
 * LevelDB's memtable, half its default of 4 MiB. It holds the latest writes until it is written out as a table, and a
 * second one fills while that happens: at batch 1 in NSQ's benchmark scenario nsqd peaked 2 MB lower with it (77 MB
 * against 79; paired runs, 2026-12-06), with no change in msgs/s at batch 1, batch 200 or the reader.
 */
const WRITE_BUFFER_BYTES = 2 * 1024 * 1024
/**
 * Where LevelDB cuts the tables its compactions write, a quarter of its default of 2 MiB; a table ends a value or two
 * past it, so with chunks of up to 256 KiB they come out at 1-1.3 MB where the default gives 2-2.3. The table cache
 * holds 64 tables (MAX_OPEN_FILES), so their size bounds what it keeps mapped. One queue's tables are seldom compacted
 * (written in key order, they only move down the levels), but several queues on disk (the channels of one topic) share
 * every table written out of the memtable, those are compacted, and a table can go only once every queue in it has
 * read past it: in bench-storage's fan-out (8 channels read back at once) the readers peaked at 179-189 MB against
 * 219-235 (3 pairs, 2026-12-07), 82-86 MB of it file-backed against 117-132, at the same msgs/s within the noise.
 */
const MAX_FILE_BYTES = 512 * 1024

const errorText = (err: unknown): string => (err as { cause?: Error }).cause?.message ?? (err as Error).message

/** Whether an error of LevelDB's says that what it read is damaged (rather than, say, that it is locked). */
export function isDamage (err: unknown): boolean {
  const codes = [(err as { code?: string }).code, (err as { cause?: { code?: string } }).cause?.code]
  return codes.includes('LEVEL_CORRUPTION') || /Corruption:|IO error: .*\.(ldb|sst|log): /.test(errorText(err))
}

/**
 * Opens the database, repairing it first when asked (`damage` says why) or when it lacks its CURRENT file while it
 * holds tables or logs (LevelDB would start an empty database over them), and repairing it when LevelDB says it is
 * damaged or misses its manifest; repair rebuilds the manifest from the tables and logs that hold the records. A
 * clear message when another nsqd holds it or when it cannot be opened at all.
 */
export async function openDb (location: string, dataPath: string, logger: Logger, damage?: string): Promise<Opened> {
  const make = (): Db => new Level<Buffer, Buffer>(location, {
    keyEncoding: 'buffer',
    valueEncoding: 'buffer',
    maxOpenFiles: MAX_OPEN_FILES,
    writeBufferSize: WRITE_BUFFER_BYTES,
    maxFileSize: MAX_FILE_BYTES,
  })
  let cause = damage
  if (cause === undefined) {
    const names = await readdir(location).catch(() => [] as string[])
    if (!names.includes('CURRENT') && names.some((n) => /\.(ldb|sst|log)$|^MANIFEST-/.test(n))) cause = 'no CURRENT file'
  }
  if (cause === undefined) {
    const db = make()
    try {
      await db.open()
      return { db, repaired: false, droppedLogBytes: await droppedLogBytes(location, logger) }
    } catch (err) {
      const code = (err as { cause?: { code?: string } }).cause?.code
      if (code === 'LEVEL_LOCKED') throw new Error(`--data-path=${dataPath} in use (possibly by another instance of nsqd)`)
      cause = errorText(err)
      if (code !== 'LEVEL_CORRUPTION' && !/MANIFEST-\d+: No such file/.test(cause)) throw new Error(`failed to open ${location} - ${cause}`)
    }
  }
  logger.error(`store: ${location} is damaged (${cause}); repairing it`)
  let db: Db | undefined
  try {
    // `level` re-exports classic-level's class, whose static repair() its typings do not declare.
    await (Level as unknown as { repair (location: string): Promise<void> }).repair(location)
    // Made only now: a Level opens itself on the next tick, and must not race the repair.
    db = make()
    await db.open()
  } catch (err) {
    throw new Error(`failed to open ${location} - ${cause}; repair failed too - ${errorText(err)}`)
  }
  logger.info(`store: ${location} repaired`)
  return { db: db as Db, repaired: true, droppedLogBytes: await droppedLogBytes(location, logger) }
}

/**
 * LevelDB skips the damaged parts of its log when it recovers it at open, and says so only in its own info log
 * (`<location>/LOG`, rewritten at each open): "dropping N bytes; Corruption: ...". Those records are gone; this
 * reports them. A log cut short is not reported by LevelDB at all: to it, that is a write that never finished.
 */
async function droppedLogBytes (location: string, logger: Logger): Promise<number> {
  const text = await readFile(join(location, 'LOG'), 'utf8').catch(() => '')
  let dropped = 0
  for (const m of text.matchAll(/^.*?(\S+): dropping (\d+) bytes; (.*)$/gm)) {
    logger.error(`store: LevelDB dropped ${m[2]} bytes of ${m[1]} while recovering it (${m[3]}): the records in them are lost`)
    dropped += Number(m[2])
  }
  return dropped
}

/**
 * Compacts the tables holding keys [start, end], after writing the memtable out as a table. `level` types only what
 * its Node and browser databases share; Node's (classic-level) has compactRange.
 */
export function compactRange (db: Db, start: Buffer, end: Buffer): Promise<void> {
  return (db as unknown as { compactRange (start: Buffer, end: Buffer): Promise<void> }).compactRange(start, end)
}

/** Writes the format of a new database; refuses one in another format. */
export async function checkFormat (db: Db, location: string): Promise<void> {
  const key = kindStart(KIND_VERSION)
  const value = await db.get(key)
  if (value === undefined) {
    await db.put(key, Buffer.from(FORMAT), { sync: true })
    // Into a table of its own (compactRange writes the memtable out first): a table holding this key and a queue's
    // records would span every record written after them (the format key sorts after all the queues), and LevelDB
    // would merge every later table with it.
    await compactRange(db, key, key)
    return
  }
  if (value.toString() !== FORMAT) {
    throw new Error(`${location} holds format "${value.toString()}", this nsqd reads "${FORMAT}" - drain it with the nsqd that wrote it, or move it away`)
  }
}

/** Reads every entry, counts every queue's records and loads kept ones; whatever cannot be read is set aside. */
export async function scanDb (db: Db, logger: Logger): Promise<{
  found: Map<number, FoundQueue>
  entriesClean: boolean
  setAside: number
}> {
  const found = new Map<number, FoundQueue>()
  const get = (id: number): FoundQueue => {
    let q = found.get(id)
    if (q === undefined) {
      q = {
        name: undefined,
        paused: false,
        policy: undefined,
        count: 0,
        chunks: 0,
        firstSeq: -1,
        endSeq: 0,
        kept: [],
        lastKeptSeq: -1,
      }
      found.set(id, q)
    }
    return q
  }
  const aside: LevelOp[] = []
  const setAside = (key: Buffer, value: Buffer, what: string): void => {
    logger.error(`store: ${what} - set aside as x${key.toString('hex')}`)
    aside.push({ type: 'put', key: asideKey(key), value }, { type: 'del', key })
  }

  let entriesClean = true
  for await (const [key, value] of db.iterator({ gte: kindStart(KIND_ENTRY), lt: kindEnd(KIND_ENTRY) })) {
    const name = key.toString('utf8', 1)
    const entry = decodeEntry(value)
    if (entry === undefined || (found.get(entry.id)?.name ?? name) !== name) {
      entriesClean = false
      setAside(key, value, `entry of ${JSON.stringify(name)} is unreadable (${JSON.stringify(value.toString('latin1').slice(0, 80))})`)
      continue
    }
    const q = get(entry.id)
    q.name = name
    q.paused = entry.paused
    q.policy = entry.policy
  }

  // Keys only (a chunk's key holds its count): a backlog of millions is counted without reading its bodies.
  for await (const key of db.keys({ gte: kindStart(KIND_QUEUED), lt: kindEnd(KIND_QUEUED) })) {
    if (key.length !== CHUNK_KEY_LENGTH || countOfKey(key) === 0) {
      const value = await db.get(key)
      setAside(key, value ?? Buffer.alloc(0), `malformed chunk key ${key.toString('hex')}`)
      continue
    }
    const q = get(idOfKey(key))
    const seq = seqOfKey(key)
    if (q.firstSeq < 0) q.firstSeq = seq
    q.endSeq = seq + countOfKey(key)
    q.count += countOfKey(key)
    q.chunks++
  }

  for await (const [key, value] of db.iterator({ gte: kindStart(KIND_KEPT), lt: kindEnd(KIND_KEPT) })) {
    const kept = key.length === RECORD_KEY_LENGTH ? decodeKept(value) : undefined
    if (kept === undefined) {
      setAside(key, value, `kept record ${key.toString('hex')} is damaged (${value.length} bytes)`)
      continue
    }
    const q = get(idOfKey(key))
    q.kept.push({ key, ...kept })
    q.lastKeptSeq = seqOfKey(key)
  }
  if (aside.length > 0) await db.batch(aside, { sync: true })
  // Set aside now or at an earlier start: what /stats reports until a person removes them.
  let asideCount = 0
  const asideKeys = db.keys({ gte: kindStart(KIND_ASIDE), lt: kindEnd(KIND_ASIDE) })
  for (let batch = await asideKeys.nextv(1000); batch.length > 0; batch = await asideKeys.nextv(1000)) {
    asideCount += batch.length
  }
  await asideKeys.close()
  return { found, entriesClean, setAside: asideCount }
}
