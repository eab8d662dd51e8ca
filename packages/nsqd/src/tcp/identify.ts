import { NsqError, OK, type IdentifyResponse } from '@nsqts/protocol'
import { VERSION } from '../version.js'
import type { Client } from './client.js'
import { upgrade } from './upgrade.js'

function badBody (text: string): NsqError {
  return new NsqError('E_BAD_BODY', `IDENTIFY ${text}`)
}

/** Reads an integer field the way Go's JSON decoder fills an int: absent or null is 0, a non-integer is a decode error. */
function intField (data: Record<string, unknown>, key: string): number | undefined {
  const v = data[key]
  if (v === undefined || v === null) return 0
  return typeof v === 'number' && Number.isInteger(v) ? v : undefined
}

function stringField (data: Record<string, unknown>, key: string): string | undefined {
  const v = data[key]
  if (v === undefined || v === null) return ''
  return typeof v === 'string' ? v : undefined
}

function boolField (data: Record<string, unknown>, key: string): boolean | undefined {
  const v = data[key]
  if (v === undefined || v === null) return false
  return typeof v === 'boolean' ? v : undefined
}

/**
 * IDENTIFY: validates every field as nsqd does and applies them. Without feature_negotiation the answer is a plain
 * OK; with it, the negotiated settings as JSON, then the upgrades it announced (TLS, then snappy or deflate). A second
 * IDENTIFY is accepted, as in nsqd.
 */
