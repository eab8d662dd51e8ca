import { describe, it, expect, afterEach } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Socket } from 'node:net'
import { commands, FrameDecoder, FrameType } from '@nsqts/protocol'
import { waitFor } from '@nsqts/testkit'
import { spawnNsqd, killLeftovers, open, consumeUntil, type Daemon, type Received } from './storage-process.js'

// nsqd --durable as a process (packages/nsqd/dist: run `npx tsc -b` first), killed with SIGKILL again and again while
// publishers and a consumer are busy: no message it acknowledged may be missing afterwards.

const dirs: string[] = []
afterEach(async () => {
  killLeftovers()
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
})

const TOPIC = 'crash'

/** Publishes without pause, a few commands in flight; records every body whose command was answered OK. */
class Publisher {
  private readonly pending: string[][] = []
  private socket: Socket | undefined
  private n = 0
  private stopped = false

  constructor (private readonly kind: 'pub' | 'mpub' | 'dpub', private readonly tag: string, private readonly acked: Set<string>) {}

  async start (port: number): Promise<void> {
    const socket = await open(port)
    this.socket = socket
    const decoder = new FrameDecoder((type, data) => {
      if (type === FrameType.Response && data.toString() === '_heartbeat_') return socket.write(commands.NOP)
      const bodies = this.pending.shift() ?? []
      if (type === FrameType.Response) for (const b of bodies) this.acked.add(b)
      this.send()
    }, () => {})
    socket.on('data', (chunk) => decoder.push(chunk))
    socket.on('close', () => { this.stopped = true })
    this.send()
  }

  private send (): void {
    while (!this.stopped && this.pending.length < 4) {
      const count = this.kind === 'mpub' ? 50 : 1
      const bodies = Array.from({ length: count }, () => `${this.tag}-${this.n++}`)
      this.pending.push(bodies)
      const cmd = this.kind === 'mpub'
        ? commands.mpub(TOPIC, bodies)
        : this.kind === 'dpub' ? commands.dpub(TOPIC, 200 + (this.n % 800), bodies[0] as string) : commands.pub(TOPIC, bodies[0] as string)
      this.socket?.write(cmd)
    }
  }

  /** Half of an MPUB on the wire, never completed: the daemon dies in the middle of reading it. */
  writeHalfMpub (): void {
    const cmd = commands.mpub(TOPIC, Array.from({ length: 50 }, (_, i) => `${this.tag}-partial-${i}`))
    this.stopped = true
    this.socket?.write(cmd.subarray(0, cmd.length >> 1))
  }
}

/** Finishes two messages of three and keeps the third in flight, so a kill always finds messages in flight. */
async function startConsumer (port: number, finished: Set<string>): Promise<void> {
  const socket = await open(port)
  let k = 0
  const decoder = new FrameDecoder((type, data) => {
    if (type === FrameType.Message) {
      if (k++ % 3 === 2) return
      finished.add(data.toString('utf8', 26))
      socket.write(commands.fin(data.toString('latin1', 10, 26)))
    } else if (data.toString() === '_heartbeat_') {
      socket.write(commands.NOP)
    }
  }, () => {})
  socket.on('data', (chunk) => decoder.push(chunk))
  socket.write(Buffer.concat([commands.sub(TOPIC, 'ch'), commands.rdy(60)]))
}

describe('nsqd --durable process: SIGKILL at any moment', () => {
  it('loses no acknowledged message: mid-stream, mid-MPUB, with messages in flight and deferred, during start', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nsqts-durable-'))
    dirs.push(dir)
    const acked = new Set<string>()
    const finished = new Set<string>()
    const args = ['--durable', '--mem-queue-size=500']

    // Each round: start on the same data path, publish with PUB, MPUB and DPUB while a consumer works, then kill.
    const rounds: Array<{ killAfter: number, halfMpub?: boolean, quiet?: boolean }> = [
      { killAfter: 500 },
      { killAfter: 3000, halfMpub: true },
      { killAfter: 0, quiet: true },
      { killAfter: 6000 },
    ]
    for (const [i, round] of rounds.entries()) {
      const d: Daemon = await spawnNsqd(dir, args)
      if (round.quiet !== true) {
        const target = acked.size + round.killAfter
        const mpub = new Publisher('mpub', `r${i}m`, acked)
        await Promise.all([
          mpub.start(d.tcpPort),
          new Publisher('pub', `r${i}p`, acked).start(d.tcpPort),
          new Publisher('dpub', `r${i}d`, acked).start(d.tcpPort),
          startConsumer(d.tcpPort, finished),
        ])
        await waitFor(() => acked.size >= target, 30_000, `${round.killAfter} acknowledged publishes`)
        if (round.halfMpub === true) mpub.writeHalfMpub()
      }
      expect(await d.stop('SIGKILL')).toBeNull()
    }

    const final = await spawnNsqd(dir, args)
    const expected = [...acked].filter((b) => !finished.has(b))
    const missing = new Set(expected)
    let checked = 0
    // Deferred ones come when due (within a second); in-flight ones of the killed daemons come back at once.
    await consumeUntil(final.tcpPort, TOPIC, 'ch', (got) => {
      for (; checked < got.length; checked++) missing.delete((got[checked] as Received).body.toString())
      return missing.size === 0
    }, 30_000, 500).catch((err: Error) => {
      throw new Error(`${err.message}; missing ${missing.size} of ${expected.length} acknowledged, e.g. ${[...missing].slice(0, 5).join(', ')}`)
    })
    expect(acked.size).toBeGreaterThan(9000)
    expect(missing.size).toBe(0)
    expect(await final.stop('SIGTERM')).toBe(0)
  }, 120_000)
})
