import { describe, it, expect, afterEach } from 'vitest'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { closeSync, openSync, readdirSync, statSync, truncateSync, unlinkSync, writeFileSync, writeSync, mkdirSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { commands, FrameDecoder, FrameType } from '@nsqts/protocol'
import { waitFor } from '@nsqts/testkit'
import { spawnNsqd, killLeftovers, open, stats, numberOf, type Daemon } from './storage-process.js'

// Damaged data at start, on nsqd as a process (packages/nsqd/dist): it starts with what it can read and counts what it
// set aside in /stats (store_damage), or refuses with one line naming the path; it never crashes on what it reads
// and never empties a queue without saying so.

const COUNT = 20_000
const TOPIC = 'dmg'
const BIN = new URL('../dist/bin/nsqd.js', import.meta.url).pathname

const dirs: string[] = []
afterEach(async () => {
  killLeftovers()
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
})

interface Damage { set_aside: number, skipped_records: number, repaired: boolean, log_bytes_dropped: number }

async function storeDamage (base: string): Promise<Damage | undefined> {
  const body = await (await fetch(`${base}/stats?format=json&include_clients=false`)).json() as { store_damage?: Damage }
  return body.store_damage
}

/** Random (incompressible) bodies numbered in their first 12 bytes, so that LevelDB's tables are as big as the data. */
async function fill (d: Daemon): Promise<void> {
  expect((await fetch(`${d.httpUrl}/channel/create?topic=${TOPIC}&channel=c`, { method: 'POST' })).status).toBe(404)
  expect((await fetch(`${d.httpUrl}/topic/create?topic=${TOPIC}`, { method: 'POST' })).status).toBe(200)
  expect((await fetch(`${d.httpUrl}/channel/create?topic=${TOPIC}&channel=c`, { method: 'POST' })).status).toBe(200)
  for (let i = 0; i < COUNT; i += 500) {
    const body = Array.from({ length: 500 }, (_, k) => String(i + k).padEnd(12, ' ') + randomBytes(60).toString('hex')).join('\n')
    expect((await fetch(`${d.httpUrl}/mpub?topic=${TOPIC}`, { method: 'POST', body })).status).toBe(200)
  }
}

/** A data path holding COUNT messages on channel c: in a table file (.ldb) after `tables`, else in LevelDB's log. */
async function prepared (tables: boolean): Promise<{ dir: string, db: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'nsqts-damage-'))
  dirs.push(dir)
  const d = await spawnNsqd(dir, ['--mem-queue-size=0'])
  await fill(d)
  if (tables) {
    expect(await d.stop('SIGTERM')).toBe(0)
    // LevelDB turns the log it finds at open into a table.
    expect(await (await spawnNsqd(dir)).stop('SIGTERM')).toBe(0)
  } else {
    expect(await d.stop('SIGKILL')).toBeNull()
  }
  return { dir, db: join(dir, 'nsqd.leveldb') }
}

function largest (db: string, ext: string): string {
  const files = readdirSync(db).filter((f) => f.endsWith(ext)).map((f) => join(db, f))
  expect(files.length).toBeGreaterThan(0)
  return files.sort((a, b) => statSync(b).size - statSync(a).size)[0] as string
}

function garble (file: string): void {
  const fd = openSync(file, 'r+')
  writeSync(fd, randomBytes(8192), 0, 8192, statSync(file).size >> 2)
  closeSync(fd)
}

/** Consumes channel c, finishing everything, until nothing is queued or in flight; returns the numbers received. */
async function drain (d: Daemon): Promise<Set<number>> {
  const socket = await open(d.tcpPort)
  const got = new Set<number>()
  const decoder = new FrameDecoder((type, data) => {
    if (type === FrameType.Message) {
      got.add(numberOf(data.subarray(26)))
      socket.write(commands.fin(data.toString('latin1', 10, 26)))
    } else if (data.toString() === '_heartbeat_') {
      socket.write(commands.NOP)
    }
  }, () => {})
  socket.on('data', (chunk) => decoder.push(chunk))
  socket.write(Buffer.concat([commands.sub(TOPIC, 'c'), commands.rdy(1000)]))
  await waitFor(async () => {
    const c = (await stats(d.httpUrl)).find((t) => t.topic_name === TOPIC)?.channels.find((ch) => ch.channel_name === 'c')
    return c !== undefined && c.depth === 0 && c.in_flight_count === 0
  }, 60_000, 'channel c drained')
  socket.destroy()
  return got
}

/**
 * Starts on a damaged path and drains it: every message is delivered, or /stats says what happened (records set
 * aside or skipped, a repair, log bytes LevelDB dropped). `accounted` false: a log cut short, which LevelDB takes for
 * a write that never finished and does not report.
 */
