import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** Where the NSQ 1.3.0 captures live: ../shared/reference/captures beside the project root. */
export const CAPTURES_DIR = fileURLToPath(new URL('../../../../shared/reference/captures/', import.meta.url))

/**
 * The captures come with the reference folder, not with the repo: a plain clone has none, and the tests that replay
 * them skip there (vitest.config.ts leaves out every *captures.test.ts and says so in one line).
 */
export const CAPTURES_AVAILABLE = existsSync(CAPTURES_DIR)

export interface CaptureStep {
  dir: 'send' | 'recv'
  bytes: number
  note?: string
  hex: string
}

export interface CaptureConnection {
  label: string
  sent_and_received: CaptureStep[]
  received_all_hex: string
  server_closed_connection: boolean
  probe?: string
}

export interface TcpCapture {
  title: string
  connections: CaptureConnection[]
}

export function loadTcpCaptures (): Record<string, TcpCapture> {
  return JSON.parse(readFileSync(`${CAPTURES_DIR}tcp/all_cases.json`, 'utf8')) as Record<string, TcpCapture>
}

/** An HTTP response as it went over the wire: header names in their case and order. */
export interface HttpResponseBytes {
  status: number
  /** e.g. `HTTP/1.1 200 OK` */
  statusLine: string
  reason: string
  headers: Array<[string, string]>
  body: Buffer
}

/** Parses an HTTP/1.x response as received: status line, CRLF header lines, blank line, body (not de-chunked). */
export function parseHttpResponse (raw: Buffer): HttpResponseBytes {
  const split = raw.indexOf('\r\n\r\n')
  const head = raw.subarray(0, split).toString('latin1').split('\r\n')
  const statusLine = head[0] as string
  const [, status, ...reason] = statusLine.split(' ')
  const headers = head.slice(1).map((line): [string, string] => {
    const colon = line.indexOf(':')
    return [line.slice(0, colon), line.slice(colon + 1).trim()]
  })
  return { status: Number(status), statusLine, reason: reason.join(' '), headers, body: raw.subarray(split + 4) }
}

/** A header's value (the first, by case-insensitive name), or undefined. */
export function header (r: { headers: Array<[string, string]> }, name: string): string | undefined {
  const lower = name.toLowerCase()
  return r.headers.find(([n]) => n.toLowerCase() === lower)?.[1]
}

/** One `curl -i` capture file under CAPTURES_DIR. */
export function loadHttpCapture (file: string): HttpResponseBytes {
  return parseHttpResponse(readFileSync(`${CAPTURES_DIR}${file}`))
}
