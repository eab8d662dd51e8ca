import type { SeriesPoint } from '../../src/server/history-types'
import { config, usePoll } from './api'

/** How often pages refresh what they show. */
export const POLL_MS = 3000
export const historyEvery = Math.min(POLL_MS, config.historyIntervalMs)

export interface History { interval_ms: number, window_ms: number, points: SeriesPoint[] }

/** nsqadmin's recorded series for the charts; `query` narrows it to a topic or a channel. */
export function useHistory (query: string): History | undefined {
  return usePoll<History>(`history${query}`, historyEvery).data
}
