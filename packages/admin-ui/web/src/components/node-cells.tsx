import { enc, fmt } from '../api'
import { Link } from './link'
import { Paused } from './notices'

/** A topic or channel as one node holds it. */
interface OnNode { node: string, paused: boolean, depth: number, memory_depth: number, backend_depth: number }

/** The first cells of a per-node row on the topic and channel pages: the node, its depth, and memory + disk. */
export function NodeCells ({ n }: { n: OnNode }) {
  return (
    <>
      <td><Link to={`/nodes/${enc(n.node)}`}>{n.node}</Link> <Paused paused={n.paused} /></td>
      <td className='num'>{fmt(n.depth)}</td>
      <td className='num'>{fmt(n.memory_depth)} + {fmt(n.backend_depth)}</td>
    </>
  )
}
