import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FrameType, commands, createLogger } from '@nsqts/protocol'
import { RawConn, startNsqd, waitFor, type NsqdHandle } from '@nsqts/testkit'

/**
 * Limits and hostile clients: every limit answered with NSQ's error, bodies over a limit refused from their size
 * word (before their bytes exist), and clients that never read cannot grow nsqd's memory.
 */

describe('limits answer with NSQ\'s errors', () => {
  let d: NsqdHandle
  beforeAll(async () => {
    d = await startNsqd({
      maxMsgSize: 100,
      maxBodySize: 1000,
      maxRdyCount: 50,
      maxMsgTimeout: 5000,
      maxReqTimeout: 2000,
      maxHeartbeatInterval: 10_000,
      maxOutputBufferSize: 1024,
      maxOutputBufferTimeout: 500,
      maxChannelConsumers: 1,
    })
  })
  afterAll(async () => { await d?.close() })

  async function fatal (bytes: Buffer | string, text: string): Promise<void> {
    const raw = await RawConn.open(d.tcp)
    raw.write(bytes)
    expect(await raw.expect(FrameType.Error)).toBe(text)
    await raw.waitClosed()
  }

  const size = (n: number): Buffer => {
    const b = Buffer.alloc(4)
    b.writeInt32BE(n)
    return b
  }

  it('refuses a body over its limit from the size word alone, before any of its bytes arrive', async () => {
    await fatal(Buffer.concat([Buffer.from('PUB t\n'), size(101)]), 'E_BAD_MESSAGE PUB message too big 101 > 100')
    await fatal(Buffer.concat([Buffer.from('DPUB t 10\n'), size(2 ** 31 - 1)]), `E_BAD_MESSAGE DPUB message too big ${2 ** 31 - 1} > 100`)
    await fatal(Buffer.concat([Buffer.from('MPUB t\n'), size(1001)]), 'E_BAD_BODY MPUB body too big 1001 > 1000')
    await fatal(Buffer.concat([Buffer.from('MPUB t\n'), size(100), size(200)]), 'E_BAD_BODY MPUB invalid message count 200')
    await fatal(Buffer.concat([Buffer.from('MPUB t\n'), size(100), size(2), size(101)]), 'E_BAD_MESSAGE MPUB message too big 101 > 100')
    await fatal(Buffer.concat([Buffer.from('IDENTIFY\n'), size(1001)]), 'E_BAD_BODY IDENTIFY body too big 1001 > 1000')
    await fatal(Buffer.concat([Buffer.from('AUTH\n'), size(1001)]), 'E_INVALID AUTH body too big 1001 > 1000')
    await fatal(Buffer.concat([Buffer.from('PUB t\n'), size(-5)]), 'E_BAD_MESSAGE PUB invalid message body size -5')
  })

  it('enforces the client-settable maxima in IDENTIFY, RDY, DPUB, REQ and SUB', async () => {
    await fatal(commands.identify({ heartbeat_interval: 10_001 }), 'E_BAD_BODY IDENTIFY heartbeat interval (10001) is invalid')
    await fatal(commands.identify({ output_buffer_size: 1025 }), 'E_BAD_BODY IDENTIFY output buffer size (1025) is invalid')
    await fatal(commands.identify({ output_buffer_timeout: 501 }), 'E_BAD_BODY IDENTIFY output buffer timeout (501) is invalid')
    await fatal(commands.identify({ msg_timeout: 5001 }), 'E_BAD_BODY IDENTIFY msg timeout (5001) is invalid')
    await fatal(commands.dpub('t', 2001, 'x'), 'E_INVALID DPUB timeout 2001 out of range 0-2000')
    const sub = await RawConn.open(d.tcp)
    sub.write(commands.sub('limits', 'ch'))
    expect(await sub.expect(FrameType.Response)).toBe('OK')
    await fatal(commands.sub('limits', 'ch'), 'E_SUB_FAILED SUB failed consumers for limits:ch exceeds limit of 1')
    sub.write(commands.rdy(51))
    expect(await sub.expect(FrameType.Error)).toBe('E_INVALID RDY count 51 out of range 0-50')
    await sub.waitClosed()
  })
})

describe('a consumer that stops draining', () => {
  it('is dropped after one heartbeat interval of blocked writes (nsqd\'s write deadline), even while it sends NOPs', async () => {
    const lines: string[] = []
    const d = await startNsqd({ logger: createLogger('', () => 'info', (line) => lines.push(line)) })
    const keepAlive: { timer?: NodeJS.Timeout } = {}
    try {
      const stalled = await RawConn.open(d.tcp)
      stalled.write(commands.identify({ heartbeat_interval: 1000 }))
      expect(await stalled.expect(FrameType.Response)).toBe('OK')
      stalled.write(Buffer.concat([commands.sub('drain', 'ch'), commands.rdy(2500)]))
      expect(await stalled.expect(FrameType.Response)).toBe('OK')
      stalled.socket.pause()
      // Commands keep coming (so the read deadline never fires), but nothing is read.
      keepAlive.timer = setInterval(() => stalled.write(commands.nop()), 200)
      const publisher = await RawConn.open(d.tcp)
      const body = Buffer.alloc(64 * 1024, 'y')
      for (let i = 0; i < 200 && !stalled.isClosed; i++) {
        publisher.write(commands.mpub('drain', Array.from({ length: 16 }, () => body)))
        expect(await publisher.expect(FrameType.Response)).toBe('OK')
        if (lines.some((l) => l.includes('write timed out'))) break
      }
      await waitFor(() => lines.some((l) => l.includes('write timed out after 1000ms')), 10_000, 'the write deadline')
      await waitFor(() => d.nsqd.topics.get('drain')?.channels.get('ch')?.clientCount === 0, 5000, 'the consumer to be dropped')
      publisher.close()
      stalled.close()
    } finally {
      clearInterval(keepAlive.timer)
      await d.close()
    }
  })
})

