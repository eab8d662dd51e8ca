import { Level } from 'level'
import type { Logger } from '@nsqts/protocol'
import {
  FORMAT, KIND_VERSION, KIND_ENTRY, KIND_QUEUED, KIND_KEPT, RECORD_KEY_LENGTH, CHUNK_KEY_LENGTH,
  idOfKey, seqOfKey, countOfKey, kindStart, kindEnd, asideKey, decodeKept, decodeEntry,
} from './format.js'
import type { LevelOp } from './chunk.js'
import type { Db } from './write-pipeline.js'

/**
 * What a start finds on disk. Bad data never stops a start: a damaged database is repaired, and entries or records
 * that cannot be read are set aside under 'x' for a person to look at.
 */

/** A queue as found on disk when the store opened. */
export interface FoundQueue {
  name: string | undefined
  paused: boolean
  count: number
  chunks: number
  firstSeq: number
  /** The seq past its last queued record. */
  endSeq: number
  kept: Array<{ key: Buffer, record: Buffer, dueAt: number }>
  lastKeptSeq: number
}

/** Opens the database, repairing it when LevelDB says it is damaged; a clear message when another nsqd holds it. */
export async function openDb (location: string, dataPath: string, logger: Logger): Promise<Db> {
  const make = (): Db => new Level<Buffer, Buffer>(location, { keyEncoding: 'buffer', valueEncoding: 'buffer' })
  let db = make()
  try {
    await db.open()
    return db
  } catch (err) {
    const code = (err as { cause?: { code?: string } }).cause?.code
    if (code === 'LEVEL_LOCKED') throw new Error(`--data-path=${dataPath} in use (possibly by another instance of nsqd)`)
    if (code !== 'LEVEL_CORRUPTION') {
      throw new Error(`failed to open ${location} - ${(err as { cause?: Error }).cause?.message ?? (err as Error).message}`)
    }
    logger.error(`store: ${location} is damaged (${(err as { cause?: Error }).cause?.message ?? ''}); repairing it`)
  }
  // `level` re-exports classic-level's class, whose static repair() its typings do not declare.
  await (Level as unknown as { repair (location: string): Promise<void> }).repair(location)
  db = make()
  await db.open()
  logger.info(`store: ${location} repaired`)
  return db
}

/** Writes the format of a new database; refuses one in another format. */
export async function checkFormat (db: Db, location: string): Promise<void> {
  const key = kindStart(KIND_VERSION)
  const value = await db.get(key)
  if (value === undefined) {
    await db.put(key, Buffer.from(FORMAT), { sync: true })
    return
  }
  if (value.toString() !== FORMAT) {
    throw new Error(`${location} holds format "${value.toString()}", this nsqd reads "${FORMAT}" - drain it with the nsqd that wrote it, or move it away`)
  }
}

/** Reads every entry, counts every queue's records and loads kept ones; whatever cannot be read is set aside. */
export async function scanDb (db: Db, logger: Logger): Promise<{ found: Map<number, FoundQueue>, entriesClean: boolean }> {
  const found = new Map<number, FoundQueue>()
  const get = (id: number): FoundQueue => {
    let q = found.get(id)
    if (q === undefined) {
      q = { name: undefined, paused: false, count: 0, chunks: 0, firstSeq: -1, endSeq: 0, kept: [], lastKeptSeq: -1 }
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
  return { found, entriesClean }
}
