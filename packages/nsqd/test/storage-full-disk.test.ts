import { describe, it, expect, afterEach } from 'vitest'
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { closeSync, openSync, writeSync } from 'node:fs'
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { commands, FrameDecoder, FrameType } from '@nsqts/protocol'
import { waitFor } from '@nsqts/testkit'
import { spawnNsqd, killLeftovers, open, consumeUntil, numberOf, stats, type Daemon, type Received } from './storage-process.js'

// A real full disk: nsqd --durable (as a process, from packages/nsqd/dist) on a small tmpfs. Mounting needs root; where
// the mount is refused the test is reported as skipped, with the reason.

const TMPFS_BYTES = 24 * 1024 * 1024
// Bodies are random (LevelDB compresses its tables) and numbered in their first 12 bytes.
const BODY = 1000
// Larger than a page: a small append can still fit in the last page of LevelDB's log file on a full tmpfs.
const BIG_BODY = 64 * 1024
// Taken before nsqd fills the rest, and given back to let it recover.
const ROOM_BYTES = 8 * 1024 * 1024

function body (n: number, size: number): Buffer {
  return Buffer.concat([Buffer.from(String(n).padEnd(12, ' ')), randomBytes(size - 12)])
}
const TOPIC = 'full'

const mounts: string[] = []
const dirs: string[] = []
const daemons: Daemon[] = []
afterEach(async () => {
  // The mount is busy until nsqd has exited.
  await Promise.all(daemons.splice(0).map((d) => d.stop('SIGKILL')))
  killLeftovers()
  for (const m of mounts.splice(0)) execFileSync('umount', [m])
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
})

/** Mounts a tmpfs of `bytes`; returns why it could not instead. */
function mountTmpfs (dir: string, bytes: number): string | undefined {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir], { stdio: 'pipe' })
    mounts.push(dir)
    return undefined
  } catch (err) {
    return ((err as { stderr?: Buffer }).stderr?.toString().trim() ?? '') || (err as Error).message
  }
}

/** Appends to `file` until the file system has no byte left: whatever nsqd freed meanwhile is taken too. */
function fillUp (file: string): void {
  const fd = openSync(file, 'a')
  try {
    for (const size of [1 << 20, 1 << 16, 1 << 12]) {
      const block = Buffer.alloc(size, 1)
      for (;;) {
        try {
          writeSync(fd, block)
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break
          throw err
        }
      }
    }
  } finally {
    closeSync(fd)
  }
}

/**
 * MPUBs numbered messages from `from` on, one command at a time, until nsqd answers one with an error (the disk is
 * full) or `limit` is reached; returns the numbers acknowledged and the error.
 */
async function publishUntilRefused (
  port: number, from: number, limit: number,
): Promise<{ acked: number[], error: string | undefined }> {
  const socket = await open(port)
  const acked: number[] = []
  let next = from
  const batch = (): Buffer[] => Array.from({ length: 50 }, () => body(next++, BODY))
  const error = await new Promise<string | undefined>((resolve) => {
    let pending = batch()
    const decoder = new FrameDecoder((type, data) => {
      if (type === FrameType.Response && data.toString() === '_heartbeat_') return socket.write(commands.NOP)
      if (type === FrameType.Error) return resolve(data.toString())
      for (const b of pending) acked.push(numberOf(b))
      if (next - from >= limit) return resolve(undefined)
      pending = batch()
      socket.write(commands.mpub(TOPIC, pending))
    }, (err) => resolve(err.message))
    socket.on('data', (chunk) => decoder.push(chunk))
    socket.once('close', () => resolve('connection closed'))
    socket.write(commands.mpub(TOPIC, pending))
  })
  socket.destroy()
  return { acked, error }
}

