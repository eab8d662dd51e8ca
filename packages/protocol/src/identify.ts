/** The IDENTIFY body a client sends (every field optional; unknown keys are ignored by nsqd). */
export interface IdentifyRequest {
  client_id?: string
  hostname?: string
  user_agent?: string
  feature_negotiation?: boolean
  /** ms; -1 disables, 0 means the server default. */
  heartbeat_interval?: number
  /** bytes; -1 disables buffering, 0 means the server default. */
  output_buffer_size?: number
  /** ms; -1 disables timed flushes, 0 means the server default. */
  output_buffer_timeout?: number
  tls_v1?: boolean
  snappy?: boolean
  deflate?: boolean
  deflate_level?: number
  /** 0-99; 0 delivers every message. */
  sample_rate?: number
  /** ms; 0 means the server default. */
  msg_timeout?: number
  topology_region?: string
  topology_zone?: string
  /** Deprecated fields that go-nsq and nsqjs still send. */
  short_id?: string
  long_id?: string
}

/** nsqd's answer to IDENTIFY when feature_negotiation is true, in nsqd's field order. */
export interface IdentifyResponse {
  max_rdy_count: number
  version: string
  /** ms */
  max_msg_timeout: number
  /** ms, the effective per-connection value */
  msg_timeout: number
  tls_v1: boolean
  deflate: boolean
  deflate_level: number
  max_deflate_level: number
  snappy: boolean
  sample_rate: number
  auth_required: boolean
  output_buffer_size: number
  /** ms */
  output_buffer_timeout: number
}

/** nsqd's answer to AUTH. */
export interface AuthResponse {
  identity: string
  identity_url: string
  permission_count: number
}
