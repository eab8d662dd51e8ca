/**
 * Requests whose Transfer-Encoding Go's server (1.19) refuses itself, whatever Node's parser makes of each: it emits
 * the first and fifth before failing on their bodies, serves the second, and fails the third and fourth on their
 * headers. HTTP/2.0 is refused for its Transfer-Encoding before its version. Shared by every daemon's wire tests.
 */
export const GO_REFUSED_TRANSFER_ENCODINGS: readonly string[] = [
  'GET /ping HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
  'GET /ping HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n',
  'GET /ping HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n',
  'GET /ping HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  'GET /ping HTTP/2.0\r\nTransfer-Encoding: gzip\r\n\r\n',
]

/** Go's whole answer to each of them, after which it closes the connection. */
export const GO_UNSUPPORTED_TE_ANSWER = 'HTTP/1.1 501 Not Implemented\r\nContent-Type: text/plain; charset=utf-8\r\n' +
  'Connection: close\r\n\r\nUnsupported transfer encoding'

/** The Transfer-Encoding Go takes: one header reading chunked, in any case, with spaces around it. */
export const GO_TAKEN_TRANSFER_ENCODING =
  'GET /ping HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:  Chunked \r\nConnection: close\r\n\r\n0\r\n\r\n'