/** One PUB on its own connection (a failed publish is fatal to the connection, as in NSQ): the answer's text. */
async function pubOnce (port: number, n: number): Promise<string> {
  const socket = await open(port)
  try {
    return await new Promise<string>((resolve, reject) => {
      const decoder = new FrameDecoder((type, data) => {
        if (data.toString() !== '_heartbeat_') resolve(`${type === FrameType.Error ? 'error' : 'ok'} ${data.toString()}`)
      }, reject)
      socket.on('data', (chunk) => decoder.push(chunk))
      socket.write(commands.pub(TOPIC, body(n, BIG_BODY)))
    })
  } finally {
    socket.destroy()
  }
}

async function ping (base: string): Promise<{ status: number, text: string }> {
  const res = await fetch(`${base}/ping`)
  return { status: res.status, text: await res.text() }
}

describe('nsqd --durable on a full disk', () => {
  it('refuses publishes and says NOK while full, keeps delivering what it stored, and recovers on its own once space is freed', async (ctx) => {
    const dir = await mkdtemp(join(tmpdir(), 'nsqts-full-'))
    dirs.push(dir)
    const refused = mountTmpfs(dir, TMPFS_BYTES)
    if (refused !== undefined) {
      console.warn(`full-disk test skipped: cannot mount a tmpfs at ${dir}: ${refused}`)
      ctx.skip()
      return
    }
    const room = join(dir, 'room')
    await writeFile(room, randomBytes(ROOM_BYTES))
    const d = await spawnNsqd(join(dir, 'data'), ['--durable'])
    daemons.push(d)
    for (const path of [`/topic/create?topic=${TOPIC}`, `/channel/create?topic=${TOPIC}&channel=ch`]) {
      expect((await fetch(`${d.httpUrl}${path}`, { method: 'POST' })).status).toBe(200)
    }

    const first = await publishUntilRefused(d.tcpPort, 0, 1_000_000)
    expect(first.error).toMatch(/^E_MPUB_FAILED MPUB failed/)
    expect(first.acked.length).toBeGreaterThan(1000)
    // nsqd retries the failed write, and LevelDB may free a little room by compacting: what is left goes too.
    const filler = join(dir, 'filler')
    fillUp(filler)
    expect(await pubOnce(d.tcpPort, 10_000_000)).toMatch(/^error E_PUB_FAILED PUB failed/)
    const httpPub = await fetch(`${d.httpUrl}/pub?topic=${TOPIC}`, { method: 'POST', body: body(10_000_001, BIG_BODY) })
    expect({ status: httpPub.status, text: await httpPub.text() }).toEqual({ status: 500, text: '{"message":"PUB_FAILED"}' })
    const full = await ping(d.httpUrl)
    expect(full.status).toBe(500)
    expect(full.text).toMatch(/^NOK - /)

    // Still full: a consumer gets every acknowledged message.
    const missing = new Set(first.acked)
    let seen = 0
    const collect = (got: Received[]): boolean => {
      for (; seen < got.length; seen++) missing.delete(numberOf((got[seen] as Received).body))
      return missing.size === 0
    }
    await consumeUntil(d.tcpPort, TOPIC, 'ch', collect, 60_000, 500).catch(async (err: Error) => {
      const topics = await stats(d.httpUrl).catch((e: Error) => e.message)
      throw new Error(`${err.message}; ${missing.size} of ${first.acked.length} acknowledged missing; ${JSON.stringify(topics)}\n${d.log.slice(-3000)}`)
    })
    expect(missing.size).toBe(0)
    expect((await ping(d.httpUrl)).status).toBe(500)

    // Room again: no restart, no command; the store's retries find it.
    await unlink(filler)
    await unlink(room)
    await waitFor(async () => (await ping(d.httpUrl)).status === 200, 30_000, '/ping OK after space was freed')
    expect((await ping(d.httpUrl)).text).toBe('OK')
    const after = await publishUntilRefused(d.tcpPort, 20_000_000, 2000)
    expect(after.error).toBeUndefined()
    for (const n of after.acked) missing.add(n)
    seen = 0
    await consumeUntil(d.tcpPort, TOPIC, 'ch', collect, 60_000, 500)
    expect(missing.size).toBe(0)
    expect(await d.stop('SIGTERM')).toBe(0)
  }, 180_000)
})
