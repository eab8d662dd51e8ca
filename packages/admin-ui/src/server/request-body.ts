/** nsqadmin's POST bodies: JSON objects, whatever the Content-Type, read as NSQ's nsqadmin reads them. */
import { ApiError } from './errors.js'

/** Go's json.Decoder errors, which nsqadmin passes through as the 400 message. */
export function parseBody (body: unknown): Record<string, unknown> {
  const text = typeof body === 'string' ? body : ''
  if (text.trim() === '') throw new ApiError(400, 'EOF')
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    const message = (err as Error).message
    throw new ApiError(400, /end of (JSON|data)/i.test(message) ? 'unexpected EOF' : message)
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ApiError(400, 'json: cannot unmarshal body into an object')
  }
  return parsed as Record<string, unknown>
}

/** A string field of a body, '' when it is missing or not a string (as Go's zero value). */
export function field (body: Record<string, unknown>, name: string): string {
  const v = body[name]
  return typeof v === 'string' ? v : ''
}
