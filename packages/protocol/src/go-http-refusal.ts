import type { ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { GO_UNSUPPORTED_TE, GO_UNSUPPORTED_TE_BODY } from './go-http.js'

/** How long a connection a daemon closes keeps draining what the client still sends, so that the answer is not lost. */
export const LINGER_MS = 500

const GO_ERROR_HEADERS = '\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n'

/**
 * Connections already given a refusal by answerGoRefusal. Node's parser may report an error after it emitted the
 * request (a Transfer-Encoding it cannot read the body in, such as gzip): the connection has its answer by then.
 */
const refused = new WeakSet<object>()

/**
 * Answers as Go's HTTP server does a request Node's parser refused (the server's `clientError`): `431` for headers
 * past the limit, `501` for a Transfer-Encoding other than chunked, else `400 Bad Request`, as plain text, then a
 * close. Node's own answer has no body, fastify's is JSON.
 */
export function refuseUnparsableRequest (err: Error & { code?: string }, socket: Duplex): void {
  // The parser reports every later chunk too: the answer goes once.
  if (!socket.writable || refused.has(socket)) return
  if (err.code === 'ECONNRESET') {
    socket.destroy()
    return
  }
  const status = err.code === 'HPE_HEADER_OVERFLOW'
    ? '431 Request Header Fields Too Large'
    : err.code === 'HPE_INVALID_TRANSFER_ENCODING' ? GO_UNSUPPORTED_TE : '400 Bad Request'
  // Half-closed, and what the client still sends is dropped for a moment, as Go does: closing at once with its
  // bytes unread would reset the connection, and the reset can overtake the answer.
  socket.end(`HTTP/1.1 ${status}${GO_ERROR_HEADERS}${bodyOf(status)}`)
  setTimeout(() => socket.destroy(), LINGER_MS).unref()
}

/**
 * Answers as Go's HTTP server itself does, then closes, a request it refuses before any handler: `text` is the status
 * line's (GO_BAD_REQUEST, or what goRequestRefusal gives), and the body but for GO_UNSUPPORTED_TE's. Go writes it
 * without Date or Content-Length.
 */
export function answerGoRefusal (res: ServerResponse, text: string): void {
  if (res.socket !== null) refused.add(res.socket)
  res.sendDate = false
  // No length then: the body ends with the connection.
  res.useChunkedEncodingByDefault = false
  res.writeHead(Number(text.slice(0, 3)), text.slice(4), ['Content-Type', 'text/plain; charset=utf-8', 'Connection', 'close'])
  res.end(bodyOf(text))
}

/** The body of Go's refusal with this status line: the status line itself, but for an unsupported Transfer-Encoding. */
function bodyOf (status: string): string {
  return status === GO_UNSUPPORTED_TE ? GO_UNSUPPORTED_TE_BODY : status
}
