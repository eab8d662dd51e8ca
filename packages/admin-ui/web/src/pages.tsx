import { useState, type FormEvent } from 'react'
import type { AdminChannel, AdminProducer, AdminTopic } from '../../src/server/shapes'
import type { SeriesPoint, TopicSummary } from '../../src/server/history-types'
import { api, config, enc, fmt, usePoll } from './api'
import { Charts } from './chart'
import { ActionButton, Banner, Empty, Link, Loading, navigate } from './ui'

const POLL_MS = 3000
const historyEvery = Math.min(POLL_MS, config.historyIntervalMs)

interface History { interval_ms: number, window_ms: number, points: SeriesPoint[] }

function useHistory (query: string): History | undefined {
  return usePoll<History>(`history${query}`, historyEvery).data
}

function Paused ({ paused }: { paused: boolean }) {
  return paused ? <span className='badge paused'>paused</span> : null
}

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
      {(summary.data?.down.length ?? 0) > 0 && <div className='banner error'>nsqd down: {summary.data?.down.join(', ')}</div>}
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
            <thead><tr><th>Topic</th><th className='num'>Depth</th><th className='num'>Messages</th><th className='num'>Rate/s</th><th className='num'>Channels</th></tr></thead>
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
            <tfoot><tr><th>Total ({names.length})</th><th className='num'>{fmt(total.depth)}</th><th className='num'>{fmt(total.messages)}</th><th className='num'>{fmt(total.rate, 1)}</th><th /></tr></tfoot>
          </table>
        </div>
      )}
    </>
  )
}

function ChannelRow ({ topic, c }: { topic: string, c: AdminChannel }) {
  return (
    <tr data-channel={c.channel_name}>
      <td><Link to={`/topics/${enc(topic)}/${enc(c.channel_name)}`}>{c.channel_name}</Link> <Paused paused={c.paused} /></td>
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
        <div className='actions'>
          {data.paused
            ? <ActionButton label='Unpause' question={`Unpause topic ${topic}?`} request={{ path: `topics/${enc(topic)}`, method: 'POST', body: { action: 'unpause' } }} success={`Topic ${topic} unpaused`} after={t.reload} />
            : <ActionButton label='Pause' question={`Pause topic ${topic}? Messages stay queued until it is unpaused.`} request={{ path: `topics/${enc(topic)}`, method: 'POST', body: { action: 'pause' } }} success={`Topic ${topic} paused`} after={t.reload} />}
          <ActionButton label='Empty' danger question={`Empty topic ${topic}? Its queued messages are deleted (channels keep theirs).`} request={{ path: `topics/${enc(topic)}`, method: 'POST', body: { action: 'empty' } }} success={`Topic ${topic} emptied`} after={t.reload} />
          <ActionButton label='Delete' danger question={`Delete topic ${topic} and all its channels on every node?`} request={{ path: `topics/${enc(topic)}`, method: 'DELETE' }} success={`Topic ${topic} deleted`} after={() => navigate('/')} />
        </div>
      )}
      {history !== undefined && <Charts points={history.points} windowMs={history.window_ms} />}
      {data === undefined && t.error === undefined && <Loading />}
      {data !== undefined && (
        <>
          <h2>Nodes</h2>
          {(data.nodes ?? []).length === 0
            ? <Empty>No nsqd has this topic. It is known to lookupd only; publish to it or create it on a node.</Empty>
            : (
              <div className='table-wrap'>
                <table data-testid='topic-nodes'>
                  <thead><tr><th>Node</th><th className='num'>Depth</th><th className='num'>Memory + Disk</th><th className='num'>Messages</th><th className='num'>Channels</th><th /></tr></thead>
                  <tbody>
                    {(data.nodes ?? []).map((n) => (
                      <tr key={n.node}>
                        <td><Link to={`/nodes/${enc(n.node)}`}>{n.node}</Link> <Paused paused={n.paused} /></td>
                        <td className='num'>{fmt(n.depth)}</td>
                        <td className='num'>{fmt(n.memory_depth)} + {fmt(n.backend_depth)}</td>
                        <td className='num'>{fmt(n.message_count)}</td>
                        <td className='num'>{fmt(n.channels?.length ?? 0)}</td>
                        <td>{config.lookupd.length > 0 && <ActionButton label='Tombstone' danger question={`Tombstone topic ${topic} on ${n.node}? lookupd stops listing it there and the node deletes the topic.`} request={{ path: `nodes/${enc(n.node)}`, method: 'DELETE', body: { topic } }} success={`Topic ${topic} tombstoned on ${n.node}`} after={t.reload} />}</td>
                      </tr>
                    ))}
                  </tbody>
                  <tfoot><tr><th>Total</th><th className='num'>{fmt(data.depth)}</th><th className='num'>{fmt(data.memory_depth)} + {fmt(data.backend_depth)}</th><th className='num'>{fmt(data.message_count)}</th><th /><th /></tr></tfoot>
                </table>
              </div>
              )}
          <h2>Channels</h2>
          {(data.channels ?? []).length === 0
            ? <Empty>No channels: messages are kept on the topic until a consumer subscribes.</Empty>
            : (
              <div className='table-wrap'>
                <table data-testid='channels'>
                  <thead><tr><th>Channel</th><th className='num'>Depth</th><th className='num'>In flight</th><th className='num'>Deferred</th><th className='num'>Requeued</th><th className='num'>Timed out</th><th className='num'>Messages</th><th className='num'>Clients</th></tr></thead>
                  <tbody>{(data.channels ?? []).map((c) => <ChannelRow key={c.channel_name} topic={topic} c={c} />)}</tbody>
                </table>
              </div>
              )}
        </>
      )}
    </>
  )
}

