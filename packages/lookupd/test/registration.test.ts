import { afterEach, describe, expect, it } from 'vitest'
import { eventually } from '@nsqts/testkit'
import { api, fakeNsqd, lookupProducers, startLookupd, stopAll, NSQD_IDENTITY } from './helpers.js'

afterEach(stopAll)

const second = { ...NSQD_IDENTITY, hostname: 'vm2', tcp_port: 4250, http_port: 4251 }

describe('registration lifecycle', () => {
  it('registers topics and channels, and withdraws them on UNREGISTER while keeping the keys', async () => {
    const lookupd = await startLookupd()
    const nsqd = await fakeNsqd(lookupd.tcpAddress.port)

    expect(await nsqd.request('REGISTER orders billing\n')).toBe('OK')
    expect(await lookupProducers(lookupd, 'orders')).toEqual(['127.0.0.1:4150'])
    expect((await api(lookupd, 'GET', '/lookup?topic=orders')).body).toEqual({
      channels: ['billing'],
      producers: [{
        remote_address: nsqd.localAddress,
        hostname: 'vm',
        broadcast_address: '127.0.0.1',
        tcp_port: 4150,
        http_port: 4151,
        version: '1.3.0',
      }],
    })
    expect((await api(lookupd, 'GET', '/topics')).body).toEqual({ topics: ['orders'] })
    expect((await api(lookupd, 'GET', '/channels?topic=orders')).body).toEqual({ channels: ['billing'] })

    expect(await nsqd.request('UNREGISTER orders billing\n')).toBe('OK')
    expect((await api(lookupd, 'GET', '/channels?topic=orders')).body).toEqual({ channels: ['billing'] })
    expect(await lookupProducers(lookupd, 'orders')).toEqual(['127.0.0.1:4150'])

    expect(await nsqd.request('UNREGISTER orders\n')).toBe('OK')
    expect(await api(lookupd, 'GET', '/lookup?topic=orders')).toEqual({ status: 200, body: { channels: ['billing'], producers: [] } })
    expect((await api(lookupd, 'GET', '/topics')).body).toEqual({ topics: ['orders'] })
    nsqd.destroy()
  })

  it('a topic-only UNREGISTER also withdraws the peer from the topic\'s channels', async () => {
    const lookupd = await startLookupd()
    const nsqd = await fakeNsqd(lookupd.tcpAddress.port)
    await nsqd.request('REGISTER orders billing\n')
    await nsqd.request('REGISTER orders audit\n')
    await nsqd.request('UNREGISTER orders\n')
    const debug = (await api(lookupd, 'GET', '/debug')).body as Record<string, unknown[]>
    expect(Object.keys(debug)).toEqual(['client::'])
    expect((await api(lookupd, 'GET', '/channels?topic=orders')).body.channels.sort()).toEqual(['audit', 'billing'])
    nsqd.destroy()
  })

  it('a disconnect drops the peer\'s producer entries but keeps every key', async () => {
    const lookupd = await startLookupd()
    const nsqd = await fakeNsqd(lookupd.tcpAddress.port)
    await nsqd.request('REGISTER orders billing\n')
    await nsqd.request('REGISTER empty_topic\n')
    expect((await api(lookupd, 'GET', '/nodes')).body.producers).toHaveLength(1)

    nsqd.destroy()
    await eventually(async () => { expect((await api(lookupd, 'GET', '/nodes')).body).toEqual({ producers: [] }) })
    expect(await api(lookupd, 'GET', '/lookup?topic=orders')).toEqual({ status: 200, body: { channels: ['billing'], producers: [] } })
    expect((await api(lookupd, 'GET', '/topics')).body.topics.sort()).toEqual(['empty_topic', 'orders'])
    expect((await api(lookupd, 'GET', '/debug')).body).toEqual({})
  })

  it('keeps a producer listed until its last connection to lookupd goes, per connection', async () => {
    const lookupd = await startLookupd()
    const a = await fakeNsqd(lookupd.tcpAddress.port)
    const b = await fakeNsqd(lookupd.tcpAddress.port, second)
    await a.request('REGISTER orders\n')
    await b.request('REGISTER orders\n')
    // A repeated REGISTER adds nothing.
    expect(await a.request('REGISTER orders\n')).toBe('OK')
    expect(await lookupProducers(lookupd, 'orders')).toEqual(['127.0.0.1:4150', '127.0.0.1:4250'])
    a.destroy()
    await eventually(async () => { expect(await lookupProducers(lookupd, 'orders')).toEqual(['127.0.0.1:4250']) })
    b.destroy()
  })

  it('removes an #ephemeral channel key with its last producer, on UNREGISTER or on disconnect', async () => {
    const lookupd = await startLookupd()
    const a = await fakeNsqd(lookupd.tcpAddress.port)
    const b = await fakeNsqd(lookupd.tcpAddress.port, second)
    await a.request('REGISTER orders tail#ephemeral\n')
    await b.request('REGISTER orders tail#ephemeral\n')
    await a.request('REGISTER orders billing\n')
    const channels = async (): Promise<string[]> => (await api(lookupd, 'GET', '/channels?topic=orders')).body.channels.sort()
    expect(await channels()).toEqual(['billing', 'tail#ephemeral'])

    expect(await a.request('UNREGISTER orders tail#ephemeral\n')).toBe('OK')
    expect(await channels()).toEqual(['billing', 'tail#ephemeral'])
    expect(await b.request('UNREGISTER orders tail#ephemeral\n')).toBe('OK')
    expect(await channels()).toEqual(['billing'])

    await b.request('REGISTER orders tail#ephemeral\n')
    expect(await channels()).toEqual(['billing', 'tail#ephemeral'])
    b.destroy()
    await eventually(async () => { expect(await channels()).toEqual(['billing']) })
    a.destroy()
    // A plain channel outlives its producers.
    await eventually(async () => { expect((await api(lookupd, 'GET', '/nodes')).body.producers).toEqual([]) })
    expect(await channels()).toEqual(['billing'])
  })

  it('removes an #ephemeral topic key with its last producer', async () => {
    const lookupd = await startLookupd()
    const nsqd = await fakeNsqd(lookupd.tcpAddress.port)
    await nsqd.request('REGISTER scratch#ephemeral\n')
    await nsqd.request('REGISTER orders\n')
    expect((await api(lookupd, 'GET', '/topics')).body.topics.sort()).toEqual(['orders', 'scratch#ephemeral'])
    await nsqd.request('UNREGISTER scratch#ephemeral\n')
    expect((await api(lookupd, 'GET', '/topics')).body.topics).toEqual(['orders'])
    expect((await api(lookupd, 'GET', '/lookup?topic=scratch%23ephemeral')).status).toBe(404)

    await nsqd.request('REGISTER scratch#ephemeral\n')
    nsqd.destroy()
    await eventually(async () => { expect((await api(lookupd, 'GET', '/topics')).body.topics).toEqual(['orders']) })
  })

  it('lists each node with its topics and tombstones aligned', async () => {
    const lookupd = await startLookupd()
    const nsqd = await fakeNsqd(lookupd.tcpAddress.port)
    for (const topic of ['t1', 't2', 't3']) await nsqd.request(`REGISTER ${topic} c\n`)
    expect((await api(lookupd, 'POST', '/topic/tombstone?topic=t2&node=127.0.0.1:4151')).status).toBe(200)
    const [node] = (await api(lookupd, 'GET', '/nodes')).body.producers
    expect(node.topics).toHaveLength(3)
    expect(node.tombstones).toHaveLength(3)
    const byTopic = Object.fromEntries((node.topics as string[]).map((t, i) => [t, node.tombstones[i]]))
    expect(byTopic).toEqual({ t1: false, t2: true, t3: false })
    nsqd.destroy()
  })
})

