import { fmt } from '../api'

/** One figure of a stats row; `testId` marks the number for tests. */
export interface Stat { label: string, value: number | undefined, testId?: string }

/** A row of labelled figures above a page's tables. */
export function StatsRow ({ stats }: { stats: Stat[] }) {
  return (
    <div className='stats-row'>
      {stats.map((s) => (
        <div key={s.label}><span>{s.label}</span><strong data-testid={s.testId}>{fmt(s.value)}</strong></div>
      ))}
    </div>
  )
}
