import { STATUS_CODES, type IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import type { HttpCall } from './router.js'
import { answerGoRefusal, goHtmlSafe, LINGER_MS } from '@nsqts/protocol'
import { parseQuery, type QueryValues } from './query.js'

/**
 * NSQ's HTTP conventions, written raw so that the header names, their order and the reason phrases are Go's.
 *
 * "V1" answers (every API route): 200 with the raw text, an empty body, or JSON; errors as `{"message":"TEXT"}`;
 * all with X-Nsq-Content-Type, which go-nsq needs to read a body as bare JSON rather than the pre-1.0 envelope.
 */

const NSQ_V1_HEADER = 'X-Nsq-Content-Type'
const NSQ_V1_VALUE = 'nsq; version=1.0'
const JSON_TYPE = 'application/json; charset=utf-8'
const TEXT_TYPE = 'text/plain; charset=utf-8'

/** An API error: its status and the text NSQ puts in `{"message": ...}`. */
export class HttpError extends Error {
  constructor (readonly status: number, readonly text: string) {
    super(text)
    this.name = 'HttpError'
  }
}

/** The client went away while its body was being read: nothing to answer. */
export class RequestAborted extends Error {}

/** JSON as Go's encoding/json writes it: it also escapes <, > and & and the two JS line separators. */
export function goJson (value: unknown): string {
  return goHtmlSafe(JSON.stringify(value))
}

// ---- request bodies ----

/**
 * Go's HTTP server reads up to this much of a body a handler left unread so the connection can be reused; with more
 * left it answers with `Connection: close` instead.
 */
const MAX_POST_HANDLER_READ = 256 * 1024

/** Bytes of each request's body taken by readBody. */
const consumed = new WeakMap<IncomingMessage, number>()
/** Requests whose `Expect: 100-continue` was answered: only when a handler starts reading, like Go. */
const continued = new WeakSet<IncomingMessage>()

/** The Content-Length the client declared; undefined for a chunked body. */
export function declaredLength (call: HttpCall): number | undefined {
  const value = call.req.headers['content-length']
  return value === undefined ? undefined : Number(value)
}

export interface Body {
  /** At most limit + 1 bytes: one past the limit shows that it was exceeded, as Go's LimitReader check does. */
  data: Buffer
  tooBig: boolean
}

/** Reads the request body, stopping (and leaving the rest unread) once it passes `limit` bytes. */
export function readBody (call: HttpCall, limit: number): Promise<Body> {
  const req = call.req
  if (!req.complete && req.headers.expect?.toLowerCase() === '100-continue' && !continued.has(req)) {
    continued.add(req)
    call.res.writeContinue()
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const done = (): void => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onAbort)
      req.off('close', onAbort)
    }
    const onData = (chunk: Buffer): void => {
      size += chunk.length
      consumed.set(req, size)
      if (size <= limit) {
        chunks.push(chunk)
        return
      }
      done()
      req.pause()
      chunks.push(chunk.subarray(0, chunk.length - (size - limit - 1)))
      resolve({ data: Buffer.concat(chunks, limit + 1), tooBig: true })
    }
    const onEnd = (): void => {
      done()
      // A body that came in one chunk is used as is: the message takes its own copy of it.
      resolve({ data: chunks.length === 1 ? chunks[0] as Buffer : Buffer.concat(chunks, size), tooBig: false })
    }
    const onAbort = (): void => {
      done()
      reject(new RequestAborted('request aborted'))
    }
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onAbort)
    req.on('close', onAbort)
  })
}

/** Reads and drops up to `max` more bytes; true if the body goes on beyond them. */
function drainsWithin (req: IncomingMessage, max: number): Promise<boolean> {
  return new Promise((resolve) => {
    let seen = 0
    const done = (more: boolean): void => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onEnd)
      req.off('close', onEnd)
      resolve(more)
    }
    const onData = (chunk: Buffer): void => {
      seen += chunk.length
      if (seen > max) {
        req.pause()
        done(true)
      }
    }
    const onEnd = (): void => done(false)
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onEnd)
    req.on('close', onEnd)
    req.resume()
  })
}

/**
 * Whether the answer must close the connection because of request body left on the wire, by Go's rules: an
 * unanswered `Expect: 100-continue`, or a known remainder of 256 KiB or more, or a chunked body that does not end
 * within the next 256 KiB.
 */
