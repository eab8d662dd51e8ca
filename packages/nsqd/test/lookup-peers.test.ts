import { describe, it, expect, afterEach } from 'vitest'
import { commands, FrameType } from '@nsqts/protocol'
import { startNsqd, startLookupd, RawConn, waitFor, type NsqdHandle, type LookupdHandle } from '@nsqts/testkit'

const started: Array<NsqdHandle | LookupdHandle> = []
afterEach(async () => {
  for (const s of started.splice(0).reverse()) await s.close()
})

type LookupBody = { channels?: string[], producers?: Array<{ tcp_port: number }> }

async function lookup (l: LookupdHandle, topic: string): Promise<{ status: number, body: LookupBody }> {
  const res = await fetch(`${l.httpUrl}/lookup?topic=${encodeURIComponent(topic)}`)
  return { status: res.status, body: await res.json() as LookupBody }
}

describe('nsqd registers with nsqlookupd', () => {
  it('registers topics and channels as they appear and unregisters them as they go', async () => {
    const l = await startLookupd()
    started.push(l)
    const n = await startNsqd({ nsqlookupdTcpAddresses: [`127.0.0.1:${l.tcp.port}`] })
    started.push(n)
    await fetch(`${n.httpUrl}/pub?topic=reg`, { method: 'POST', body: 'x' })
    n.nsqd.getTopic('reg').getChannel('c1')
    await waitFor(async () => {
      const r = await lookup(l, 'reg')
      return r.status === 200 && r.body.producers?.[0]?.tcp_port === n.tcp.port && r.body.channels?.includes('c1') === true
    }, 5000, 'registration')
    // lookupd keeps the key, as NSQ's does; the producer entry under it goes (/debug omits empty registrations).
    const debug = async (): Promise<Record<string, unknown[]>> => await (await fetch(`${l.httpUrl}/debug`)).json() as Record<string, unknown[]>
    expect((await debug())['channel:reg:c1']).toHaveLength(1)
    await n.nsqd.getTopic('reg').deleteChannel('c1')
    await waitFor(async () => (await debug())['channel:reg:c1'] === undefined, 5000, 'channel unregistration')
  })

  it('re-registers everything with a lookupd that restarts', async () => {
    const l = await startLookupd()
    const port = l.tcp.port
    const n = await startNsqd({ nsqlookupdTcpAddresses: [`127.0.0.1:${port}`] })
    started.push(n)
    n.nsqd.getTopic('again').getChannel('ch')
    await waitFor(async () => (await lookup(l, 'again')).status === 200)
    await l.close()
    const l2 = await startLookupd({ tcpAddress: `127.0.0.1:${port}` })
    started.push(l2)
    await waitFor(async () => {
      const r = await lookup(l2, 'again')
      return r.status === 200 && r.body.channels?.includes('ch') === true && r.body.producers?.length === 1
    }, 10_000, 're-registration')
  })

  it('creates the channels lookupd knows on a new topic before its first message flows', async () => {
    const l = await startLookupd()
    started.push(l)
    await fetch(`${l.httpUrl}/channel/create?topic=pre&channel=archive`, { method: 'POST' })
    const n = await startNsqd({ nsqlookupdTcpAddresses: [`127.0.0.1:${l.tcp.port}`] })
    started.push(n)
    // Wait for the peer to be identified, as nsqd only asks identified lookupds.
    await waitFor(async () => (await (await fetch(`${l.httpUrl}/nodes`)).json() as { producers: unknown[] }).producers.length === 1)
    const p = await RawConn.open(n.tcp)
    p.write(commands.pub('pre', 'first'))
    expect(await p.expect(FrameType.Response)).toBe('OK')
    await waitFor(() => n.nsqd.topics.get('pre')?.channels.get('archive')?.depth === 1, 5000, 'the first message in the pre-created channel')
    p.close()
  })

  it('sends --lookupd-http-bearer-token to a lookupd that requires it, and never shows it', async () => {
    const token = 'lookupd-token'
    const l = await startLookupd({ httpBearerToken: token })
    started.push(l)
    const auth = { authorization: `Bearer ${token}` }
    await fetch(`${l.httpUrl}/channel/create?topic=pre_auth&channel=archive`, { method: 'POST', headers: auth })
    const n = await startNsqd({ nsqlookupdTcpAddresses: [`127.0.0.1:${l.tcp.port}`], lookupdHttpBearerToken: token })
    started.push(n)
    await waitFor(async () => (await (await fetch(`${l.httpUrl}/nodes`, { headers: auth })).json() as { producers: unknown[] }).producers.length === 1)
    // A new topic starts once its GET /channels is answered or failed; the channel is there only if it got past the token.
    const topic = n.nsqd.getTopic('pre_auth')
    await waitFor(() => topic.started, 5000, 'the topic to start')
    expect([...topic.channels.keys()]).toEqual(['archive'])
    expect((await fetch(`${n.httpUrl}/config/lookupd_http_bearer_token`)).status).toBe(400)
  })

  it('changes its peers live', async () => {
    const a = await startLookupd()
    const b = await startLookupd()
    started.push(a, b)
    const n = await startNsqd({ nsqlookupdTcpAddresses: [`127.0.0.1:${a.tcp.port}`] })
    started.push(n)
    n.nsqd.getTopic('live')
    await waitFor(async () => (await lookup(a, 'live')).status === 200)
    n.nsqd.setLookupdAddresses([`127.0.0.1:${b.tcp.port}`])
    await waitFor(async () => (await lookup(b, 'live')).body.producers?.length === 1, 5000, 'registration with the new peer')
    await waitFor(async () => (await lookup(a, 'live')).body.producers?.length === 0, 5000, 'the old peer dropped')
  })
})
