import type { AdminChannel } from '../../../src/server/shapes'
import { enc, fmt } from '../api'
import { Link } from './link'
import { Paused } from './notices'
import { num, TableHead } from './table'

/** The heading of a topic's channels table (topic and node pages). */
export function ChannelsHead () {
  return (
    <TableHead
      columns={['Channel', num('Depth'), num('In flight'), num('Deferred'), num('Requeued'), num('Timed out'),
        num('Messages'), num('Clients')]}
    />
  )
}

export function ChannelRow ({ topic, c }: { topic: string, c: AdminChannel }) {
  return (
    <tr data-channel={c.channel_name}>
      <td>
        <Link to={`/topics/${enc(topic)}/${enc(c.channel_name)}`}>{c.channel_name}</Link> <Paused paused={c.paused} />
      </td>
      <td className='num'>{fmt(c.depth)}</td>
      <td className='num'>{fmt(c.in_flight_count)}</td>
      <td className='num'>{fmt(c.deferred_count)}</td>
      <td className='num'>{fmt(c.requeue_count)}</td>
      <td className='num'>{fmt(c.timeout_count)}</td>
      <td className='num'>{fmt(c.message_count)}</td>
      <td className='num'>{fmt(c.client_count)}</td>
    </tr>
  )
}