async function mustCloseForUnreadBody (req: IncomingMessage): Promise<boolean> {
  if (req.complete) return false
  if (req.headers.expect?.toLowerCase() === '100-continue') return true
  const length = req.headers['content-length']
  if (length !== undefined) return Number(length) - (consumed.get(req) ?? 0) >= MAX_POST_HANDLER_READ
  if (req.headers['transfer-encoding'] === undefined) return false
  return await drainsWithin(req, MAX_POST_HANDLER_READ)
}

/**
 * Node destroys a socket as soon as a `Connection: close` answer is flushed; with request bytes still unread the
 * kernel then resets the connection, and the reset can reach the client before it has read the answer. Like Go,
 * half-close instead, keep discarding what the client still sends for a moment, then close.
 */
function lingerOnClose (req: IncomingMessage): void {
  const socket = req.socket
  socket.destroySoon = function (this: Socket): void {
    this.end()
    setTimeout(() => this.destroy(), LINGER_MS).unref()
  }
  req.resume()
}

// ---- responses ----

/** Go's reason phrases; Node's differ only for 413. */
function reason (status: number): string {
  return status === 413 ? 'Request Entity Too Large' : STATUS_CODES[status] ?? ''
}

/**
 * Writes one answer: `headers` (name, value, name, value ...) as the handler set them, then Date and Content-Length
 * as Go's server adds them, then the Content-Type Go sniffs from a non-empty text body (`sniffed`). `close` ends the
 * connection whatever is left of the request.
 */
export async function send (call: HttpCall, status: number, headers: string[], body: string | Buffer,
  opts: { sniffed?: string, close?: boolean } = {}): Promise<void> {
  const { req, res } = call
  if (res.headersSent || res.destroyed) return
  const close = opts.close === true || await mustCloseForUnreadBody(req)
  const length = typeof body === 'string' ? Buffer.byteLength(body) : body.length
  const head = [...headers, 'Date', new Date().toUTCString(), 'Content-Length', String(length)]
  if (opts.sniffed !== undefined && length > 0) head.push('Content-Type', opts.sniffed)
  if (close) {
    head.push('Connection', 'close')
    lingerOnClose(req)
  }
  res.writeHead(status, reason(status), head)
  res.end(body)
}

/** A V1 success: text as is, null as an empty body, anything else as JSON. */
export function sendV1 (call: HttpCall, data: string | Buffer | null | number | boolean | object): Promise<void> {
  if (data === null) return send(call, 200, [NSQ_V1_HEADER, NSQ_V1_VALUE], '')
  if (typeof data === 'string' || Buffer.isBuffer(data)) return send(call, 200, [NSQ_V1_HEADER, NSQ_V1_VALUE], data, { sniffed: TEXT_TYPE })
  return send(call, 200, ['Content-Type', JSON_TYPE, NSQ_V1_HEADER, NSQ_V1_VALUE], goJson(data))
}

/** A V1 error, `{"message":"TEXT"}`, after any headers the router set (Allow). */
export function sendV1Error (call: HttpCall, status: number, text: string, before: string[] = []): Promise<void> {
  return send(call, status, [...before, 'Content-Type', JSON_TYPE, NSQ_V1_HEADER, NSQ_V1_VALUE], goJson({ message: text }))
}

/** A V1 answer whose JSON body is already written out (NSQ formats a few by hand, e.g. TLS_REQUIRED). */
export function sendV1Json (call: HttpCall, status: number, json: string, before: string[] = []): Promise<void> {
  return send(call, status, [...before, 'Content-Type', JSON_TYPE, NSQ_V1_HEADER, NSQ_V1_VALUE], json)
}

/** A plain text answer without the V1 header (/ping). */
export function sendPlain (call: HttpCall, status: number, text: string): Promise<void> {
  return send(call, status, [], text, { sniffed: TEXT_TYPE })
}

/** What Go's server itself answers, and then closes, to a request it refuses before any handler (answerGoRefusal). */
export function sendGoRefusal (call: HttpCall, text: string): void {
  const { req, res } = call
  if (res.headersSent || res.destroyed) return
  lingerOnClose(req)
  answerGoRefusal(res, text)
}

// ---- query ----

/** The request's query, parsed like Go's url.ParseQuery; a malformed one is 400 INVALID_REQUEST. */
export function queryOf (call: HttpCall): QueryValues {
  const url = call.req.url ?? ''
  const at = url.indexOf('?')
  const values = parseQuery(at === -1 ? '' : url.slice(at + 1))
  if (values === undefined) throw new HttpError(400, 'INVALID_REQUEST')
  return values
}
