/**
 * NSQ's client-visible error codes. An error frame's body is `"<CODE> <description>"`; clients match on the code.
 * Only E_FIN_FAILED, E_REQ_FAILED and E_TOUCH_FAILED leave the connection open (NSQ's ClientErr); every other
 * code is sent and then the connection is closed (NSQ's FatalClientErr).
 */
export const ERROR_CODES = [
  'E_INVALID',
  'E_BAD_PROTOCOL',
  'E_BAD_BODY',
  'E_BAD_TOPIC',
  'E_BAD_CHANNEL',
  'E_BAD_MESSAGE',
  'E_PUB_FAILED',
  'E_MPUB_FAILED',
  'E_DPUB_FAILED',
  'E_SUB_FAILED',
  'E_IDENTIFY_FAILED',
  'E_AUTH_FAILED',
  'E_AUTH_FIRST',
  'E_AUTH_DISABLED',
  'E_AUTH_ERROR',
  'E_UNAUTHORIZED',
  'E_FIN_FAILED',
  'E_REQ_FAILED',
  'E_TOUCH_FAILED',
] as const

export type ErrorCode = (typeof ERROR_CODES)[number]

const NON_FATAL: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['E_FIN_FAILED', 'E_REQ_FAILED', 'E_TOUCH_FAILED'])

export function isFatalCode (code: ErrorCode): boolean {
  return !NON_FATAL.has(code)
}

/** An error that travels to the peer as an error frame: `code`, then one space, then `description`. */
export class NsqError extends Error {
  readonly code: ErrorCode
  readonly description: string
  readonly fatal: boolean

  constructor (code: ErrorCode, description: string, options?: { cause?: unknown }) {
    super(description === '' ? code : `${code} ${description}`, options)
    this.name = 'NsqError'
    this.code = code
    this.description = description
    this.fatal = isFatalCode(code)
  }

  /** The exact bytes NSQ puts in the error frame's data. */
  get wireText (): string {
    return this.message
  }
}

/** Reads the code off an error frame's text (`"E_FOO some text"`), or undefined when it is not one of NSQ's. */
export function parseErrorText (text: string): { code: ErrorCode, description: string } | undefined {
  const space = text.indexOf(' ')
  const code = space === -1 ? text : text.slice(0, space)
  if (!(ERROR_CODES as readonly string[]).includes(code)) return undefined
  return { code: code as ErrorCode, description: space === -1 ? '' : text.slice(space + 1) }
}
