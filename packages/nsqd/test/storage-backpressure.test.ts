import { describe, it, expect, afterEach } from 'vitest'
import { cp, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, type Socket } from 'node:net'
import { commands, FrameDecoder, FrameType, MAGIC_V2 } from '@nsqts/protocol'
import { startNsqd, RawConn, waitFor, type NsqdHandle } from '@nsqts/testkit'
import type { LevelStore } from '../src/backend/level/store.js'
import { MAX_UNWRITTEN_BYTES } from '../src/backend/level/write-pipeline.js'

// A slow disk, made by holding the store's writes (LevelStore.injectWriteDelay) until the test lets them go: what
// nsqd may keep in memory for it stays bounded, its publishers wait, and in durable mode a crash at any held write
// loses nothing that was acknowledged. Nothing here depends on how fast the machine is.

const dirs: string[] = []
const handles: NsqdHandle[] = []
const sockets: Socket[] = []
const disks: Array<{ open (): void }> = []
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy()
  // A failed test may leave writes held: nsqd's close waits for them.
  for (const d of disks.splice(0)) d.open()
  await Promise.all(handles.splice(0).map((h) => h.close()))
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
})

async function start (init: Parameters<typeof startNsqd>[0]): Promise<NsqdHandle> {
  const h = await startNsqd(init)
  handles.push(h)
  return h
}

function storeOf (h: NsqdHandle): LevelStore {
  const store = h.nsqd.store
  if (store === undefined) throw new Error('no store')
  return store
}

/** Holds every write of the store before it reaches LevelDB, until the test lets it through or opens the disk. */
function heldDisk (store: LevelStore): { readonly held: number, letOneThrough (): void, open (): void } {
  const held: Array<() => void> = []
  store.injectWriteDelay(async () => { await new Promise<void>((resolve) => held.push(resolve)) })
  const disk = {
    get held () { return held.length },
    letOneThrough () { held.shift()?.() },
    open () {
      store.injectWriteDelay(undefined)
      for (const release of held.splice(0)) release()
    },
  }
  disks.push(disk)
  return disk
}

/**
 * A connection that publishes `bodies` (PUB for one, MPUB for more per command), at most `window` commands awaiting
 * an answer, and records the bodies of every command answered OK.
 */
async function publisher (
  port: number, topic: string, batches: string[][], window: number, acked: Set<string>,
): Promise<{ done: Promise<void> }> {
  const socket = connect(port, '127.0.0.1')
  sockets.push(socket)
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
  socket.write(MAGIC_V2)
  let next = 0
  const waiting: string[][] = []
  let finish: () => void = () => {}
  const done = new Promise<void>((resolve) => { finish = resolve })
  const send = (): void => {
    while (waiting.length < window && next < batches.length) {
      const bodies = batches[next++] as string[]
      waiting.push(bodies)
      socket.write(bodies.length === 1 ? commands.pub(topic, bodies[0] as string) : commands.mpub(topic, bodies))
    }
    if (waiting.length === 0) finish()
  }
  const decoder = new FrameDecoder((type, data) => {
    if (type === FrameType.Response && data.toString() === '_heartbeat_') return
    const bodies = waiting.shift() ?? []
    if (type === FrameType.Response && data.toString() === 'OK') for (const b of bodies) acked.add(b)
    send()
  }, () => {})
  socket.on('data', (chunk) => decoder.push(chunk))
  send()
  return { done }
}

function batchesOf (tag: string, commandCount: number, perCommand: number, bodySize: number): string[][] {
  return Array.from({ length: commandCount }, (_, c) => Array.from({ length: perCommand }, (_, i) => `${tag}-${c}-${i}-`.padEnd(bodySize, 'x')))
}

describe('nsqd storage: a slow disk', () => {
  it('default mode: publishers wait once the unwritten records pass the bound, which holds however long the disk stalls', async () => {
    const h = await start({ memQueueSize: 0 })
    const store = storeOf(h)
    h.nsqd.getTopic('slow').getChannel('c')
    const disk = heldDisk(store)
    // 4 connections each pipelining 40 MPUBs of 100 messages of 1,000 bytes: 16 MB, far past the bound.
    const conns = 4
    const perCommand = 100
    const acked = new Set<string>()
    const pubs = await Promise.all(Array.from({ length: conns }, (_, i) =>
      publisher(h.tcp.port, 'slow', batchesOf(`p${i}`, 40, perCommand, 1000), 40, acked)))

    // Nothing reaches the disk: publishes are answered until the bound is passed, then they wait.
    await waitFor(() => store.counters.throttled > 0, 10_000, 'a publish made to wait')
    expect(acked.size).toBeLessThan(conns * 40 * perCommand)
    expect(store.unwrittenBytes).toBeGreaterThan(MAX_UNWRITTEN_BYTES)

    disk.open()
    await Promise.all(pubs.map((p) => p.done))
    expect(acked.size).toBe(conns * 40 * perCommand)
    // Past the bound, each connection adds at most the command that crossed it and the rest of the socket read it
    // came in (64 KiB), since it stops reading until that command is answered.
    const command = perCommand * (1000 + 26)
    expect(store.counters.maxUnwrittenBytes).toBeLessThanOrEqual(MAX_UNWRITTEN_BYTES + conns * (command + 64 * 1024))
    await waitFor(() => store.unwrittenBytes === 0, 10_000, 'all written')
    expect(h.nsqd.getTopic('slow').channels.get('c')?.depth).toBe(conns * 40 * perCommand)
  })

  it('durable mode: a crash while the disk holds a write loses no acknowledged message', async () => {
    // testkit makes the data path, and removes it with the daemon.
    const h = await start({ durable: true })
    const store = storeOf(h)
    h.nsqd.getTopic('slow').getChannel('c')
    const disk = heldDisk(store)
    const acked = new Set<string>()
    const mixed = (tag: string): string[][] => [...batchesOf(`${tag}m`, 20, 10, 100), ...batchesOf(`${tag}p`, 100, 1, 100)]
    const pubs = await Promise.all(['a', 'b', 'c'].map((tag) => publisher(h.tcp.port, 'slow', mixed(tag), 4, acked)))

    // The disk takes one write at a time, when the test says so, until some publishes were answered.
    while (acked.size < 50) {
      await waitFor(() => disk.held > 0, 10_000, 'a write waiting for the disk')
      disk.letOneThrough()
      await waitFor(() => disk.held > 0 || acked.size >= 50, 10_000, 'the next write')
    }
    // A write is held: what is on disk now is what a kill -9 would leave.
    await waitFor(() => disk.held > 0, 10_000, 'a held write')
    const ackedAtCrash = new Set(acked)
    const image = await mkdtemp(join(tmpdir(), 'nsqts-slowdisk-'))
    dirs.push(image)
    await cp(h.dataPath, image, { recursive: true })
    expect(ackedAtCrash.size).toBeLessThan(3 * 300)

    disk.open()
    await Promise.all(pubs.map((p) => p.done))
    expect(acked.size).toBe(3 * 300)

    const after = await start({ dataPath: image, durable: true })
    const channel = after.nsqd.getTopic('slow').getChannel('c')
    const depth = channel.depth + after.nsqd.getTopic('slow').depth
    expect(depth).toBeGreaterThanOrEqual(ackedAtCrash.size)
    const conn = await RawConn.open(after.tcp)
    const received = new Set(await conn.consume('slow', 'c', 1000, (bodies) => new Set(bodies).size >= depth))
    conn.close()
    expect([...ackedAtCrash].filter((b) => !received.has(b))).toEqual([])
  })
})
