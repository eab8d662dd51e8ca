import type { TopicSummary } from '../../../src/server/history-types'
import { config, enc, fmt, usePoll } from '../api'
import { Charts } from '../chart'
import { Link } from '../components/link'
import { Banner, Empty, Loading, Paused } from '../components/notices'
import { num, TableHead } from '../components/table'
import { historyEvery, POLL_MS, useHistory } from '../polling'

/** Every topic of the cluster with its depth, message count and rate summed over nodes, and the cluster's charts. */
export function TopicsPage () {
  const topics = usePoll<{ topics: string[], message: string }>('topics', POLL_MS)
  const summary = usePoll<{ topics: Record<string, TopicSummary>, down: string[] }>('history/topics', historyEvery)
  const history = useHistory('')
  const sums = summary.data?.topics ?? {}
  const names = topics.data?.topics
  const total = { depth: 0, messages: 0, rate: 0 }
  for (const name of names ?? []) {
    const s = sums[name]
    total.depth += s?.depth ?? 0
    total.messages += s?.messages ?? 0
    total.rate += s?.rate ?? 0
  }
  return (
    <>
      <h1>Topics</h1>
      <Banner error={topics.error} message={topics.data?.message} />
      {(summary.data?.down.length ?? 0) > 0 && (
        <div className='banner error'>nsqd down: {summary.data?.down.join(', ')}</div>
      )}
      {history !== undefined && history.points.length > 0 && names !== undefined && names.length > 0 && (
        <Charts points={history.points} windowMs={history.window_ms} />
      )}
      {names === undefined && topics.error === undefined && <Loading />}
      {names !== undefined && names.length === 0 && (
        <Empty>
          <p><strong>This cluster has no topics yet.</strong></p>
          <p>Publish a message to create one, for example:</p>
          <pre>curl -d 'hello' 'http://127.0.0.1:4151/pub?topic=test'</pre>
          {config.lookupd.length > 0 && <p>or create one from the <Link to='/lookup'>Lookup</Link> page.</p>}
        </Empty>
      )}
      {names !== undefined && names.length > 0 && (
        <div className='table-wrap'>
          <table data-testid='topics'>
            <TableHead columns={['Topic', num('Depth'), num('Messages'), num('Rate/s'), num('Channels')]} />
            <tbody>
              {names.map((name) => {
                const s = sums[name]
                return (
                  <tr key={name} data-topic={name}>
                    <td><Link to={`/topics/${enc(name)}`}>{name}</Link> <Paused paused={s?.paused ?? false} /></td>
                    <td className='num' data-testid='depth'>{fmt(s?.depth)}</td>
                    <td className='num'>{fmt(s?.messages)}</td>
                    <td className='num'>{fmt(s?.rate, 1)}</td>
                    <td className='num'>{fmt(s?.channels)}</td>
                  </tr>
                )
              })}
            </tbody>
            <tfoot>
              <tr>
                <th>Total ({names.length})</th>
                <th className='num'>{fmt(total.depth)}</th>
                <th className='num'>{fmt(total.messages)}</th>
                <th className='num'>{fmt(total.rate, 1)}</th>
                <th />
              </tr>
            </tfoot>
          </table>
        </div>
      )}
    </>
  )
}
