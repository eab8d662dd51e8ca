/** What /api/history answers; shared with the web app, so nothing here may import Node modules. */

/** One node's figures at one point of a series; `rate` is messages/s since the previous point (null at a gap). */
export interface SeriesValue {
  depth: number
  in_flight: number
  deferred: number
  messages: number
  rate: number | null
}

export interface SeriesPoint {
  ts: number
  /** Node → value; null = node down; a node without the topic/channel is left out. */
  nodes: Record<string, SeriesValue | null>
}

export interface TopicSummary {
  /** Messages waiting: the topic's own queue plus every channel's. */
  depth: number
  messages: number
  rate: number | null
  channels: number
  paused: boolean
}