export function ChannelPage ({ topic, channel }: { topic: string, channel: string }) {
  const c = usePoll<Partial<AdminChannel> & { message: string }>(`topics/${enc(topic)}/${enc(channel)}`, POLL_MS)
  const history = useHistory(`?topic=${enc(topic)}&channel=${enc(channel)}`)
  const data = c.data
  const found = data?.channel_name !== undefined
  const path = `topics/${enc(topic)}/${enc(channel)}`
  return (
    <>
      <nav className='crumbs'><Link to='/'>Topics</Link> / <Link to={`/topics/${enc(topic)}`}>{topic}</Link> / <span>{channel}</span></nav>
      <h1>{channel} {found && <Paused paused={data.paused ?? false} />}</h1>
      <Banner error={c.error} message={data?.message} />
      {data !== undefined && !found && <Empty>Channel {channel} does not exist on any node of topic {topic}.</Empty>}
      {found && (
        <div className='actions'>
          {data.paused === true
            ? <ActionButton label='Unpause' question={`Unpause channel ${channel}?`} request={{ path, method: 'POST', body: { action: 'unpause' } }} success={`Channel ${channel} unpaused`} after={c.reload} />
            : <ActionButton label='Pause' question={`Pause channel ${channel}? Consumers get no messages until it is unpaused.`} request={{ path, method: 'POST', body: { action: 'pause' } }} success={`Channel ${channel} paused`} after={c.reload} />}
          <ActionButton label='Empty' danger question={`Empty channel ${channel}? Its queued, in-flight and deferred messages are deleted.`} request={{ path, method: 'POST', body: { action: 'empty' } }} success={`Channel ${channel} emptied`} after={c.reload} />
          <ActionButton label='Delete' danger question={`Delete channel ${channel} on every node?`} request={{ path, method: 'DELETE' }} success={`Channel ${channel} deleted`} after={() => navigate(`/topics/${enc(topic)}`)} />
        </div>
      )}
      {history !== undefined && found && <Charts points={history.points} windowMs={history.window_ms} />}
      {data === undefined && c.error === undefined && <Loading />}
      {found && (
        <>
          <h2>Nodes</h2>
          <div className='table-wrap'>
            <table data-testid='channel-nodes'>
              <thead><tr><th>Node</th><th className='num'>Depth</th><th className='num'>Memory + Disk</th><th className='num'>In flight</th><th className='num'>Deferred</th><th className='num'>Requeued</th><th className='num'>Timed out</th><th className='num'>Messages</th><th className='num'>Clients</th></tr></thead>
              <tbody>
                {(data.nodes ?? []).map((n) => (
                  <tr key={n.node}>
                    <td><Link to={`/nodes/${enc(n.node)}`}>{n.node}</Link> <Paused paused={n.paused} /></td>
                    <td className='num'>{fmt(n.depth)}</td>
                    <td className='num'>{fmt(n.memory_depth)} + {fmt(n.backend_depth)}</td>
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
                  <th>Total</th><th className='num' data-testid='channel-depth'>{fmt(data.depth)}</th><th className='num'>{fmt(data.memory_depth)} + {fmt(data.backend_depth)}</th>
                  <th className='num'>{fmt(data.in_flight_count)}</th><th className='num'>{fmt(data.deferred_count)}</th><th className='num'>{fmt(data.requeue_count)}</th>
                  <th className='num'>{fmt(data.timeout_count)}</th><th className='num'>{fmt(data.message_count)}</th><th className='num'>{fmt(data.client_count)}</th>
                </tr>
              </tfoot>
            </table>
          </div>
          <h2>Clients</h2>
          {(data.clients ?? []).length === 0
            ? <Empty>No consumer is connected to this channel.</Empty>
            : (
              <div className='table-wrap'>
                <table data-testid='clients'>
                  <thead><tr><th>Client</th><th>Address</th><th>Node</th><th>Version</th><th>User agent</th><th>Flags</th><th className='num'>Ready</th><th className='num'>In flight</th><th className='num'>Finished</th><th className='num'>Requeued</th><th className='num'>Connected</th></tr></thead>
                  <tbody>
                    {(data.clients ?? []).map((cl) => (
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
              )}
        </>
      )}
    </>
  )
}

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
            <thead><tr><th>Hostname</th><th>Broadcast address</th><th className='num'>TCP</th><th className='num'>HTTP</th><th>Version</th><th className='num'>Topics</th><th>Tombstoned</th></tr></thead>
            <tbody>
              {nodes.map((p) => {
                const node = config.lookupd.length > 0 ? `${p.broadcast_address}:${p.http_port}` : (p.remote_addresses[0] ?? '')
                const tomb = p.topics.filter((t) => t.tombstoned).map((t) => t.topic)
                return (
                  <tr key={node}>
                    <td><Link to={`/nodes/${enc(node)}`}>{p.hostname}</Link></td>
                    <td>{p.broadcast_address}</td>
                    <td className='num'>{p.tcp_port}</td>
                    <td className='num'>{p.http_port}</td>
                    <td>{p.version} {p.out_of_date && <span className='badge warn' title='older than the newest node'>out of date</span>}</td>
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

export function NodePage ({ node }: { node: string }) {
  const n = usePoll<{ node: string, topics: AdminTopic[], total_messages: number, total_clients: number, message: string }>(`nodes/${enc(node)}`, POLL_MS)
  const data = n.data
  return (
    <>
      <nav className='crumbs'><Link to='/nodes'>Nodes</Link> / <span>{node}</span></nav>
      <h1>{node}</h1>
      <Banner error={n.error} message={data?.message} />
      {data === undefined && n.error === undefined && <Loading />}
      {data !== undefined && (
        <>
          <div className='stats-row'>
            <div><span>Topics</span><strong>{fmt(data.topics.length)}</strong></div>
            <div><span>Messages</span><strong>{fmt(data.total_messages)}</strong></div>
            <div><span>Clients</span><strong>{fmt(data.total_clients)}</strong></div>
          </div>
          {data.topics.length === 0 && <Empty>This node has no topics.</Empty>}
          {data.topics.map((t) => (
            <section key={t.topic_name}>
              <h2><Link to={`/topics/${enc(t.topic_name)}`}>{t.topic_name}</Link> <Paused paused={t.paused} /> <small className='muted'>depth {fmt(t.depth)} · {fmt(t.message_count)} messages</small></h2>
              {(t.channels ?? []).length > 0 && (
                <div className='table-wrap'>
                  <table>
                    <thead><tr><th>Channel</th><th className='num'>Depth</th><th className='num'>In flight</th><th className='num'>Deferred</th><th className='num'>Requeued</th><th className='num'>Timed out</th><th className='num'>Messages</th><th className='num'>Clients</th></tr></thead>
                    <tbody>{(t.channels ?? []).map((c) => <ChannelRow key={c.channel_name} topic={t.topic_name} c={c} />)}</tbody>
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

export function LookupPage () {
  const inactive = usePoll<{ topics: Record<string, string[]>, message: string }>('topics?inactive=true', POLL_MS)
  const [topic, setTopic] = useState('')
  const [channel, setChannel] = useState('')
  const [result, setResult] = useState<{ ok: boolean, text: string }>()
  const create = async (e: FormEvent): Promise<void> => {
    e.preventDefault()
    try {
      const res = await api<{ message: string }>('topics', { method: 'POST', body: channel === '' ? { topic } : { topic, channel } })
      setResult({ ok: true, text: `Created ${topic}${channel === '' ? '' : `/${channel}`}${res.message === '' ? '' : ` (${res.message})`}` })
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
      {config.lookupd.length === 0 && <Empty>nsqadmin was started without --lookupd-http-address: there is no lookupd to list.</Empty>}
      {config.lookupd.length > 0 && (
        <>
          <p className='muted'>nsqlookupd: {config.lookupd.join(', ')}</p>
          <h2>Topics with no producer</h2>
          {inactive.data !== undefined && entries.length === 0 && <Empty>Every topic lookupd knows is on at least one nsqd.</Empty>}
          {entries.length > 0 && (
            <div className='table-wrap'>
              <table data-testid='inactive'>
                <thead><tr><th>Topic</th><th>Channels</th><th /></tr></thead>
                <tbody>
                  {entries.map(([t, chans]) => (
                    <tr key={t}>
                      <td>{t}</td>
                      <td>{chans.length === 0 ? '–' : chans.join(', ')}</td>
                      <td><ActionButton label='Delete' danger question={`Delete topic ${t} from lookupd?`} request={{ path: `topics/${enc(t)}`, method: 'DELETE' }} success={`Topic ${t} deleted`} after={inactive.reload} /></td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          {config.isAdmin && (
            <>
              <h2>Create a topic</h2>
              {result !== undefined && <div className={`banner ${result.ok ? 'ok' : 'error'}`} role='status'>{result.text}</div>}
              <form className='create' onSubmit={(e) => { create(e).catch(() => {}) }}>
                <input aria-label='topic' placeholder='topic' value={topic} onChange={(e) => setTopic(e.target.value)} required />
                <input aria-label='channel (optional)' placeholder='channel (optional)' value={channel} onChange={(e) => setChannel(e.target.value)} />
                <button className='primary' type='submit'>Create</button>
              </form>
            </>
          )}
        </>
      )}
    </>
  )
}

export function CounterPage () {
  const counter = usePoll<{ stats: Record<string, { message_count: number }>, message: string }>('counter', 1000)
  const [seen, setSeen] = useState<{ at: number, total: number, rate: number | null }>()
  let total: number | undefined
  if (counter.data !== undefined) {
    total = 0
    for (const s of Object.values(counter.data.stats)) total += s.message_count
    const now = Date.now()
    if (seen === undefined || (seen.total !== total && now > seen.at)) {
      const rate = seen === undefined || total < seen.total ? null : (total - seen.total) * 1000 / (now - seen.at)
      setSeen({ at: now, total, rate })
    }
  }
  return (
    <>
      <h1>Messages processed</h1>
      <Banner error={counter.error} message={counter.data?.message} />
      <div className='counter' data-testid='counter'>{total === undefined ? '–' : fmt(total)}</div>
      <p className='muted center'>sum of message counts over every channel of every node{seen?.rate != null ? ` · ${fmt(seen.rate, 1)} msg/s` : ''}</p>
    </>
  )
}
