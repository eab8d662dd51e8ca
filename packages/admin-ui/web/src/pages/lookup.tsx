import { useState, type FormEvent } from 'react'
import { api, config, enc, usePoll } from '../api'
import { ActionButton } from '../components/action'
import { Banner, Empty } from '../components/notices'
import { POLL_MS } from '../polling'

/** lookupd's view: topics no nsqd produces (to delete), and a form to create a topic or channel there. */
export function LookupPage () {
  const inactive = usePoll<{ topics: Record<string, string[]>, message: string }>('topics?inactive=true', POLL_MS)
  const [topic, setTopic] = useState('')
  const [channel, setChannel] = useState('')
  const [result, setResult] = useState<{ ok: boolean, text: string }>()
  const create = async (e: FormEvent): Promise<void> => {
    e.preventDefault()
    try {
      const body = channel === '' ? { topic } : { topic, channel }
      const res = await api<{ message: string }>('topics', { method: 'POST', body })
      const created = `${topic}${channel === '' ? '' : `/${channel}`}`
      setResult({ ok: true, text: `Created ${created}${res.message === '' ? '' : ` (${res.message})`}` })
      setTopic('')
      setChannel('')
      inactive.reload()
    } catch (err) {
      setResult({ ok: false, text: (err as Error).message })
    }
  }
  const entries = Object.entries(inactive.data?.topics ?? {})
  return (
    <>
      <h1>Lookup</h1>
      <Banner error={inactive.error} message={inactive.data?.message} />
      {config.lookupd.length === 0 && (
        <Empty>nsqadmin was started without --lookupd-http-address: there is no lookupd to list.</Empty>
      )}
      {config.lookupd.length > 0 && (
        <>
          <p className='muted'>nsqlookupd: {config.lookupd.join(', ')}</p>
          <h2>Topics with no producer</h2>
          {inactive.data !== undefined && entries.length === 0 && (
            <Empty>Every topic lookupd knows is on at least one nsqd.</Empty>
          )}
          {entries.length > 0 && (
            <div className='table-wrap'>
              <table data-testid='inactive'>
                <thead><tr><th>Topic</th><th>Channels</th><th /></tr></thead>
                <tbody>
                  {entries.map(([t, chans]) => (
                    <tr key={t}>
                      <td>{t}</td>
                      <td>{chans.length === 0 ? '–' : chans.join(', ')}</td>
                      <td>
                        <ActionButton
                          label='Delete' danger question={`Delete topic ${t} from lookupd?`}
                          request={{ path: `topics/${enc(t)}`, method: 'DELETE' }} success={`Topic ${t} deleted`}
                          after={inactive.reload}
                        />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          {config.isAdmin && (
            <>
              <h2>Create a topic</h2>
              {result !== undefined && (
                <div className={`banner ${result.ok ? 'ok' : 'error'}`} role='status'>{result.text}</div>
              )}
              <form className='create' onSubmit={(e) => { create(e).catch(() => {}) }}>
                <input
                  aria-label='topic' placeholder='topic' value={topic} onChange={(e) => setTopic(e.target.value)}
                  required
                />
                <input
                  aria-label='channel (optional)' placeholder='channel (optional)' value={channel}
                  onChange={(e) => setChannel(e.target.value)}
                />
                <button className='primary' type='submit'>Create</button>
              </form>
            </>
          )}
        </>
      )}
    </>
  )
}
