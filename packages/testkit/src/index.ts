import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, type Socket } from 'node:net'
import { NSQD, type NsqdInit, type Address } from '@nsqts/nsqd'
import { commands, decodeMessage, FrameDecoder, FrameType, MAGIC_V2, SizePrefixedReader, silentLogger } from '@nsqts/protocol'
import { NSQLookupd, type LookupdOptions } from '@nsqts/lookupd'

export type { Address }

export interface NsqdHandle {
  nsqd: NSQD
  tcp: Address
  http: Address
  /** host:port, as flags and clients take it */
  tcpAddress: string
  httpAddress: string
  /** http://127.0.0.1:port */
  httpUrl: string
  dataPath: string
  close (): Promise<void>
}

/** Starts a real nsqd on 127.0.0.1 with free ports, a fresh temp data dir and a silent logger. */
export async function startNsqd (init: NsqdInit = {}): Promise<NsqdHandle> {
  const dataPath = init.dataPath ?? await mkdtemp(join(tmpdir(), 'nsqts-nsqd-'))
  const nsqd = new NSQD({
    tcpAddress: '127.0.0.1:0',
    httpAddress: '127.0.0.1:0',
    broadcastAddress: '127.0.0.1',
    ...init,
    dataPath,
  })
  await nsqd.start()
  const ownsDir = init.dataPath === undefined
  return {
    nsqd,
    tcp: nsqd.tcpAddress,
    http: nsqd.httpAddress,
    tcpAddress: `127.0.0.1:${nsqd.tcpAddress.port}`,
    httpAddress: `127.0.0.1:${nsqd.httpAddress.port}`,
    httpUrl: `http://127.0.0.1:${nsqd.httpAddress.port}`,
    dataPath,
    async close () {
      await nsqd.close()
      if (ownsDir) await rm(dataPath, { recursive: true, force: true })
    },
  }
}

export interface LookupdHandle {
  lookupd: NSQLookupd
  tcp: Address
  http: Address
  /** host:port, as flags and clients take it */
  tcpAddress: string
  httpAddress: string
  /** http://127.0.0.1:port */
  httpUrl: string
  close (): Promise<void>
}

/** Starts a real nsqlookupd on 127.0.0.1 with free ports and a silent logger. */
export async function startLookupd (options: Partial<LookupdOptions> = {}): Promise<LookupdHandle> {
  const lookupd = new NSQLookupd({
    tcpAddress: '127.0.0.1:0',
    httpAddress: '127.0.0.1:0',
    broadcastAddress: '127.0.0.1',
    logger: silentLogger,
    ...options,
  })
  await lookupd.start()
  return {
    lookupd,
    tcp: lookupd.tcpAddress,
    http: lookupd.httpAddress,
    tcpAddress: `127.0.0.1:${lookupd.tcpAddress.port}`,
    httpAddress: `127.0.0.1:${lookupd.httpAddress.port}`,
    httpUrl: `http://127.0.0.1:${lookupd.httpAddress.port}`,
    close: () => lookupd.close(),
  }
}

export interface Frame {
  type: number
  data: Buffer
}

/**
 * Waits for `predicate` to hold, checking every `intervalMs`, and fails after `timeoutMs`. For state that no event
 * announces (stats counters); never a fixed sleep. `what` may be a function, to name the state as it was last seen;
 * a predicate that asks over HTTP wants a longer interval than the default.
 */
