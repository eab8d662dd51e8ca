/**
 * The JSON answers of nsqd's and nsqlookupd's HTTP APIs (NSQ 1.3.0), with the field names of the wire. nsqd builds
 * its /stats from these, the client reads them and nsqadmin aggregates them, so they are defined here once. Fields
 * that 1.3.0 only sends in some builds or only when set (Go's omitempty) are optional. Key order on the wire is the
 * order in which the sender builds each object, not the order of the fields here.
 */

/** GET /info on nsqd. Durations are nanoseconds (Go time.Duration); ports are -1 for unix sockets. */
export interface NsqdInfo {
  version: string
  broadcast_address: string
  hostname: string
  http_port: number
  tcp_port: number
  /** Unix seconds. */
  start_time: number
  max_heartbeat_interval: number
  max_output_buffer_size: number
  max_output_buffer_timeout: number
  max_deflate_level: number
  topology_zone?: string
  topology_region?: string
}

/** One end-to-end processing latency percentile: `value` is in nanoseconds. */
export interface LatencyPercentile {
  quantile: number
  value: number
}

/** A channel's (or, merged over its channels, a topic's) time from publish to FIN. */
export interface E2eProcessingLatency {
  count: number
  /** Sorted by quantile, highest first; null when no percentile is configured (or a topic has no channel). */
  percentiles: LatencyPercentile[] | null
}

/** A TCP client of nsqd as /stats lists it. `state`: 0 init, 1 disconnected, 2 connected, 3 subscribed, 4 closing. */
export interface ClientStats {
  client_id: string
  hostname: string
  version: string
  remote_address: string
  state: number
  ready_count: number
  in_flight_count: number
  message_count: number
  finish_count: number
  requeue_count: number
  /** Unix seconds. */
  connect_ts: number
  sample_rate: number
  deflate: boolean
  snappy: boolean
  user_agent: string
  tls: boolean
  tls_cipher_suite: string
  tls_version: string
  tls_negotiated_protocol: string
  tls_negotiated_protocol_is_mutual: boolean
  topology_zone?: string
  topology_region?: string
  authed?: boolean
  auth_identity?: string
  auth_identity_url?: string
  /** Only on producers; NSQ 1.3.0 lists at most one topic here. */
  pub_counts?: Array<{ topic: string, count: number }>
}

export interface ChannelStats {
  channel_name: string
  /** Memory plus disk; excludes in-flight and deferred. */
  depth: number
  backend_depth: number
  in_flight_count: number
  deferred_count: number
  message_count: number
  requeue_count: number
  timeout_count: number
  client_count: number
  /** null with include_clients=false. */
  clients: ClientStats[] | null
  paused: boolean
  e2e_processing_latency: E2eProcessingLatency
  zone_local_msg_count?: number
  region_local_msg_count?: number
  global_msg_count?: number
  /**
   * nsqts delivery policies (docs/policies.md): the four fields below are sent only for a channel with a policy in
   * force (its own or nsqd's flags) or with a non-zero count, so an nsqd without policies answers as NSQ 1.3.0.
   */
  policy?: ChannelPolicy
  dead_lettered_count?: number
  expired_count?: number
  dropped_count?: number
}

export interface TopicStats {
  topic_name: string
  /** Sorted by name. */
  channels: ChannelStats[]
  depth: number
  backend_depth: number
  message_count: number
  message_bytes: number
  paused: boolean
  e2e_processing_latency: E2eProcessingLatency
  /** nsqts: sent only for a topic with a policy set or a non-zero count, as on channels. */
  policy?: TopicPolicy
  rejected_count?: number
  expired_count?: number
  dropped_count?: number
}

/** /stats "memory": Go's runtime.MemStats, under NSQ's names. */
export interface MemoryStats {
  heap_objects: number
  heap_idle_bytes: number
  heap_in_use_bytes: number
  heap_released_bytes: number
  gc_pause_usec_100: number
  gc_pause_usec_99: number
  gc_pause_usec_95: number
  next_gc_bytes: number
  gc_total_runs: number
}

/** GET /stats?format=json on nsqd. */
export interface NsqdStats {
  version: string
  health: string
  /** Unix seconds. */
  start_time: number
  /** Sorted by name; null when ?topic= names a missing topic. */
  topics: TopicStats[] | null
  /** Absent with include_mem=false. */
  memory?: MemoryStats
  /** Connections that ever published; null with include_clients=false, when there are none, or for a missing topic. */
  producers: ClientStats[] | null
}

/** An nsqd as nsqlookupd knows it. In 1.3.0 the topology fields are not sent. */
export interface LookupdProducer {
  remote_address: string
  hostname: string
  broadcast_address: string
  tcp_port: number
  http_port: number
  version: string
  topology_zone?: string
  topology_region?: string
}

/** GET /lookup?topic= on nsqlookupd. Channel order is unspecified. */
export interface LookupResponse {
  channels: string[]
  producers: LookupdProducer[]
}

/** An entry of GET /nodes: `tombstones[i]` tells whether `topics[i]` is tombstoned on this node. */
export interface LookupdNode extends LookupdProducer {
  tombstones: boolean[]
  topics: string[]
}

/**
 * nsqts delivery policies (docs/policies.md). What to do with a message that would push a queue past `max_depth`:
 * `reject` is for topics only (the publish fails), `dead-letter` for channels only (the oldest goes to the channel's
 * dead-letter topic).
 */
export type OverflowAction = 'drop-oldest' | 'dead-letter' | 'reject'

/** GET/POST /channel/policy: the policy in force on a channel (its own settings, else nsqd's flags). */
export interface ChannelPolicy {
  /** 0 = off: a message is redelivered for ever, as in NSQ. */
  max_attempts: number
  /** The effective name: `<topic>.dead` unless set. */
  dead_letter_topic: string
  /** A Go duration ("30s", "1m0s"); '' = off. */
  ttl: string
  ttl_action: 'drop' | 'dead-letter'
  /** 0 = unbounded. */
  max_depth: number
  /** Meaningful only when max_depth > 0; 'drop-oldest' unless set. */
  overflow: OverflowAction
}

/** GET/POST /topic/policy: a topic's own queue. */
export interface TopicPolicy {
  ttl: string
  max_depth: number
  /** 'reject' unless set (a full topic refuses publishes rather than losing messages silently), or 'drop-oldest'. */
  overflow: OverflowAction
}

/** One message of GET /channel/peek. */
export interface PeekedMessage {
  /** The 16-character message id as sent on the wire. */
  id: string
  /** Nanoseconds since the epoch, as the wire and /stats use. */
  timestamp: number
  attempts: number
  /** The body as text when it is valid UTF-8, else base64. */
  body: string
  body_encoding: 'utf8' | 'base64'
}

/** GET /channel/peek?topic=&channel=&n= (n 10 by default, at most 1000). */
export interface PeekResponse {
  messages: PeekedMessage[]
}

/** POST /channel/redrive?topic=&channel=&to=&n= */
export interface RedriveResponse {
  moved: number
}
