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

export interface HttpCapture {
  status: number
  statusLine: string
  /** Header names lower-cased, values as sent. */
  headers: Record<string, string>
  /** Header names exactly as they were on the wire, in order. */
  rawHeaderNames: string[]
  body: Buffer
}

/** Parses one `curl -i` capture file (CRLF header lines, blank line, body as received). */
export function loadHttpCapture (file: string): HttpCapture {
  const raw = readFileSync(`${CAPTURES_DIR}${file}`)
  const split = raw.indexOf('\r\n\r\n')
  const head = raw.subarray(0, split).toString('latin1').split('\r\n')
  const statusLine = head[0] as string
  const headers: Record<string, string> = {}
  const rawHeaderNames: string[] = []
  for (const line of head.slice(1)) {
    const i = line.indexOf(':')
    const name = line.slice(0, i)
    rawHeaderNames.push(name)
    headers[name.toLowerCase()] = line.slice(i + 1).trim()
  }
  return { status: Number(statusLine.split(' ')[1]), statusLine, headers, rawHeaderNames, body: raw.subarray(split + 4) }
}