async function startsAndAccounts (
  dir: string, accounted = true,
): Promise<{ got: Set<number>, damage: Damage | undefined, log: string }> {
  const d = await spawnNsqd(dir)
  const got = await drain(d)
  const damage = await storeDamage(d.httpUrl)
  if (got.size < COUNT && accounted) {
    expect(damage, `${COUNT - got.size} messages missing and /stats says nothing\n${d.log}`).toBeDefined()
    const { set_aside: aside, skipped_records: skipped, repaired, log_bytes_dropped: dropped } = damage as Damage
    expect(aside + skipped + dropped > 0 || repaired).toBe(true)
  }
  expect(await d.stop('SIGTERM')).toBe(0)
  return { got, damage, log: d.log }
}

/** Runs nsqd on a data path it must refuse: its exit code and what it printed. */
async function refused (dataPath: string): Promise<{ code: number | null, out: string }> {
  const child = spawn(process.execPath, [BIN, '--tcp-address=127.0.0.1:0', '--http-address=127.0.0.1:0', `--data-path=${dataPath}`],
    { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (c: Buffer) => { out += c.toString() })
  child.stderr.on('data', (c: Buffer) => { out += c.toString() })
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  return { code, out }
}

describe('nsqd on damaged data at start', () => {
  it('a missing MANIFEST: repairs from the tables and logs, keeps every message, says so in the log and /stats', async () => {
    const { dir, db } = await prepared(true)
    unlinkSync(join(db, readdirSync(db).find((f) => f.startsWith('MANIFEST-')) as string))
    const { got, damage, log } = await startsAndAccounts(dir)
    expect(got.size).toBe(COUNT)
    expect(damage?.repaired).toBe(true)
    expect(log).toContain(`store: ${db} is damaged`)
  }, 120_000)

  it('a missing CURRENT: repairs instead of starting empty, keeps every message', async () => {
    const { dir, db } = await prepared(true)
    unlinkSync(join(db, 'CURRENT'))
    const { got, damage } = await startsAndAccounts(dir)
    // LevelDB alone would start an empty database over the tables and delete them.
    expect(got.size).toBe(COUNT)
    expect(damage?.repaired).toBe(true)
  }, 120_000)

  it('a garbled table file: starts, delivers what it can read, counts the rest in /stats', async () => {
    const { dir, db } = await prepared(true)
    garble(largest(db, '.ldb'))
    await startsAndAccounts(dir)
  }, 120_000)

  it('a truncated table file: starts, delivers what it can read, counts the rest in /stats', async () => {
    const { dir, db } = await prepared(true)
    const file = largest(db, '.ldb')
    truncateSync(file, statSync(file).size >> 1)
    await startsAndAccounts(dir)
  }, 120_000)

  it('a garbled log after kill -9: starts, serves what LevelDB recovers, reports the bytes it dropped', async () => {
    const { dir, db } = await prepared(false)
    garble(largest(db, '.log'))
    const { got, damage, log } = await startsAndAccounts(dir)
    expect(got.size).toBeLessThan(COUNT)
    expect(damage?.log_bytes_dropped).toBeGreaterThan(0)
    expect(log).toMatch(/store: LevelDB dropped \d+ bytes of .*\.log while recovering it/)
  }, 120_000)

  it('a log cut short after kill -9: starts and serves what it holds (LevelDB reports nothing: a torn last write)', async () => {
    const { dir, db } = await prepared(false)
    const file = largest(db, '.log')
    truncateSync(file, statSync(file).size >> 1)
    const { got } = await startsAndAccounts(dir, false)
    expect(got.size).toBeGreaterThan(0)
  }, 120_000)

  it('a data path that is a file, or a database that is a file: refuses with one line naming it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nsqts-damage-'))
    dirs.push(dir)
    const file = join(dir, 'file')
    writeFileSync(file, 'not a directory')
    const asFile = await refused(file)
    expect(asFile.code).toBe(1)
    expect(asFile.out.split('\n').filter((l) => !l.includes(' INFO: ') && l !== '')).toEqual([`nsqd: failed to start - ${file} is not a directory`])
    const dataPath = join(dir, 'data')
    mkdirSync(dataPath)
    writeFileSync(join(dataPath, 'nsqd.leveldb'), 'not a directory')
    const dbAsFile = await refused(dataPath)
    expect(dbAsFile.code).toBe(1)
    expect(dbAsFile.out).toContain(`nsqd: failed to start - ${join(dataPath, 'nsqd.leveldb')} is not a directory`)
  }, 60_000)
})
