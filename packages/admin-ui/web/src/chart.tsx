import type { SeriesPoint, SeriesValue } from '../../src/server/history-types'
import { fmt } from './api'

export type Metric = 'rate' | 'depth' | 'in_flight' | 'deferred'

/** The cluster-wide value at a point: the sum over nodes that answered; null (a gap) when none did. */
function total (p: SeriesPoint, metric: Metric): number | null {
  let sum: number | null = null
  for (const v of Object.values(p.nodes)) {
    if (v === null) continue
    const x = (v as SeriesValue)[metric]
    if (x !== null) sum = (sum ?? 0) + x
  }
  return sum
}

const W = 320
const H = 110
const PAD_LEFT = 4
const PAD_TOP = 8

/** Rounds a maximum up to 1, 2 or 5 × 10^n so the scale does not jitter with every sample. */
function niceMax (max: number): number {
  if (max <= 0) return 1
  const p = 10 ** Math.floor(Math.log10(max))
  for (const m of [1, 2, 5, 10]) if (m * p >= max) return m * p
  return 10 * p
}

/** A line chart of one metric summed over nodes, drawn as SVG; gaps where every node was down. */
export function Chart ({ title, unit, points, metric, windowMs }: {
  title: string
  unit: string
  points: SeriesPoint[]
  metric: Metric
  windowMs: number
}) {
  const values = points.map((p) => total(p, metric))
  const latest = values.at(-1) ?? null
  const now = points.at(-1)?.ts ?? 0
  // Until the history fills the window, span what there is (at least 30 s) so a fresh chart is not a sliver.
  const span = Math.min(windowMs, Math.max(30_000, now - (points[0]?.ts ?? now)))
  const from = now - span
  const max = niceMax(Math.max(0, ...values.filter((v): v is number => v !== null)))
  const x = (ts: number): number => PAD_LEFT + ((ts - from) / span) * (W - PAD_LEFT)
  const y = (v: number): number => PAD_TOP + (1 - v / max) * (H - PAD_TOP)
  const segments: string[] = []
  let current = ''
  points.forEach((p, i) => {
    const v = values[i]
    if (v === null || v === undefined) {
      if (current !== '') segments.push(current)
      current = ''
      return
    }
    current += `${current === '' ? 'M' : 'L'}${x(p.ts).toFixed(1)},${y(v).toFixed(1)}`
  })
  if (current !== '') segments.push(current)
  const downNodes = Object.entries(points.at(-1)?.nodes ?? {}).filter(([, v]) => v === null).map(([n]) => n)
  const ago = span >= 120_000 ? `${Math.round(span / 60_000)} min` : `${Math.round(span / 1000)} s`
  return (
    <figure className='chart' data-testid={`chart-${metric}`} data-latest={latest ?? ''}>
      <figcaption>
        <span>{title}</span>
        <strong>{latest === null ? '–' : fmt(latest, metric === 'rate' ? 1 : 0)} <small>{unit}</small></strong>
      </figcaption>
      <svg
        viewBox={`0 0 ${W} ${H}`} preserveAspectRatio='none' role='img' aria-label={`${title} over the last ${ago}`}
      >
        <line x1={PAD_LEFT} x2={W} y1={y(max)} y2={y(max)} className='grid' />
        <line x1={PAD_LEFT} x2={W} y1={y(max / 2)} y2={y(max / 2)} className='grid' />
        <line x1={PAD_LEFT} x2={W} y1={y(0)} y2={y(0)} className='axis' />
        {segments.map((d, i) => <path key={i} d={d} className='line' vectorEffect='non-scaling-stroke' />)}
      </svg>
      <div className='chart-scale'>
        <span>−{ago}</span><span>max {fmt(max, max < 10 ? 1 : 0)}</span><span>now</span>
      </div>
      {downNodes.length > 0 && <div className='down'>down: {downNodes.join(', ')}</div>}
      {points.length < 2 && <div className='muted'>collecting samples…</div>}
    </figure>
  )
}

export function Charts ({ points, windowMs }: { points: SeriesPoint[] | undefined, windowMs: number }) {
  if (points === undefined) return null
  return (
    <section className='charts'>
      <Chart title='Message rate' unit='msg/s' metric='rate' points={points} windowMs={windowMs} />
      <Chart title='Depth' unit='msgs' metric='depth' points={points} windowMs={windowMs} />
      <Chart title='In flight' unit='msgs' metric='in_flight' points={points} windowMs={windowMs} />
    </section>
  )
}
