import type { AdminProducer } from '../../../src/server/shapes'
import { config, enc, usePoll } from '../api'
import { Link } from '../components/link'
import { Banner, Empty, Loading } from '../components/notices'
import { num, TableHead } from '../components/table'
import { POLL_MS } from '../polling'

/** Every nsqd lookupd knows (or every configured nsqd), flagging those older than the newest. */
export function NodesPage () {
  const n = usePoll<{ nodes: AdminProducer[], message: string }>('nodes', POLL_MS)
  const nodes = n.data?.nodes
  return (
    <>
      <h1>Nodes</h1>
      <Banner error={n.error} message={n.data?.message} />
      {nodes === undefined && n.error === undefined && <Loading />}
      {nodes !== undefined && nodes.length === 0 && <Empty>No nsqd is registered with lookupd.</Empty>}
      {nodes !== undefined && nodes.length > 0 && (
        <div className='table-wrap'>
          <table data-testid='nodes'>
            <TableHead
              columns={['Hostname', 'Broadcast address', num('TCP'), num('HTTP'), 'Version', num('Topics'),
                'Tombstoned']}
            />
            <tbody>
              {nodes.map((p) => {
                const node = config.lookupd.length > 0
                  ? `${p.broadcast_address}:${p.http_port}`
                  : (p.remote_addresses[0] ?? '')
                const tomb = p.topics.filter((t) => t.tombstoned).map((t) => t.topic)
                return (
                  <tr key={node}>
                    <td><Link to={`/nodes/${enc(node)}`}>{p.hostname}</Link></td>
                    <td>{p.broadcast_address}</td>
                    <td className='num'>{p.tcp_port}</td>
                    <td className='num'>{p.http_port}</td>
                    <td>
                      {p.version}{' '}
                      {p.out_of_date && (
                        <span className='badge warn' title='older than the newest node'>out of date</span>
                      )}
                    </td>
                    <td className='num'>{p.topics.length}</td>
                    <td>{tomb.length === 0 ? '–' : tomb.join(', ')}</td>
                  </tr>
                )
              })}
            </tbody>
          </table>
        </div>
      )}
    </>
  )
}
