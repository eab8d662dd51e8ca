import type { AdminTopic } from '../../../src/server/shapes'
import { config, enc, fmt, usePoll } from '../api'
import { Charts } from '../chart'
import { ActionButton } from '../components/action'
import { ChannelRow, ChannelsHead } from '../components/channel-row'
import { EntityActions } from '../components/entity-actions'
import { Link, navigate } from '../components/link'
import { NodeCells } from '../components/node-cells'
import { Banner, Empty, Loading, Paused } from '../components/notices'
import { DeliveryPolicy, TOPIC_POLICY_FIELDS } from '../components/policy'
import { num, TableHead } from '../components/table'
import { POLL_MS, useHistory } from '../polling'

/** One topic across its nodes: actions, charts, the per-node figures and the channels. */
export function TopicPage ({ topic }: { topic: string }) {
  const t = usePoll<AdminTopic & { message: string }>(`topics/${enc(topic)}`, POLL_MS)
  const history = useHistory(`?topic=${enc(topic)}`)
  const data = t.data
  return (
    <>
      <nav className='crumbs'><Link to='/'>Topics</Link> / <span>{topic}</span></nav>
      <h1>{topic} {data !== undefined && <Paused paused={data.paused} />}</h1>
      <Banner error={t.error} message={data?.message} />
      {data !== undefined && (
        <EntityActions
          kind='topic' name={topic} path={`topics/${enc(topic)}`} paused={data.paused} reload={t.reload}
          deleted={() => navigate('/')}
          questions={{
            unpause: `Unpause topic ${topic}?`,
            pause: `Pause topic ${topic}? Messages stay queued until it is unpaused.`,
            empty: `Empty topic ${topic}? Its queued messages are deleted (channels keep theirs).`,
            delete: `Delete topic ${topic} and all its channels on every node?`,
          }}
        />
      )}
      {history !== undefined && <Charts points={history.points} windowMs={history.window_ms} />}
      {data === undefined && t.error === undefined && <Loading />}
      {data !== undefined && (
        <>
          <h2>Nodes</h2>
          {(data.nodes ?? []).length === 0
            ? <Empty>No nsqd has this topic. It is known to lookupd only; publish to it or create it on a node.</Empty>
            : <TopicNodes topic={topic} data={data} reload={t.reload} />}
          {(data.nodes ?? []).length > 0 && (
            <DeliveryPolicy
              path={`policy/${enc(topic)}`} what={`topic ${topic}`} fields={TOPIC_POLICY_FIELDS}
              counts={[
                { label: 'Rejected', value: data.rejected_count ?? 0, testId: 'rejected-count' },
                { label: 'Expired', value: data.expired_count ?? 0, testId: 'expired-count' },
                { label: 'Dropped', value: data.dropped_count ?? 0, testId: 'dropped-count' },
              ]}
            />
          )}
          <h2>Channels</h2>
          {(data.channels ?? []).length === 0
            ? <Empty>No channels: messages are kept on the topic until a consumer subscribes.</Empty>
            : (
              <div className='table-wrap'>
                <table data-testid='channels'>
                  <ChannelsHead />
                  <tbody>
                    {(data.channels ?? []).map((c) => <ChannelRow key={c.channel_name} topic={topic} c={c} />)}
                  </tbody>
                </table>
              </div>
              )}
        </>
      )}
    </>
  )
}

/** The topic on each node, with a Tombstone button per node when there is a lookupd to tell. */
function TopicNodes ({ topic, data, reload }: { topic: string, data: AdminTopic, reload: () => void }) {
  return (
    <div className='table-wrap'>
      <table data-testid='topic-nodes'>
        <TableHead columns={['Node', num('Depth'), num('Memory + Disk'), num('Messages'), num('Channels'), '']} />
        <tbody>
          {(data.nodes ?? []).map((n) => (
            <tr key={n.node}>
              <NodeCells n={n} />
              <td className='num'>{fmt(n.message_count)}</td>
              <td className='num'>{fmt(n.channels?.length ?? 0)}</td>
              <td>
                {config.lookupd.length > 0 && (
                  <ActionButton
                    label='Tombstone' danger
                    question={`Tombstone topic ${topic} on ${n.node}? ` +
                      'lookupd stops listing it there and the node deletes the topic.'}
                    request={{ path: `nodes/${enc(n.node)}`, method: 'DELETE', body: { topic } }}
                    success={`Topic ${topic} tombstoned on ${n.node}`} after={reload}
                  />
                )}
              </td>
            </tr>
          ))}
        </tbody>
        <tfoot>
          <tr>
            <th>Total</th>
            <th className='num'>{fmt(data.depth)}</th>
            <th className='num'>{fmt(data.memory_depth)} + {fmt(data.backend_depth)}</th>
            <th className='num'>{fmt(data.message_count)}</th>
            <th />
            <th />
          </tr>
        </tfoot>
      </table>
    </div>
  )
}
