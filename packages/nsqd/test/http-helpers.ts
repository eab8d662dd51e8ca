import { Agent, request as httpRequest } from 'node:http'
import { connect } from 'node:net'
import { expect } from 'vitest'
import { commands, decodeMessage, FrameType } from '@nsqts/protocol'
import { RawConn, header, loadHttpCapture, waitFor, type HttpResponseBytes, type NsqdHandle } from '@nsqts/testkit'

export type WireResponse = Omit<HttpResponseBytes, 'statusLine'>

/**
 * Headers that vary per run or with how Go framed the body (Go chunks bodies over 2 KiB, we always send
 * Content-Length): everything else must match in name, case, value and order.
 */
const FRAMING = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding', 'content-length'])

export function significantHeaders (r: WireResponse): Array<[string, string]> {
  return r.headers.filter(([n]) => !FRAMING.has(n.toLowerCase()))
}

/** Status, reason phrase, significant headers in order, and body (unless `body: false`), as in the capture. */
export function expectLikeCapture (actual: WireResponse, captureName: string, opts: { body?: boolean } = {}): void {
  const capture = loadHttpCapture(captureName)
  expect(`${actual.status} ${actual.reason}`).toBe(`${capture.status} ${capture.reason}`)
  expect(significantHeaders(actual)).toEqual(significantHeaders(capture))
  if (opts.body !== false) expect(actual.body.toString('latin1')).toBe(capture.body.toString('latin1'))
  // Our framing is always Content-Length, and right.
  expect(header(actual, 'Content-Length')).toBe(String(actual.body.length))
}

export interface RequestOptions {
  method?: string
  headers?: Record<string, string>
  body?: Buffer | string
  /** Send the body with Transfer-Encoding: chunked, in two chunks. */
  chunked?: boolean
}

/** A daemon's HTTP listener: an NsqdHandle, or `{ http: server.address() }`. */
export interface HttpTarget {
  http: { host: string, port: number }
}

/** One request over a real keep-alive connection (so that the server's own Connection header shows). */
export async function wireRequest (d: HttpTarget, path: string, opts: RequestOptions = {}): Promise<WireResponse> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  try {
    return await new Promise<WireResponse>((resolve, reject) => {
      const body = opts.body === undefined ? undefined : Buffer.from(opts.body)
      const headers: Record<string, string> = { ...opts.headers }
      if (body !== undefined && opts.chunked !== true) headers['Content-Length'] = String(body.length)
      const req = httpRequest({ host: d.http.host, port: d.http.port, method: opts.method ?? 'GET', path, headers, agent }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const pairs: Array<[string, string]> = []
          for (let i = 0; i < res.rawHeaders.length; i += 2) {
            pairs.push([res.rawHeaders[i] as string, res.rawHeaders[i + 1] as string])
          }
          resolve({ status: res.statusCode ?? 0, reason: res.statusMessage ?? '', headers: pairs, body: Buffer.concat(chunks) })
        })
        res.on('error', reject)
      })
      req.on('error', reject)
      if (body !== undefined && opts.chunked === true) {
        req.write(body.subarray(0, Math.floor(body.length / 2)))
        req.end(body.subarray(Math.floor(body.length / 2)))
      } else {
        req.end(body)
      }
    })
  } finally {
    agent.destroy()
  }
}

/** Raw bytes in, everything the server sends until it closes (or `timeoutMs`) out. */
export async function rawExchange (d: NsqdHandle, request: Buffer,
  timeoutMs = 5000): Promise<{ text: string, closedByServer: boolean }> {
  const socket = connect(d.http.port, d.http.host)
  const chunks: Buffer[] = []
  let closedByServer = false
  socket.on('data', (c) => chunks.push(c))
  socket.on('end', () => { closedByServer = true })
  socket.on('error', () => {})
  socket.write(request)
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()))
  let timer: NodeJS.Timeout | undefined
  await Promise.race([closed, new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs) })])
  clearTimeout(timer)
  socket.destroy()
  return { text: Buffer.concat(chunks).toString('latin1'), closedByServer }
}

