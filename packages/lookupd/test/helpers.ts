import { connect, type Socket } from 'node:net'
import { parseHttpResponse, startLookupd as startLookupdHandle, type HttpResponseBytes } from '@nsqts/testkit'
import type { LookupdOptions, NSQLookupd } from '../src/index.js'

/** Daemons started by a test file; stopAll() in afterEach/afterAll closes whatever a test left running. */
const running = new Set<NSQLookupd>()

export async function startLookupd (options: Partial<LookupdOptions> = {}): Promise<NSQLookupd> {
  const { lookupd } = await startLookupdHandle(options)
  running.add(lookupd)
  return lookupd
}

export async function stopAll (): Promise<void> {
  const all = [...running]
  running.clear()
  await Promise.all(all.map(async (l) => { await l.close() }))
}

/** IDENTIFY\n[size][json] */
export function identifyCommand (body: object | string | Buffer): Buffer {
  const json = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body))
  const size = Buffer.alloc(4)
  size.writeInt32BE(json.length)
  return Buffer.concat([Buffer.from('IDENTIFY\n'), size, json])
}

export const NSQD_IDENTITY = { broadcast_address: '127.0.0.1', hostname: 'vm', tcp_port: 4150, http_port: 4151, version: '1.3.0' }

/** A raw V1 connection: everything the server sends is kept; helpers wait for bytes or for the server's close. */
export class V1Conn {
  received = Buffer.alloc(0)
  serverClosed = false
  private readonly socket: Socket
  private readonly opened: Promise<void>
  private readonly ended: Promise<void>
  /** Checks re-run whenever bytes arrive. */
  private readonly waiters = new Set<() => void>()

  constructor (port: number) {
    this.socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true })
    this.opened = new Promise((resolve, reject) => {
      this.socket.once('connect', resolve)
      this.socket.once('error', reject)
    })
    this.socket.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk])
      for (const waiter of [...this.waiters]) waiter()
    })
    this.socket.on('error', () => {})
    this.ended = new Promise((resolve) => {
      this.socket.once('end', () => {
        this.serverClosed = true
        resolve()
      })
      this.socket.once('close', () => { resolve() })
    })
  }

  static async open (port: number, magic = true): Promise<V1Conn> {
    const conn = new V1Conn(port)
    await conn.opened
    if (magic) conn.send('  V1')
    return conn
  }

  /** The client's `ip:port`, which lookupd reports as the peer's remote_address. */
  get localAddress (): string {
    return `${this.socket.localAddress ?? ''}:${this.socket.localPort ?? 0}`
  }

  send (data: string | Buffer): void {
    this.socket.write(data)
  }

  /** Half-closes the client side, as a peer that is done sending. */
  endWriting (): void {
    this.socket.end()
  }

  /** Resolves with the check's result once it stops throwing, re-checking as bytes arrive. */
  private async until<T> (check: () => T, timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let last: unknown
      const attempt = (): void => {
        try {
          const result = check()
          this.waiters.delete(attempt)
          clearTimeout(timer)
          resolve(result)
        } catch (err) {
          last = err
        }
      }
      const timer = setTimeout(() => {
        this.waiters.delete(attempt)
        reject(last)
      }, timeoutMs)
      this.waiters.add(attempt)
      attempt()
    })
  }

  /** Waits for the next `count` size-prefixed answers (counted from the start of the connection). */
  async waitForFrames (count: number, timeoutMs = 3000): Promise<string[]> {
    return this.until(() => {
      const frames = splitFrames(this.received)
      if (frames.length < count) throw new Error(`got ${frames.length} of ${count} frames: ${JSON.stringify(frames)}`)
      return frames
    }, timeoutMs)
  }

  async request (command: string | Buffer): Promise<string> {
    const before = splitFrames(this.received).length
    this.send(command)
    const frames = await this.waitForFrames(before + 1)
    return frames[before] as string
  }

  /** Resolves true when the server closes within the time, false when the connection is still open then. */
  async closedWithin (ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<false>((resolve) => { timer = setTimeout(() => { resolve(false) }, ms) })
    const result = await Promise.race([this.ended.then(() => true), timeout])
    clearTimeout(timer)
    return result && this.serverClosed
  }

  destroy (): void {
    this.socket.destroy()
  }
}

