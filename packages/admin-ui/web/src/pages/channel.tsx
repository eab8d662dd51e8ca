import { useState } from 'react'
import type { AdminChannel, AdminClient } from '../../../src/server/shapes'
import { config, enc, fmt, usePoll } from '../api'
import { Charts } from '../chart'
import { EntityActions } from '../components/entity-actions'
import { Link, navigate } from '../components/link'
import { NodeCells } from '../components/node-cells'
import { Banner, Empty, Loading, Paused } from '../components/notices'
import { Peek } from '../components/peek'
import { CHANNEL_POLICY_FIELDS, DeliveryPolicy } from '../components/policy'
import { Redrive } from '../components/redrive'
import { num, TableHead } from '../components/table'
import { POLL_MS, useHistory } from '../polling'

/** One channel across its nodes: actions, charts, the per-node figures and the connected consumers. */
export function ChannelPage ({ topic, channel }: { topic: string, channel: string }) {
  const path = `topics/${enc(topic)}/${enc(channel)}`
  const c = usePoll<Partial<AdminChannel> & { message: string }>(path, POLL_MS)
  const history = useHistory(`?topic=${enc(topic)}&channel=${enc(channel)}`)
  const data = c.data
  const found = data?.channel_name !== undefined
  // A redrive empties what a peek showed: a new key clears that table rather than leave it stale.
  const [peekKey, setPeekKey] = useState(0)
  return (
    <>
      <nav className='crumbs'>
        <Link to='/'>Topics</Link> / <Link to={`/topics/${enc(topic)}`}>{topic}</Link> / <span>{channel}</span>
      </nav>
      <h1>{channel} {found && <Paused paused={data.paused ?? false} />}</h1>
      <Banner error={c.error} message={data?.message} />
      {data !== undefined && !found && <Empty>Channel {channel} does not exist on any node of topic {topic}.</Empty>}
      {found && (
        <EntityActions
          kind='channel' name={channel} path={path} paused={data.paused === true} reload={c.reload}
          deleted={() => navigate(`/topics/${enc(topic)}`)}
          questions={{
            unpause: `Unpause channel ${channel}?`,
            pause: `Pause channel ${channel}? Consumers get no messages until it is unpaused.`,
            empty: `Empty channel ${channel}? Its queued, in-flight and deferred messages are deleted.`,
            delete: `Delete channel ${channel} on every node?`,
          }}
        />
      )}
      {history !== undefined && found && <Charts points={history.points} windowMs={history.window_ms} />}
      {data === undefined && c.error === undefined && <Loading />}
      {found && (
        <>
          <h2>Nodes</h2>
          <ChannelNodes data={data} />
          <DeliveryPolicy
            path={`policy/${enc(topic)}/${enc(channel)}`} what={`channel ${channel}`} fields={CHANNEL_POLICY_FIELDS}
            counts={[
              { label: 'Dead-lettered', value: data.dead_lettered_count ?? 0, testId: 'dead-lettered-count' },
              { label: 'Expired', value: data.expired_count ?? 0, testId: 'expired-count' },
              { label: 'Dropped', value: data.dropped_count ?? 0, testId: 'dropped-count' },
            ]}
          />
          {config.isAdmin && <Peek key={peekKey} topic={topic} channel={channel} />}
          {config.isAdmin && (
            <Redrive topic={topic} channel={channel} after={() => { setPeekKey((k) => k + 1); c.reload() }} />
          )}
          <h2>Clients</h2>
          {(data.clients ?? []).length === 0
            ? <Empty>No consumer is connected to this channel.</Empty>
            : <ChannelClients clients={data.clients ?? []} />}
        </>
      )}
    </>
  )
}

/** The channel on each node, and the sums. */
function ChannelNodes ({ data }: { data: Partial<AdminChannel> }) {
  return (
    <div className='table-wrap'>
      <table data-testid='channel-nodes'>
        <TableHead
          columns={['Node', num('Depth'), num('Memory + Disk'), num('In flight'), num('Deferred'), num('Requeued'),
            num('Timed out'), num('Messages'), num('Clients')]}
        />
        <tbody>
          {(data.nodes ?? []).map((n) => (
            <tr key={n.node}>
              <NodeCells n={n} />
              <td className='num'>{fmt(n.in_flight_count)}</td>
              <td className='num'>{fmt(n.deferred_count)}</td>
              <td className='num'>{fmt(n.requeue_count)}</td>
              <td className='num'>{fmt(n.timeout_count)}</td>
              <td className='num'>{fmt(n.message_count)}</td>
              <td className='num'>{fmt(n.client_count)}</td>
            </tr>
          ))}
        </tbody>
        <tfoot>
          <tr>
            <th>Total</th>
            <th className='num' data-testid='channel-depth'>{fmt(data.depth)}</th>
            <th className='num'>{fmt(data.memory_depth)} + {fmt(data.backend_depth)}</th>
            <th className='num'>{fmt(data.in_flight_count)}</th>
            <th className='num'>{fmt(data.deferred_count)}</th>
            <th className='num'>{fmt(data.requeue_count)}</th>
            <th className='num'>{fmt(data.timeout_count)}</th>
            <th className='num'>{fmt(data.message_count)}</th>
            <th className='num'>{fmt(data.client_count)}</th>
          </tr>
        </tfoot>
      </table>
    </div>
  )
}

/** Each consumer connection, on whichever node it is. */
function ChannelClients ({ clients }: { clients: AdminClient[] }) {
  return (
    <div className='table-wrap'>
      <table data-testid='clients'>
        <TableHead
          columns={['Client', 'Address', 'Node', 'Version', 'User agent', 'Flags', num('Ready'), num('In flight'),
            num('Finished'), num('Requeued'), num('Connected')]}
        />
        <tbody>
          {clients.map((cl) => (
            <tr key={`${cl.node}/${cl.remote_address}`}>
              <td>{cl.hostname}{cl.client_id !== cl.hostname && <div className='muted'>{cl.client_id}</div>}</td>
              <td>{cl.remote_address}</td>
              <td>{cl.node}</td>
              <td>{cl.version}</td>
              <td>{cl.user_agent || '–'}</td>
              <td>
                {cl.tls && <span className='badge' title={`${cl.tls_version} ${cl.tls_cipher_suite}`}>TLS</span>}
                {cl.snappy && <span className='badge'>snappy</span>}
                {cl.deflate && <span className='badge'>deflate</span>}
                {cl.authed && <span className='badge' title={cl.auth_identity}>auth</span>}
                {cl.sample_rate > 0 && <span className='badge'>sample {cl.sample_rate}%</span>}
              </td>
              <td className='num'>{fmt(cl.ready_count)}</td>
              <td className='num'>{fmt(cl.in_flight_count)}</td>
              <td className='num'>{fmt(cl.finish_count)}</td>
              <td className='num'>{fmt(cl.requeue_count)}</td>
              <td className='num'>{fmt(cl.connected / 1e9)} s</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}
