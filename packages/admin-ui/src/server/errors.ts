import { STATUS_CODES } from 'node:http'
import { HttpError } from '@nsqts/client'
import { goQuote } from '@nsqts/protocol'

/** An /api answer other than 200: nsqadmin sends `{"message": text}` with this status. */
export class ApiError extends Error {
  constructor (readonly status: number, message: string) {
    super(message)
    this.name = 'ApiError'
  }
}

/**
 * How one failed upstream call reads in a message. For an HTTP answer this is nsqadmin's own wording (`got response
 * 404 Not Found "{\"message\":\"TOPIC_NOT_FOUND\"}"`), which operators may grep for; NSQ's daemons always send their
 * error as `{"message":...}`, so the quoted body is rebuilt from the parsed message.
 */
export function describeUpstreamError (err: unknown): string {
  if (err instanceof HttpError) {
    if (err.status === undefined) {
      // fetch wraps the socket error (ECONNREFUSED, ENOTFOUND...) one level down.
      const cause = err.cause as { message?: string, cause?: { code?: string, message?: string } } | undefined
      return `${err.method} ${err.url}: ${cause?.cause?.code ?? cause?.cause?.message ?? cause?.message ?? 'no response'}`
    }
    const body = err.nsqMessage === undefined ? '' : JSON.stringify({ message: err.nsqMessage })
    return `got response ${err.status} ${STATUS_CODES[err.status] ?? ''} ${goQuote(body)}`
  }
  return err instanceof Error ? err.message : String(err)
}

/** All of them failed: nsqadmin's 502. */
export function allFailed (what: string, errors: string[]): ApiError {
  return new ApiError(502, `UPSTREAM_ERROR: failed to query any ${what}: ${errors.join('\n')}`)
}

/** nsqadmin's "message" field: empty, or every partial failure after WARNING:. */
export function warningMessage (errors: string[]): string {
  return errors.length === 0 ? '' : `WARNING: ${errors.join('; ')}`
}