/** Splits `[4-byte size][data]` answers; a trailing partial one is left out. */
export function splitFrames (buf: Buffer): string[] {
  const out: string[] = []
  let pos = 0
  while (buf.length - pos >= 4) {
    const size = buf.readUInt32BE(pos)
    if (buf.length - pos - 4 < size) break
    out.push(buf.toString('latin1', pos + 4, pos + 4 + size))
    pos += 4 + size
  }
  return out
}

/** A connection that has identified as the captures' nsqd and registered what it produced then. */
export async function fakeNsqd (port: number, identity: object = NSQD_IDENTITY): Promise<V1Conn> {
  const conn = await V1Conn.open(port)
  const answer = await conn.request(identifyCommand(identity))
  if (!answer.startsWith('{')) throw new Error(`IDENTIFY failed: ${answer}`)
  return conn
}

/**
 * One request over a fresh socket, the raw answer kept exactly (header names as sent, which fetch would lowercase).
 * The connection is closed by the client after the answer, so keep-alive never holds the server open.
 */
export async function rawHttp (port: number, method: string, target: string, extraHead = '', timeoutMs = 3000): Promise<HttpResponseBytes> {
  const socket = connect({ host: '127.0.0.1', port })
  const chunks: Buffer[] = []
  try {
    return await new Promise<HttpResponseBytes>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`no whole answer to ${method} ${target}`)) }, timeoutMs)
      // The answer is complete once its head is in and the body has Content-Length bytes.
      const check = (): void => {
        const raw = Buffer.concat(chunks)
        if (raw.indexOf('\r\n\r\n') === -1) return
        const exchange = parseHttpResponse(raw)
        const length = Number(exchange.headers.find(([n]) => n.toLowerCase() === 'content-length')?.[1] ?? 0)
        if (method !== 'HEAD' && exchange.body.length < length) return
        clearTimeout(timer)
        resolve(exchange)
      }
      socket.on('data', (c: Buffer) => {
        chunks.push(c)
        check()
      })
      socket.once('error', reject)
      socket.once('connect', () => { socket.write(`${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${extraHead}\r\n`) })
    })
  } finally {
    socket.destroy()
  }
}

/** Headers that differ between runs or between Go's and Node's servers without mattering to clients. */
const TRANSPORT_HEADERS = new Set(['date', 'connection', 'keep-alive'])

export function significantHeaders (headers: Array<[string, string]>): Array<[string, string]> {
  return headers.filter(([name]) => !TRANSPORT_HEADERS.has(name.toLowerCase()))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
}

/** GET or POST over fetch; the body parsed as JSON when it is JSON. */
export async function api (lookupd: NSQLookupd, method: 'GET' | 'POST', target: string): Promise<{ status: number, body: any }> {
  const res = await fetch(`http://127.0.0.1:${lookupd.httpAddress.port}${target}`, { method })
  const text = await res.text()
  const json = res.headers.get('content-type')?.startsWith('application/json') === true
  return { status: res.status, body: json ? JSON.parse(text) : text }
}

/** /lookup's producers as `broadcast:tcp` strings, sorted. */
export async function lookupProducers (lookupd: NSQLookupd, topic: string): Promise<string[]> {
  const { status, body } = await api(lookupd, 'GET', `/lookup?topic=${encodeURIComponent(topic)}`)
  if (status !== 200) throw new Error(`/lookup?topic=${topic} answered ${status}`)
  return (body.producers as Array<{ broadcast_address: string, tcp_port: number }>).map((p) => `${p.broadcast_address}:${p.tcp_port}`).sort()
}