describe('HTTP registry edits', () => {
  it('creates and deletes topics and channels without producers', async () => {
    const lookupd = await startLookupd()
    expect((await api(lookupd, 'POST', '/channel/create?topic=t&channel=c')).status).toBe(200)
    expect(await api(lookupd, 'GET', '/lookup?topic=t')).toEqual({ status: 200, body: { channels: ['c'], producers: [] } })
    expect((await api(lookupd, 'POST', '/channel/create?topic=t&channel=bad!chan')).body).toEqual({ message: 'INVALID_ARG_CHANNEL' })
    expect((await api(lookupd, 'POST', '/channel/create?channel=c')).body).toEqual({ message: 'MISSING_ARG_TOPIC' })
    expect((await api(lookupd, 'POST', '/channel/delete?topic=t&channel=c')).status).toBe(200)
    expect((await api(lookupd, 'POST', '/channel/delete?topic=t&channel=c')).status).toBe(404)
    expect((await api(lookupd, 'GET', '/channels?topic=t')).body).toEqual({ channels: [] })

    await api(lookupd, 'POST', '/channel/create?topic=t&channel=c2')
    expect((await api(lookupd, 'POST', '/topic/delete?topic=t')).status).toBe(200)
    expect((await api(lookupd, 'GET', '/lookup?topic=t')).status).toBe(404)
    expect((await api(lookupd, 'GET', '/channels?topic=t')).body).toEqual({ channels: [] })
  })

  it('deleting a topic that producers still register only lasts until they register again', async () => {
    const lookupd = await startLookupd()
    const nsqd = await fakeNsqd(lookupd.tcpAddress.port)
    await nsqd.request('REGISTER orders billing\n')
    await api(lookupd, 'POST', '/topic/delete?topic=orders')
    expect((await api(lookupd, 'GET', '/lookup?topic=orders')).status).toBe(404)
    expect((await api(lookupd, 'GET', '/nodes')).body.producers[0].topics).toEqual([])
    await nsqd.request('REGISTER orders billing\n')
    expect(await api(lookupd, 'GET', '/lookup?topic=orders')).toMatchObject({ status: 200, body: { channels: ['billing'] } })
    nsqd.destroy()
  })

  it('treats * in a topic parameter as NSQ does: a wildcard', async () => {
    const lookupd = await startLookupd()
    const nsqd = await fakeNsqd(lookupd.tcpAddress.port)
    await nsqd.request('REGISTER a ca\n')
    await nsqd.request('REGISTER b cb\n')
    const { body } = await api(lookupd, 'GET', '/lookup?topic=*')
    expect(body.channels.sort()).toEqual(['ca', 'cb'])
    expect(body.producers).toHaveLength(1)
    expect((await api(lookupd, 'POST', '/topic/delete?topic=*')).status).toBe(200)
    expect((await api(lookupd, 'GET', '/topics')).body).toEqual({ topics: [] })
    nsqd.destroy()
  })
})