export async function waitFor (predicate: () => boolean | Promise<boolean>, timeoutMs = 5000,
  what: string | (() => string) = 'condition', intervalMs = 5): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await predicate()) return
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`)
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}

/** Runs `check` until it stops throwing and returns its result; after `timeoutMs` its last failure is thrown. */
export async function eventually<T> (check: () => T | Promise<T>, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return await check()
    } catch (err) {
      if (Date.now() > deadline) throw err
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }
}

/**
 * A raw socket that speaks bytes and reads frames, for protocol tests. `nsqd` mode decodes [size][type][data]
 * frames; `lookupd` mode decodes [size][data] answers (type is reported as -1).
 */
export class RawConn {
  readonly socket: Socket
  readonly received: Buffer[] = []
  private readonly frames: Frame[] = []
  private waiters: Array<() => void> = []
  closedByServer = false
  closed: Promise<void>
  private closedAt: number | undefined

  private constructor (socket: Socket, mode: 'nsqd' | 'lookupd') {
    this.socket = socket
    const push = (f: Frame): void => {
      this.frames.push({ type: f.type, data: Buffer.from(f.data) })
      this.wake()
    }
    const decoder = mode === 'nsqd'
      ? new FrameDecoder((type, data) => push({ type, data }), () => {})
      : new SizePrefixedReader((data) => push({ type: -1, data }), () => {})
    socket.on('data', (chunk) => {
      this.received.push(chunk)
      decoder.push(chunk)
    })
    this.closed = new Promise((resolve) => {
      socket.on('end', () => { this.closedByServer = true })
      socket.on('close', () => {
        this.closedAt = Date.now()
        this.wake()
        resolve()
      })
    })
    socket.on('error', () => {})
  }

  static async open (addr: Address, opts: { magic?: Buffer | string | null, mode?: 'nsqd' | 'lookupd' } = {}): Promise<RawConn> {
    const socket = connect(addr.port, addr.host)
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', reject)
    })
    const conn = new RawConn(socket, opts.mode ?? 'nsqd')
    const magic = opts.magic === undefined ? MAGIC_V2 : opts.magic
    if (magic !== null) conn.write(magic)
    return conn
  }

  write (data: Buffer | string): void {
    this.socket.write(data)
  }

  private wake (): void {
    const w = this.waiters
    this.waiters = []
    for (const fn of w) fn()
  }

  get isClosed (): boolean {
    return this.closedAt !== undefined
  }

  /** The next frame, or an error if the connection closes first or nothing comes within timeoutMs. */
  async frame (timeoutMs = 5000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const f = this.frames.shift()
      if (f !== undefined) return f
      if (this.isClosed) throw new Error('connection closed before a frame arrived')
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no frame within ${timeoutMs} ms`)
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left)
        this.waiters.push(() => { clearTimeout(t); resolve() })
      })
    }
  }

  /** The next frame's data as text, checking its type. */
  async expect (type: number, timeoutMs = 5000): Promise<string> {
    const f = await this.frame(timeoutMs)
    if (f.type !== type) throw new Error(`expected frame type ${type}, got ${f.type}: ${f.data.toString()}`)
    return f.data.toString()
  }

  /**
   * Subscribes to `topic` on `channel` with RDY `rdy`, then reads messages, finishing each, until `enough` holds of
   * the bodies read (as text, in arrival order), which it returns.
   */
  async consume (topic: string, channel: string, rdy: number,
    enough: (bodies: readonly string[]) => boolean): Promise<string[]> {
    this.write(commands.sub(topic, channel))
    await this.expect(FrameType.Response)
    this.write(commands.rdy(rdy))
    const bodies: string[] = []
    while (!enough(bodies)) {
      const f = await this.frame()
      if (f.type !== FrameType.Message) continue
      const m = decodeMessage(f.data)
      bodies.push(m.body.toString())
      this.write(commands.fin(m.id))
    }
    return bodies
  }

  /** Frames received so far that nobody has read. */
  pending (): Frame[] {
    return this.frames.splice(0)
  }

  /** Resolves when the server closes the connection; fails after timeoutMs. */
  async waitClosed (timeoutMs = 5000): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      this.closed,
      new Promise((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`connection still open after ${timeoutMs} ms`)), timeoutMs) }),
    ]).finally(() => clearTimeout(timer))
  }

  close (): void {
    this.socket.destroy()
  }
}
export { CAPTURES_DIR, CAPTURES_AVAILABLE, loadTcpCaptures, loadHttpCapture, parseHttpResponse, header } from './captures.js'
export type { TcpCapture, CaptureConnection, CaptureStep, HttpResponseBytes } from './captures.js'
export { GO_REFUSED_TRANSFER_ENCODINGS, GO_TAKEN_TRANSFER_ENCODING, GO_UNSUPPORTED_TE_ANSWER } from './go-http-cases.js'
