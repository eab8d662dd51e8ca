import { useState } from 'react'
import { enc } from '../api'
import { ActionButton } from './action'

/** A dead-letter topic is named `<topic>.dead`; its messages usually go back to `<topic>`. */
export function redriveTarget (topic: string): string {
  return topic.endsWith('.dead') ? topic.slice(0, -'.dead'.length) : ''
}

/**
 * Moves the channel's queued messages (all, or up to a number over the cluster) to another topic, each once, on every
 * node that has the channel: typically a dead-letter topic's messages back to where they came from.
 */
export function Redrive ({ topic, channel, after }: { topic: string, channel: string, after: () => void }) {
  const [to, setTo] = useState(() => redriveTarget(topic))
  const [count, setCount] = useState('')
  const n = count.trim() === '' ? undefined : Number(count)
  const how = n === undefined ? 'all queued messages' : `up to ${n} queued messages`
  return (
    <>
      <h2>Redrive</h2>
      <div className='actions'>
        <input
          aria-label='target topic' placeholder='target topic' value={to} onChange={(e) => setTo(e.target.value)}
        />
        <input
          className='count' type='number' min={1} aria-label='messages to move' placeholder='all' value={count}
          onChange={(e) => setCount(e.target.value)}
        />
        <ActionButton
          label='Redrive'
          question={`Move ${how} of ${topic}/${channel} to topic ${to}?`}
          request={{ path: `redrive/${enc(topic)}/${enc(channel)}`, method: 'POST', body: { to, n } }}
          success={(res) => `Moved ${String(res.moved)} messages of ${topic}/${channel} to ${to}`}
          after={after}
        />
      </div>
    </>
  )
}
