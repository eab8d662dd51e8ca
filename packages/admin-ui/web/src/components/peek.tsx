import { useState } from 'react'
import type { PeekedMessage } from '@nsqts/protocol'
import { api, enc, fmt, type ApiFailure } from '../api'
import { Banner, Empty } from './notices'
import { TableHead, num } from './table'

type NodeMessage = PeekedMessage & { node: string }

/** nsqd's timestamps are nanoseconds since the epoch. */
function when (ns: number): string {
  return new Date(Math.floor(ns / 1e6)).toISOString()
}

/**
 * The next messages queued on the channel, from each node, read without taking them (depth, attempts and in-flight
 * state stay as they are). Asked on demand, not polled: bodies can be large and are the operator's to look at.
 */
export function Peek ({ topic, channel }: { topic: string, channel: string }) {
  const [count, setCount] = useState('10')
  const [messages, setMessages] = useState<NodeMessage[]>()
  const [answer, setAnswer] = useState<{ error?: ApiFailure, message?: string }>({})
  const peek = async (): Promise<void> => {
    const n = count.trim() === '' ? '' : `?n=${enc(count.trim())}`
    try {
      const res = await api<{ messages: NodeMessage[], message: string }>(
        `peek/${enc(topic)}/${enc(channel)}${n}`
      )
      setMessages(res.messages)
      setAnswer({ message: res.message })
    } catch (err) {
      setAnswer({ error: err as ApiFailure })
    }
  }
  return (
    <>
      <h2>Peek</h2>
      <div className='actions'>
        <input
          className='count' type='number' min={1} max={1000} aria-label='messages to peek' value={count}
          onChange={(e) => setCount(e.target.value)}
        />
        <button onClick={() => { peek().catch(() => {}) }}>Peek</button>
      </div>
      <Banner error={answer.error} message={answer.message} />
      {messages !== undefined && messages.length === 0 && <Empty>No message is queued on this channel.</Empty>}
      {messages !== undefined && messages.length > 0 && (
        <div className='table-wrap'>
          <table data-testid='peek'>
            <TableHead columns={['Node', 'ID', 'Timestamp', num('Attempts'), 'Body']} />
            <tbody>
              {messages.map((m) => (
                <tr key={`${m.node}/${m.id}`} data-id={m.id}>
                  <td>{m.node}</td>
                  <td className='mono'>{m.id}</td>
                  <td>{when(m.timestamp)}</td>
                  <td className='num'>{fmt(m.attempts)}</td>
                  <td className='body' data-testid='peek-body'>
                    {m.body_encoding === 'base64' && <span className='badge' title='not UTF-8 text'>base64</span>}
                    {m.body}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  )
}
