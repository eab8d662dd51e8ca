/** Options of the nsqd and nsqlookupd HTTP clients. */
export interface HttpClientOptions {
  /** Abort a request after this many milliseconds. Default 5000. */
  timeoutMs?: number
  /** Extra headers on every request (for example Authorization for a proxy in front of nsqd). */
  headers?: Record<string, string>
  /**
   * Sent as `Authorization: Bearer <token>` on every request (replacing any Authorization in `headers`), for an
   * nsqts nsqd or nsqlookupd started with `--http-bearer-token`. Empty or absent: no such header.
   */
  bearerToken?: string
}

/**
 * An HTTP call to nsqd or nsqlookupd failed. `status` is the HTTP status (undefined when no response came: refused,
 * timed out); `nsqMessage` is NSQ's `{"message": ...}` text, such as TOPIC_NOT_FOUND.
 */
export class HttpError extends Error {
  readonly status: number | undefined
  readonly nsqMessage: string | undefined
  readonly method: string
  readonly url: string

  constructor (method: string, url: string, status: number | undefined, nsqMessage: string | undefined,
    options?: { cause?: unknown }) {
    const what = status === undefined
      ? `no response (${(options?.cause as Error | undefined)?.message ?? 'unknown error'})`
      : `${status}${nsqMessage === undefined ? '' : ` ${nsqMessage}`}`
    super(`${method} ${url}: ${what}`, options)
    this.name = 'HttpError'
    this.method = method
    this.url = url
    this.status = status
    this.nsqMessage = nsqMessage
  }
}

/** NSQ documents this Accept value for its 1.0 API; the servers ignore it, proxies may route on it. */
const ACCEPT = 'application/vnd.nsq; version=1.0'

/**
 * `host:port` becomes http://host:port; a full URL is kept (https, a path prefix behind a proxy). The result always
 * ends with '/', so endpoint paths resolve below it.
 */
export function baseUrl (address: string): URL {
  const url = new URL(address.includes('://') ? address : `http://${address}`)
  if (!url.pathname.endsWith('/')) url.pathname += '/'
  url.search = ''
  return url
}

export type Query = Record<string, string | number | boolean | undefined>

export interface RequestSpec {
  method: 'GET' | 'POST'
  url: URL
  query?: Query
  body?: Buffer | string
}

export class HttpTransport {
  readonly timeoutMs: number
  private readonly headers: Record<string, string>

  constructor (options: HttpClientOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 5000
    this.headers = { accept: ACCEPT, ...options.headers }
    if (options.bearerToken !== undefined && options.bearerToken !== '') {
      // Header names are case-insensitive: drop a caller's Authorization in any spelling so only one is sent.
      for (const name of Object.keys(this.headers)) if (name.toLowerCase() === 'authorization') delete this.headers[name]
      this.headers.authorization = `Bearer ${options.bearerToken}`
    }
  }

  /** Resolves with the response body as text; rejects with HttpError on a non-2xx status or no response. */
  async text (spec: RequestSpec): Promise<string> {
    const url = new URL(spec.url)
    for (const [key, value] of Object.entries(spec.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value))
    }
    let response: Response
    let text: string
    try {
      response = await fetch(url, {
        method: spec.method,
        headers: this.headers,
        body: spec.body,
        signal: AbortSignal.timeout(this.timeoutMs),
      })
      text = await response.text()
    } catch (err) {
      throw new HttpError(spec.method, url.href, undefined, undefined, { cause: err })
    }
    if (!response.ok) throw new HttpError(spec.method, url.href, response.status, nsqMessage(text))
    return text
  }

  async json<T> (spec: RequestSpec): Promise<T> {
    const text = await this.text(spec)
    try {
      return JSON.parse(text) as T
    } catch (err) {
      throw new HttpError(spec.method, spec.url.href, 200, undefined, { cause: err })
    }
  }
}

/** NSQ's errors are `{"message":"TOPIC_NOT_FOUND"}`; a few (GET /ping's NOK) are plain text. */
function nsqMessage (text: string): string | undefined {
  try {
    const parsed = JSON.parse(text) as { message?: unknown }
    if (typeof parsed.message === 'string') return parsed.message
  } catch {}
  return text === '' ? undefined : text
}
