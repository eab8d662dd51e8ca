import { useState } from 'react'
import { fmt, usePoll } from '../api'
import { Banner } from '../components/notices'

/** One big number: messages processed over every channel of every node, and the rate between changes. */
export function CounterPage () {
  const counter = usePoll<{ stats: Record<string, { message_count: number }>, message: string }>('counter', 1000)
  const [seen, setSeen] = useState<{ at: number, total: number, rate: number | null }>()
  let total: number | undefined
  if (counter.data !== undefined) {
    total = 0
    for (const s of Object.values(counter.data.stats)) total += s.message_count
    const now = Date.now()
    if (seen === undefined || (seen.total !== total && now > seen.at)) {
      const rate = seen === undefined || total < seen.total ? null : (total - seen.total) * 1000 / (now - seen.at)
      setSeen({ at: now, total, rate })
    }
  }
  const rateText = seen?.rate != null ? ` · ${fmt(seen.rate, 1)} msg/s` : ''
  return (
    <>
      <h1>Messages processed</h1>
      <Banner error={counter.error} message={counter.data?.message} />
      <div className='counter' data-testid='counter'>{total === undefined ? '–' : fmt(total)}</div>
      <p className='muted center'>sum of message counts over every channel of every node{rateText}</p>
    </>
  )
}
