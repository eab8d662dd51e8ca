import { spawn, type ChildProcess } from 'node:child_process'
import { connect, type Socket } from 'node:net'
import { commands, FrameDecoder, FrameType, MAGIC_V2 } from '@nsqts/protocol'

/** Helpers for tests that run nsqd as its own process (built: `npx tsc -b` first) and talk to it over TCP. */

const BIN = new URL('../dist/bin/nsqd.js', import.meta.url).pathname
/** The package's bin, as the PATH or npx runs it (its first line starts node). */
const LAUNCHER = new URL('../bin/nsqd.js', import.meta.url).pathname

export interface Daemon {
  pid: number
  tcpPort: number
  httpUrl: string
  readonly log: string
  /** Sends the signal and resolves with the exit code (null when killed by the signal). */
  stop (signal: NodeJS.Signals): Promise<number | null>
}

const running = new Set<ChildProcess>()

/** Kills whatever a failed test left running (only processes these helpers started). */
export function killLeftovers (): void {
  for (const child of running) child.kill('SIGKILL')
  running.clear()
}

export interface NsqdSpawnOptions {
  /** Run the package's bin as an executable instead of node with the build. */
  throughBin?: boolean
  env?: NodeJS.ProcessEnv
}

/** Starts nsqd on 127.0.0.1 free ports; resolves once it logged both listening addresses. */
export async function spawnNsqd (dataPath: string, args: string[] = [], opts: NsqdSpawnOptions = {}): Promise<Daemon> {
  const nsqdArgs = ['--tcp-address=127.0.0.1:0', '--http-address=127.0.0.1:0', '--broadcast-address=127.0.0.1',
    `--data-path=${dataPath}`, ...args]
  const how: { stdio: ['ignore', 'ignore', 'pipe'], env: NodeJS.ProcessEnv } =
    { stdio: ['ignore', 'ignore', 'pipe'], env: opts.env ?? process.env }
  const child = opts.throughBin === true
    ? spawn(LAUNCHER, nsqdArgs, how)
    : spawn(process.execPath, [BIN, ...nsqdArgs], how)
  running.add(child)
  let log = ''
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => {
    running.delete(child)
    resolve(code)
  }))
  const ports = await new Promise<{ tcp: number, http: number }>((resolve, reject) => {
    child.stderr?.on('data', (chunk: Buffer) => {
      log += chunk.toString()
      const tcp = /TCP: listening on [^\s]+:(\d+)/.exec(log)
      const http = /HTTP: listening on [^\s]+:(\d+)/.exec(log)
      if (tcp !== null && http !== null) resolve({ tcp: Number(tcp[1]), http: Number(http[1]) })
    })
    void exited.then((code) => reject(new Error(`nsqd exited (${code}) before listening:\n${log}`)))
  })
  return {
    pid: child.pid as number,
    tcpPort: ports.tcp,
    httpUrl: `http://127.0.0.1:${ports.http}`,
    get log () { return log },
    async stop (signal) {
      child.kill(signal)
      return exited
    },
  }
}

export async function open (port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  socket.setNoDelay(true)
  socket.on('error', () => {})
  socket.write(MAGIC_V2)
  return socket
}

/** A body of `size` bytes that starts with its number. */
export function numbered (n: number, size: number): Buffer {
  return Buffer.from(String(n).padEnd(size, '.'))
}

export function numberOf (body: Buffer): number {
  return parseInt(body.toString('latin1', 0, 12), 10)
}

/** Publishes bodies 0..count-1 with MPUBs of `batch`, a few commands in flight, and waits for every OK. */
export async function publishNumbered (port: number, topic: string, count: number, size: number,
  batch: number): Promise<void> {
  const socket = await open(port)
  let sent = 0
  let outstanding = 0
  let acked = 0
  await new Promise<void>((resolve, reject) => {
    const send = (): void => {
      while (outstanding < 8 && sent < count) {
        const n = Math.min(batch, count - sent)
        socket.write(commands.mpub(topic, Array.from({ length: n }, (_, i) => numbered(sent + i, size))))
        sent += n
        outstanding++
      }
    }
    const decoder = new FrameDecoder((type, data) => {
      if (type === FrameType.Error) return reject(new Error(data.toString()))
      if (data.toString() === '_heartbeat_') return socket.write(commands.NOP)
      outstanding--
      acked++
      if (sent === count && outstanding === 0) resolve()
      else send()
    }, reject)
    socket.on('data', (chunk) => decoder.push(chunk))
    socket.once('close', () => reject(new Error(`connection closed after ${acked} OKs`)))
    send()
  })
  socket.destroy()
}

export interface Received { body: Buffer, attempts: number }

/**
 * Consumes from topic/channel, finishing every message, until `done(received so far)` says so; returns each
 * message's body and attempts, in arrival order.
 */
export async function consumeUntil (port: number, topic: string, channel: string, done: (got: Received[]) => boolean,
  timeoutMs: number, rdy = 2500): Promise<Received[]> {
  const socket = await open(port)
  const got: Received[] = []
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`consumed ${got.length} in ${timeoutMs} ms`)), timeoutMs)
      let out: Buffer[] = []
      const decoder = new FrameDecoder((type, data) => {
        if (type === FrameType.Message) {
          out.push(commands.fin(data.toString('latin1', 10, 26)))
          got.push({ body: Buffer.from(data.subarray(26)), attempts: data.readUInt16BE(8) })
        } else if (type === FrameType.Error) {
          reject(new Error(data.toString()))
        } else if (data.toString() === '_heartbeat_') {
          out.push(commands.NOP)
        }
      }, reject)
      socket.on('data', (chunk) => {
        decoder.push(chunk)
        if (out.length > 0) {
          socket.write(Buffer.concat(out))
          out = []
        }
        if (done(got)) {
          clearTimeout(timer)
          resolve()
        }
      })
      socket.write(Buffer.concat([commands.sub(topic, channel), commands.rdy(rdy)]))
    })
  } finally {
    socket.destroy()
  }
  return got
}

export async function post (base: string, path: string): Promise<void> {
  const res = await fetch(`${base}${path}`, { method: 'POST' })
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`)
}

export interface ChannelStats {
  channel_name: string
  depth: number
  backend_depth: number
  in_flight_count: number
  deferred_count: number
  paused: boolean
}
export interface TopicStats { topic_name: string, depth: number, paused: boolean, channels: ChannelStats[] }

export async function stats (base: string): Promise<TopicStats[]> {
  const res = await fetch(`${base}/stats?format=json&include_clients=false`)
  const body = await res.json() as { topics: TopicStats[] | null }
  return body.topics ?? []
}
