import type { AdminTopic } from '../../../src/server/shapes'
import { enc, fmt, usePoll } from '../api'
import { ChannelRow, ChannelsHead } from '../components/channel-row'
import { Link } from '../components/link'
import { Banner, Empty, Loading, Paused } from '../components/notices'
import { StatsRow } from '../components/stats-row'
import { POLL_MS } from '../polling'

interface NodeDetail {
  node: string
  topics: AdminTopic[]
  total_messages: number
  total_clients: number
  message: string
}

/** One nsqd: its totals and each of its topics with their channels. */
export function NodePage ({ node }: { node: string }) {
  const n = usePoll<NodeDetail>(`nodes/${enc(node)}`, POLL_MS)
  const data = n.data
  return (
    <>
      <nav className='crumbs'><Link to='/nodes'>Nodes</Link> / <span>{node}</span></nav>
      <h1>{node}</h1>
      <Banner error={n.error} message={data?.message} />
      {data === undefined && n.error === undefined && <Loading />}
      {data !== undefined && (
        <>
          <StatsRow
            stats={[
              { label: 'Topics', value: data.topics.length },
              { label: 'Messages', value: data.total_messages },
              { label: 'Clients', value: data.total_clients },
            ]}
          />
          {data.topics.length === 0 && <Empty>This node has no topics.</Empty>}
          {data.topics.map((t) => (
            <section key={t.topic_name}>
              <h2>
                <Link to={`/topics/${enc(t.topic_name)}`}>{t.topic_name}</Link> <Paused paused={t.paused} />{' '}
                <small className='muted'>depth {fmt(t.depth)} · {fmt(t.message_count)} messages</small>
              </h2>
              {(t.channels ?? []).length > 0 && (
                <div className='table-wrap'>
                  <table>
                    <ChannelsHead />
                    <tbody>
                      {(t.channels ?? []).map((c) => <ChannelRow key={c.channel_name} topic={t.topic_name} c={c} />)}
                    </tbody>
                  </table>
                </div>
              )}
            </section>
          ))}
        </>
      )}
    </>
  )
}
