import type { ClientStats } from '@nsqts/protocol'
import type { Client } from './client.js'

/** One client as /stats lists it, its keys in nsqd 1.3.0's order. */
export function statsOfClient (c: Client): ClientStats {
  const s: ClientStats = {
    client_id: c.clientId,
    hostname: c.hostname,
    version: 'V2',
    remote_address: c.remoteAddress,
    state: c.state,
    ready_count: c.readyCount,
    in_flight_count: c.inFlightCount,
    message_count: c.messageCount,
    finish_count: c.finishCount,
    requeue_count: c.requeueCount,
    connect_ts: c.connectTs,
    sample_rate: c.sampleRate,
    deflate: c.deflate,
    snappy: c.snappy,
    user_agent: c.userAgent,
  } as ClientStats
  if (c.auth !== undefined) {
    s.authed = true
    if (c.auth.identity !== '') s.auth_identity = c.auth.identity
    if (c.auth.identityUrl !== '') s.auth_identity_url = c.auth.identityUrl
  }
  const first = c.pubCounts.entries().next()
  // nsqd 1.3.0 lists at most one topic here (a stray break in its loop); the first is kept to match.
  if (first.done !== true) s.pub_counts = [{ topic: first.value[0], count: first.value[1] }]
  s.tls = c.tls !== undefined
  s.tls_cipher_suite = c.tls?.cipherSuite ?? ''
  s.tls_version = c.tls?.version ?? ''
  s.tls_negotiated_protocol = ''
  // Go has reported this as always true since 1.16 (deprecated there).
  s.tls_negotiated_protocol_is_mutual = c.tls !== undefined
  return s
}