export function identify (client: Client, body: Buffer): void {
  const o = client.nsqd.options
  let data: Record<string, unknown>
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'))
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object')
    data = parsed as Record<string, unknown>
  } catch {
    return client.sendError(badBody('failed to decode JSON body'))
  }
  const clientId = stringField(data, 'client_id')
  const hostname = stringField(data, 'hostname')
  const userAgent = stringField(data, 'user_agent')
  const region = stringField(data, 'topology_region')
  const zone = stringField(data, 'topology_zone')
  const featureNegotiation = boolField(data, 'feature_negotiation')
  const tlsV1 = boolField(data, 'tls_v1')
  const snappy = boolField(data, 'snappy')
  const deflate = boolField(data, 'deflate')
  const heartbeat = intField(data, 'heartbeat_interval')
  const bufSize = intField(data, 'output_buffer_size')
  const bufTimeout = intField(data, 'output_buffer_timeout')
  const deflateLevel = intField(data, 'deflate_level')
  const sampleRate = intField(data, 'sample_rate')
  const msgTimeout = intField(data, 'msg_timeout')
  if (clientId === undefined || hostname === undefined || userAgent === undefined || region === undefined ||
      zone === undefined || featureNegotiation === undefined || tlsV1 === undefined || snappy === undefined ||
      deflate === undefined || heartbeat === undefined || bufSize === undefined || bufTimeout === undefined ||
      deflateLevel === undefined || sampleRate === undefined || msgTimeout === undefined) {
    return client.sendError(badBody('failed to decode JSON body'))
  }

  // Heartbeat: -1 disables, 0 is the default (half the client timeout), else 1s..--max-heartbeat-interval.
  let heartbeatMs: number
  if (heartbeat === -1) heartbeatMs = -1
  else if (heartbeat === 0) heartbeatMs = o.clientTimeout / 2
  else if (heartbeat < 1000 || heartbeat > o.maxHeartbeatInterval) return client.sendError(badBody(`heartbeat interval (${heartbeat}) is invalid`))
  else heartbeatMs = heartbeat

  // Output buffer: size -1 turns buffering off (and the timeout with it); 0 keeps the defaults.
  let size = 16 * 1024
  let timeout = o.outputBufferTimeout
  if (bufTimeout === -1) timeout = 0
  else if (bufTimeout === 0) timeout = o.outputBufferTimeout
  else if (bufTimeout < o.minOutputBufferTimeout || bufTimeout > o.maxOutputBufferTimeout) return client.sendError(badBody(`output buffer timeout (${bufTimeout}) is invalid`))
  else timeout = bufTimeout
  if (bufSize === -1) {
    size = 1
    timeout = 0
  } else if (bufSize !== 0) {
    if (bufSize < 64 || bufSize > o.maxOutputBufferSize) return client.sendError(badBody(`output buffer size (${bufSize}) is invalid`))
    size = bufSize
  }

  if (sampleRate < 0 || sampleRate > 99) return client.sendError(badBody(`sample rate (${sampleRate}) is invalid`))

  let msgTimeoutMs = o.msgTimeout
  if (msgTimeout !== 0) {
    if (msgTimeout < 1000 || msgTimeout > o.maxMsgTimeout) return client.sendError(badBody(`msg timeout (${msgTimeout}) is invalid`))
    msgTimeoutMs = msgTimeout
  }

  client.identified = true
  client.clientId = clientId
  client.hostname = hostname
  client.userAgent = userAgent
  client.heartbeatIntervalMs = heartbeatMs
  client.outputBufferSize = size
  client.outputBufferTimeoutMs = timeout
  client.sampleRate = sampleRate
  client.msgTimeoutMs = msgTimeoutMs
  client.startHeartbeat()

  if (!featureNegotiation) {
    client.sendResponse(OK)
    return
  }

  const negotiatedTls = client.nsqd.tlsUpgrader !== undefined && tlsV1
  const negotiatedDeflate = o.deflate && deflate
  // Snappy is off when its package was not found at start, or its codec failed to load (both logged).
  const codec = client.nsqd.snappy
  const negotiatedSnappy = o.snappy && snappy && codec.available
  let level = 6
  if (negotiatedDeflate && deflateLevel > 0) level = deflateLevel
  if (level > o.maxDeflateLevel) level = o.maxDeflateLevel
  if (negotiatedDeflate && negotiatedSnappy) {
    return client.sendError(new NsqError('E_IDENTIFY_FAILED', 'cannot enable both deflate and snappy compression'))
  }

  const response: IdentifyResponse = {
    max_rdy_count: o.maxRdyCount,
    version: VERSION,
    max_msg_timeout: o.maxMsgTimeout,
    msg_timeout: msgTimeoutMs,
    tls_v1: negotiatedTls,
    deflate: negotiatedDeflate,
    deflate_level: level,
    max_deflate_level: o.maxDeflateLevel,
    snappy: negotiatedSnappy,
    sample_rate: sampleRate,
    auth_required: o.authHttpAddresses.length > 0,
    output_buffer_size: size,
    output_buffer_timeout: timeout,
  }
  if (!negotiatedSnappy || codec.block !== undefined) {
    answer(client, response)
    return
  }
  // The first IDENTIFY to negotiate snappy loads the codec. The answer waits for it, so that it never offers a codec
  // that then fails to load (it says snappy false instead), and parsing waits too: what follows may be snappy-framed.
  client.suspendParsing()
  void codec.load().then(() => {
    if (client.isClosed) return
    response.snappy = codec.block !== undefined
    if (!answer(client, response)) client.resumeParsing()
  }).catch((err: unknown) => { client.internalError(err) })
}

/** Sends IDENTIFY's answer and starts the upgrades it announced; false when there are none. */
function answer (client: Client, response: IdentifyResponse): boolean {
  client.sendResponse(Buffer.from(JSON.stringify(response)))
  // A second IDENTIFY never stacks a layer on one already there (NSQ would wrap TLS in TLS); a confused client may
  // break its own connection, never the daemon.
  const tls = response.tls_v1 && client.tls === undefined
  const compression = client.snappy || client.deflate
    ? undefined
    : response.snappy ? 'snappy' : response.deflate ? 'deflate' : undefined
  if (!tls && compression === undefined) return false
  upgrade(client, client.nsqd, tls, compression, response.deflate_level)
  return true
}
