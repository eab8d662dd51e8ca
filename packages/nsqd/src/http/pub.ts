import type { RouteTable } from './router.js'
import { isValidTopicName } from '@nsqts/protocol'
import type { HttpBroker } from './broker.js'
import type { Topic } from '../topic.js'
import type { PendingWrite } from '../backend/types.js'
import { first, type QueryValues } from './query.js'
import { HttpError, declaredLength, queryOf, readBody, sendV1 } from './respond.js'

/** nsqd reads the topic (and creates it) from `?topic=`: missing is MISSING_ARG_TOPIC, a bad name INVALID_TOPIC. */
export function topicFromQuery (nsqd: HttpBroker, query: QueryValues): Topic {
  const name = first(query, 'topic')
  if (name === undefined) throw new HttpError(400, 'MISSING_ARG_TOPIC')
  if (!isValidTopicName(name)) throw new HttpError(400, 'INVALID_TOPIC')
  return nsqd.getTopic(name)
}

/** Go's strconv.ParseInt base 10: an optional sign, then digits. */
const INT = /^[+-]?\d+$/

/** `?defer=` in ms: an integer from 0 to --max-req-timeout, else INVALID_DEFER. */
function deferOf (query: QueryValues, maxReqTimeout: number): number {
  const text = first(query, 'defer')
  if (text === undefined) return 0
  if (!INT.test(text)) throw new HttpError(400, 'INVALID_DEFER')
  const ms = BigInt(text)
  if (ms < 0n || ms > BigInt(maxReqTimeout)) throw new HttpError(400, 'INVALID_DEFER')
  return Number(ms)
}

const BOOLS: ReadonlyMap<string, boolean> = new Map([['true', true], ['1', true], ['false', false], ['0', false]])

/** /mpub?binary=: true/1/false/0; any other value means binary too (nsqd logs it as deprecated). */
function binaryMode (nsqd: HttpBroker, query: QueryValues): boolean {
  const value = first(query, 'binary')
  if (value === undefined) return false
  const mode = BOOLS.get(value)
  if (mode !== undefined) return mode
  nsqd.logger.warn(`deprecated value '${value}' used for /mpub binary param`)
  return true
}

/**
 * Text /mpub: one message per `\n`-terminated line, empty lines skipped. `data` holds at most limit + 1 bytes, and
 * like nsqd the lines are checked in order, so a line over --max-msg-size before the body passes the limit is
 * MSG_TOO_BIG and the body reaching limit + 1 bytes is BODY_TOO_BIG.
 */
function splitLines (data: Buffer, readMax: number, maxMsgSize: number): Buffer[] {
  const lines: Buffer[] = []
  let start = 0
  while (start < data.length) {
    const nl = data.indexOf(0x0a, start)
    const end = nl === -1 ? data.length : nl + 1
    if (end === readMax) throw new HttpError(413, 'BODY_TOO_BIG')
    const line = data.subarray(start, nl === -1 ? end : nl)
    start = end
    if (line.length === 0) continue
    if (line.length > maxMsgSize) throw new HttpError(413, 'MSG_TOO_BIG')
    lines.push(line)
  }
  return lines
}

/**
 * Binary /mpub, TCP MPUB's body without its size prefix:
 *
 *   [ 4-byte BE int32 count ][ 4-byte BE int32 size ][ body ] ... count times
 *
 * Errors are 413 with the TCP error code minus `E_`. Trailing bytes are ignored, as nsqd reads by count.
 */
function splitBinary (data: Buffer, maxMsgSize: number, maxBodySize: number): Buffer[] {
  if (data.length < 4) throw new HttpError(413, 'BAD_BODY')
  const count = data.readInt32BE(0)
  if (count <= 0 || count > Math.floor((maxBodySize - 4) / 5)) throw new HttpError(413, 'BAD_BODY')
  const bodies: Buffer[] = []
  let at = 4
  for (let i = 0; i < count; i++) {
    if (at + 4 > data.length) throw new HttpError(413, 'BAD_MESSAGE')
    const size = data.readInt32BE(at)
    at += 4
    if (size <= 0 || size > maxMsgSize || at + size > data.length) throw new HttpError(413, 'BAD_MESSAGE')
    bodies.push(data.subarray(at, at + size))
    at += size
  }
  return bodies
}

/**
 * Waits for the write Topic.publish returned, if any: never an OK for a message that is not stored. NSQ answers a
 * failed disk write with 503 EXITING; a 500 says what happened.
 */
async function stored (write: PendingWrite | undefined, failure: string): Promise<void> {
  try {
    await write?.settled()
  } catch {
    throw new HttpError(500, failure)
  }
}

/** POST /pub and /mpub. Not access-logged, like nsqd: they are the hot path. */
export function pubRoutes (app: RouteTable, nsqd: HttpBroker): void {
  // nsqd checks the body before the query, so an empty body without a topic is MSG_EMPTY.
  app.post('/pub', 'off', async (call) => {
    const { maxMsgSize, maxReqTimeout } = nsqd.options
    if ((declaredLength(call) ?? 0) > maxMsgSize) throw new HttpError(413, 'MSG_TOO_BIG')
    const body = await readBody(call, maxMsgSize)
    if (body.tooBig) throw new HttpError(413, 'MSG_TOO_BIG')
    if (body.data.length === 0) throw new HttpError(400, 'MSG_EMPTY')
    const query = queryOf(call)
    // Created before `defer` is checked, as nsqd does.
    const topic = topicFromQuery(nsqd, query)
    const deferMs = deferOf(query, maxReqTimeout)
    if (nsqd.isExiting) throw new HttpError(503, 'EXITING')
    if (topic.refuses(1)) throw new HttpError(503, 'TOPIC_FULL')
    await stored(topic.publish(body.data, deferMs), 'PUB_FAILED')
    await sendV1(call, 'OK')
  })

  // The topic is created before the body is read: a rejected body still leaves it.
  app.post('/mpub', 'off', async (call) => {
    const { maxMsgSize, maxBodySize } = nsqd.options
    if ((declaredLength(call) ?? 0) > maxBodySize) throw new HttpError(413, 'BODY_TOO_BIG')
    const query = queryOf(call)
    const topic = topicFromQuery(nsqd, query)
    const binary = binaryMode(nsqd, query)
    const body = await readBody(call, maxBodySize)
    let bodies: Buffer[]
    if (binary) {
      try {
        bodies = splitBinary(body.data, maxMsgSize, maxBodySize)
      } catch (err) {
        // nsqd would read a chunked binary body of any size; we stop at --max-body-size like everywhere else.
        throw body.tooBig ? new HttpError(413, 'BODY_TOO_BIG') : err
      }
    } else {
      bodies = splitLines(body.data, maxBodySize + 1, maxMsgSize)
    }
    if (nsqd.isExiting) throw new HttpError(503, 'EXITING')
    // nsqts: a full topic with overflow=reject refuses the whole MPUB (docs/policies.md).
    if (topic.refuses(bodies.length)) throw new HttpError(503, 'TOPIC_FULL')
    // Every body was checked before any is queued: all or nothing.
    await stored(topic.publish(bodies), 'MPUB_FAILED')
    await sendV1(call, 'OK')
  })
}