/** The request bodies of the captures that need bytes. */
export function binaryMpub (bodies: Array<string | Buffer>, count = bodies.length): Buffer {
  const parts = [Buffer.alloc(4)]
  parts[0]?.writeUInt32BE(count)
  for (const b of bodies) {
    const data = Buffer.from(b)
    const size = Buffer.alloc(4)
    size.writeUInt32BE(data.length)
    parts.push(size, data)
  }
  return Buffer.concat(parts)
}

export async function post (d: NsqdHandle, path: string, body?: string | Buffer): Promise<WireResponse> {
  return await wireRequest(d, path, { method: 'POST', body })
}

/** The HTTP part of the captures' state (README "State during the captures", steps 2 and 3). */
export async function publishCaptureMessages (d: NsqdHandle): Promise<WireResponse[]> {
  const answers = [
    await post(d, '/topic/create?topic=orders'),
    await post(d, '/channel/create?topic=orders&channel=billing'),
    await post(d, '/channel/create?topic=orders&channel=audit%23ephemeral'),
    await post(d, '/topic/create?topic=empty_topic'),
  ]
  for (let i = 1; i <= 8; i++) answers.push(await post(d, '/pub?topic=orders', `http-pub-${i}`))
  const lines = Array.from({ length: 20 }, (_, i) => `mpub-text-${i + 1}`)
  lines.splice(10, 0, '')
  answers.push(await post(d, '/mpub?topic=orders', `${lines.join('\n')}\n`))
  answers.push(await post(d, '/mpub?topic=orders&binary=true', binaryMpub(Array.from({ length: 20 }, (_, i) => `mpub-bin-${i + 1}`))))
  answers.push(await post(d, '/pub?topic=orders&defer=60000', 'http-pub-deferred-60s'))
  return answers
}

export interface CaptureClients {
  publisher: RawConn
  consumer: RawConn
}

/**
 * The captures' raw TCP publisher and consumer (README step 6), leaving `billing` at depth 24, 5 in flight,
 * 2 deferred, 1 requeued and 21 finished, and the publisher with pub_counts orders=3.
 */
export async function connectCaptureClients (d: NsqdHandle): Promise<CaptureClients> {
  const publisher = await RawConn.open(d.tcp)
  publisher.write(commands.identify({ client_id: 'publisher-1', hostname: 'capture-host', user_agent: 'capture-publisher/1.0', feature_negotiation: true }))
  await publisher.expect(FrameType.Response)
  publisher.write(commands.pub('orders', 'tcp-pub-1'))
  publisher.write(commands.pub('orders', 'tcp-pub-2'))
  publisher.write(commands.dpub('orders', 60000, 'tcp-dpub-deferred-60s'))
  for (let i = 0; i < 3; i++) expect(await publisher.expect(FrameType.Response)).toBe('OK')

  const consumer = await RawConn.open(d.tcp)
  consumer.write(commands.identify({
    client_id: 'billing-consumer', hostname: 'capture-host', user_agent: 'capture-consumer/1.0', feature_negotiation: true, msg_timeout: 600000,
  }))
  await consumer.expect(FrameType.Response)
  consumer.write(commands.sub('orders', 'billing'))
  expect(await consumer.expect(FrameType.Response)).toBe('OK')
  consumer.write(commands.rdy(5))
  // Hold #1 and #2, requeue #3, finish the next 20, hold the rest; then finish #1, which lets one more in.
  const held: string[] = []
  let finished = 0
  for (let n = 1; n <= 26; n++) {
    const frame = await consumer.frame()
    expect(frame.type).toBe(FrameType.Message)
    const id = decodeMessage(frame.data).id
    if (n === 3) consumer.write(commands.req(id, 0))
    else if (n > 3 && finished < 20) {
      consumer.write(commands.fin(id))
      finished++
    } else held.push(id)
  }
  consumer.write(commands.fin(held[0] as string))
  expect((await consumer.frame()).type).toBe(FrameType.Message)
  const billing = d.nsqd.getExistingTopic('orders')?.channels.get('billing')
  await waitFor(() => billing?.inFlightCount === 5 && billing.depth === 24, 5000, 'billing settled')
  return { publisher, consumer }
}
