import type { IdentifyRequest, IdentifyResponse } from '@nsqts/protocol'
import { CLIENT_VERSION } from './options.js'
import type { ResolvedConnectionOptions } from './options.js'

/** What nsqd answers to IDENTIFY when it does not negotiate features (a plain `OK`): its documented defaults. */
export const PLAIN_OK_IDENTITY: IdentifyResponse = {
  max_rdy_count: 2500,
  version: '',
  max_msg_timeout: 900_000,
  msg_timeout: 60_000,
  tls_v1: false,
  deflate: false,
  deflate_level: 0,
  max_deflate_level: 0,
  snappy: false,
  sample_rate: 0,
  auth_required: false,
  output_buffer_size: 16384,
  output_buffer_timeout: 250,
}

/** The IDENTIFY body for a connection with these options; feature negotiation is always asked for. */
export function identifyRequest (o: ResolvedConnectionOptions): IdentifyRequest {
  return {
    client_id: o.clientId,
    hostname: o.hostname,
    user_agent: o.userAgent === '' ? `nsqts/${CLIENT_VERSION}` : o.userAgent,
    feature_negotiation: true,
    heartbeat_interval: o.heartbeatIntervalMs,
    output_buffer_size: o.outputBufferSize,
    output_buffer_timeout: o.outputBufferTimeoutMs,
    tls_v1: o.tls !== undefined,
    snappy: o.snappy,
    deflate: o.deflate,
    deflate_level: o.deflateLevel,
    sample_rate: o.sampleRate,
    msg_timeout: o.msgTimeoutMs,
  }
}
