import { fmt } from '../api'

/** A row of labelled figures above a page's tables. */
export function StatsRow ({ stats }: { stats: Array<{ label: string, value: number | undefined, testId?: string }> }) {
  return (
    <div className='stats-row'>
      {stats.map((s) => (
        <div key={s.label}><span>{s.label}</span><strong data-testid={s.testId}>{fmt(s.value)}</strong></div>
      ))}
    </div>
  )
}
