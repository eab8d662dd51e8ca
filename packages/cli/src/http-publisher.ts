import http from 'node:http'
import https from 'node:https'

export interface HttpPublisherOptions {
  method: 'GET' | 'POST'
  /** POST: URLs as given; GET: URLs with one `%s`, replaced by the query-escaped body. */
  contentType: string
  headers: Record<string, string>
  connectTimeoutMs: number
  requestTimeoutMs: number
  /** Concurrent requests (-n): the connection pool holds at most this many sockets per host. */
  concurrency: number
  userAgent: string
}

/**
 * Sends message bodies over HTTP with keep-alive connections. A request fails (rejects) on a network error, a
 * timeout, or a status NSQ's nsq_to_http does not accept: anything outside 2xx for POST, anything but 200 for GET.
 */
export class HttpPublisher {
  private readonly httpAgent: http.Agent
  private readonly httpsAgent: https.Agent

  constructor (private readonly options: HttpPublisherOptions) {
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets: options.concurrency })
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets: options.concurrency })
  }

  publish (address: string, body: Buffer): Promise<void> {
    const post = this.options.method === 'POST'
    const url = new URL(post ? address : address.replace('%s', queryEscape(body)))
    const headers: Record<string, string | number> = { 'user-agent': this.options.userAgent, ...this.options.headers }
    if (post) {
      headers['content-type'] = this.options.contentType
      headers['content-length'] = body.length
    }
    const secure = url.protocol === 'https:'
    const request = (secure ? https : http).request(url, {
      method: this.options.method,
      headers,
      agent: secure ? this.httpsAgent : this.httpAgent,
    })
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        request.destroy(new Error(`timed out after ${this.options.requestTimeoutMs}ms`))
      }, this.options.requestTimeoutMs)
      let connectTimer: NodeJS.Timeout | undefined
      request.on('socket', (socket) => {
        if (!socket.connecting) return
        connectTimer = setTimeout(() => {
          request.destroy(new Error(`connect timed out after ${this.options.connectTimeoutMs}ms`))
        }, this.options.connectTimeoutMs)
        socket.once('connect', () => { clearTimeout(connectTimer) })
      })
      request.on('close', () => {
        clearTimeout(timer)
        clearTimeout(connectTimer)
      })
      request.on('error', reject)
      request.on('response', (response) => {
        const status = response.statusCode ?? 0
        // Read the body to the end so the connection goes back to the pool.
        response.resume()
        response.on('error', reject)
        response.on('end', () => {
          const ok = post ? status >= 200 && status < 300 : status === 200
          if (ok) resolve()
          else reject(new Error(`got status code ${status}`))
        })
      })
      request.end(post ? body : undefined)
    })
  }

  close (): void {
    this.httpAgent.destroy()
    this.httpsAgent.destroy()
  }
}

const UNRESERVED = new Uint8Array(256)
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~') UNRESERVED[c.charCodeAt(0)] = 1
const HEX = '0123456789ABCDEF'

/** Go's url.QueryEscape over raw bytes: unreserved bytes as is, space as '+', every other byte as %XX. */
export function queryEscape (bytes: Uint8Array): string {
  let out = ''
  for (const b of bytes) {
    if (UNRESERVED[b] === 1) out += String.fromCharCode(b)
    else if (b === 0x20) out += '+'
    else out += '%' + HEX[b >> 4]! + HEX[b & 15]!
  }
  return out
}
