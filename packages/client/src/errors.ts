/**
 * Errors raised by the client itself. Errors that nsqd sends (error frames) surface as the protocol package's
 * NsqError, with the wire code in `code`; the HTTP helpers raise {@link HttpError}.
 */
import { NsqError, parseErrorText } from '@nsqts/protocol'

/** The TCP connection to an nsqd failed or was lost. `address` says which node; `cause` holds the socket error. */
export class ConnectionError extends Error {
  readonly address: string
  constructor (address: string, message: string, options?: { cause?: unknown }) {
    super(`${address}: ${message}`, options)
    this.name = 'ConnectionError'
    this.address = address
  }
}

/**
 * A command was written but the connection closed before nsqd answered it. For a publish this means the message may
 * or may not have been queued: retry it if duplicates are acceptable (NSQ is at-least-once anyway).
 */
export class ConnectionClosedError extends ConnectionError {
  constructor (address: string, options?: { cause?: unknown }) {
    super(address, 'connection closed before nsqd answered', options)
    this.name = 'ConnectionClosedError'
  }
}

/** A Producer or Consumer was used after close(). */
export class ClosedError extends Error {
  constructor (what: string) {
    super(`${what} is closed`)
    this.name = 'ClosedError'
  }
}

/** An error frame's text as an NsqError (`E_CODE description`), or a plain Error when it has no NSQ code. */
export function errorFromText (text: string): Error {
  const parsed = parseErrorText(text)
  if (parsed === undefined) return new Error(`nsqd error: ${text}`)
  return new NsqError(parsed.code, parsed.description)
}