/** RSS of a process, from /proc (Linux). */
function rssBytes (pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(m?.[1] ?? 0) * 1024
}

describe('clients that never read', () => {
  const BIN = new URL('../dist/bin/nsqd.js', import.meta.url).pathname
  let child: ChildProcess | undefined
  let dataPath = ''
  afterAll(async () => {
    child?.kill('SIGKILL')
    if (dataPath !== '') await rm(dataPath, { recursive: true, force: true })
  })

  it('1,000 subscribers with RDY 2500 that never read keep nsqd\'s memory bounded', async () => {
    // nsqd runs as its own process (built with `npx tsc -b packages/nsqd`) so that its RSS is its own.
    dataPath = await mkdtemp(join(tmpdir(), 'nsqts-stalled-'))
    const proc = spawn(process.execPath, [BIN, '--tcp-address=127.0.0.1:0', '--http-address=127.0.0.1:0', '--broadcast-address=127.0.0.1',
      `--data-path=${dataPath}`, '--mem-queue-size=2000'], { stdio: ['ignore', 'ignore', 'pipe'] })
    child = proc
    let log = ''
    proc.stderr?.on('data', (c: Buffer) => { log += c.toString() })
    const port = await new Promise<number>((resolve, reject) => {
      proc.stderr?.on('data', () => {
        const m = /TCP: listening on [^\s]+:(\d+)/.exec(log)
        if (m !== null) resolve(Number(m[1]))
      })
      proc.once('exit', (code) => reject(new Error(`nsqd exited ${code}: ${log}`)))
    })
    const pid = proc.pid as number
    const subscribers: Socket[] = []
    for (let i = 0; i < 1000; i++) {
      const s = connect(port, '127.0.0.1')
      s.on('error', () => {})
      s.write(Buffer.concat([Buffer.from('  V2'), commands.sub('stalled', 'ch'), commands.rdy(2500)]))
      // Never read: the kernel buffers fill, then nsqd must stop writing.
      s.pause()
      subscribers.push(s)
    }
    const publisher = await RawConn.open({ host: '127.0.0.1', port })
    const body = Buffer.alloc(4096, 'x')
    await waitFor(() => (log.match(/TCP: new client/g) ?? []).length >= 1001, 20_000, 'every connection accepted')
    const baseline = rssBytes(pid)
    const httpPort = Number(/HTTP: listening on [^\s]+:(\d+)/.exec(log)?.[1])
    // 100,000 messages of 4 KiB (400 MiB) pushed at consumers that take nothing.
    let peak = baseline
    for (let b = 0; b < 1000; b++) {
      publisher.write(commands.mpub('stalled', Array.from({ length: 100 }, () => body)))
      expect(await publisher.expect(FrameType.Response, 30_000)).toBe('OK')
      if (b % 50 === 0) peak = Math.max(peak, rssBytes(pid))
    }
    peak = Math.max(peak, rssBytes(pid))
    const stats = await (await fetch(`http://127.0.0.1:${httpPort}/stats?format=json&include_clients=false`)).json() as
      { topics: Array<{ channels: Array<{ in_flight_count: number, depth: number, client_count: number }> }> }
    const channel = stats.topics[0]!.channels[0]!
    const inFlightBytes = channel.in_flight_count * body.length
    const overhead = peak - baseline - inFlightBytes
    const mib = (n: number): string => (n / 2 ** 20).toFixed(0)
    process.stdout.write(`stalled readers: nsqd RSS ${mib(baseline)} MiB with 1,000 idle subscribers; after 400 MiB published, ` +
      `peak ${mib(peak)} MiB with ${channel.in_flight_count} messages (${mib(inFlightBytes)} MiB) in flight and ${channel.depth} queued: ` +
      `${mib(overhead)} MiB beyond the in-flight bodies (${(overhead / 1000 / 1024).toFixed(0)} KiB per connection)\n`)
    expect(channel.client_count).toBe(1000)
    // What the kernel took is in flight, as in NSQ; beyond those bodies nsqd's own buffers stay small per connection.
    expect(overhead).toBeLessThan(1000 * 256 * 1024)
    publisher.close()
    for (const s of subscribers) s.destroy()
  }, 120_000)
})
