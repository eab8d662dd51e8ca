import { afterEach, describe, expect, it } from 'vitest'

// Timeouts are short but not so short that a busy machine could pass them between two steps of a test.
import { eventually } from '@nsqts/testkit'
import { api, fakeNsqd, lookupProducers, startLookupd, stopAll } from './helpers.js'

afterEach(stopAll)

describe('inactive producers', () => {
  it('leaves out a producer that has not pinged within --inactive-producer-timeout, until it pings again', async () => {
    const lookupd = await startLookupd({ inactiveProducerTimeout: 1000 })
    const nsqd = await fakeNsqd(lookupd.tcpAddress.port)
    await nsqd.request('REGISTER orders billing\n')
    expect(await lookupProducers(lookupd, 'orders')).toEqual(['127.0.0.1:4150'])

    await eventually(async () => {
      expect(await lookupProducers(lookupd, 'orders')).toEqual([])
      expect((await api(lookupd, 'GET', '/nodes')).body).toEqual({ producers: [] })
    })
    // Still connected and registered: only filtered.
    expect((await api(lookupd, 'GET', '/lookup?topic=orders')).body.channels).toEqual(['billing'])
    expect(Object.keys((await api(lookupd, 'GET', '/debug')).body)).toContain('topic:orders:')

    expect(await nsqd.request('PING\n')).toBe('OK')
    expect(await lookupProducers(lookupd, 'orders')).toEqual(['127.0.0.1:4150'])
    expect((await api(lookupd, 'GET', '/nodes')).body.producers).toHaveLength(1)
    nsqd.destroy()
  })
})

describe('tombstones', () => {
  it('leaves a tombstoned producer out of /lookup for the topic for --tombstone-lifetime, but lists it in /nodes', async () => {
    const lookupd = await startLookupd({ tombstoneLifetime: 1000 })
    const nsqd = await fakeNsqd(lookupd.tcpAddress.port)
    await nsqd.request('REGISTER orders billing\n')
    await nsqd.request('REGISTER other\n')

    expect((await api(lookupd, 'POST', '/topic/tombstone?topic=orders&node=127.0.0.1:4151')).status).toBe(200)
    expect(await lookupProducers(lookupd, 'orders')).toEqual([])
    expect(await lookupProducers(lookupd, 'other')).toEqual(['127.0.0.1:4150'])
    const node = (await api(lookupd, 'GET', '/nodes')).body.producers[0]
    expect(node.tombstones[node.topics.indexOf('orders')]).toBe(true)
    expect(node.tombstones[node.topics.indexOf('other')]).toBe(false)

    await eventually(async () => { expect(await lookupProducers(lookupd, 'orders')).toEqual(['127.0.0.1:4150']) })
    const after = (await api(lookupd, 'GET', '/nodes')).body.producers[0]
    expect(after.tombstones).toEqual([false, false])
    // /debug shows the raw flag, which stays set once tombstoned.
    const raw = await (await fetch(`http://127.0.0.1:${lookupd.httpAddress.port}/debug`)).text()
    expect(raw).toMatch(/"topic:orders:":\[\{[^}]*"tombstoned":true,"tombstoned_at":\d{19},/)
    expect(raw).toMatch(/"topic:other:":\[\{[^}]*"tombstoned":false,"tombstoned_at":-6795364578871345152,/)
    nsqd.destroy()
  })

  it('matches the node as broadcast_address:http_port and ignores unknown nodes', async () => {
    const lookupd = await startLookupd()
    const nsqd = await fakeNsqd(lookupd.tcpAddress.port)
    await nsqd.request('REGISTER orders\n')
    // The TCP port does not name the node.
    expect((await api(lookupd, 'POST', '/topic/tombstone?topic=orders&node=127.0.0.1:4150')).status).toBe(200)
    expect((await api(lookupd, 'POST', '/topic/tombstone?topic=missing&node=127.0.0.1:4151')).status).toBe(200)
    expect(await lookupProducers(lookupd, 'orders')).toEqual(['127.0.0.1:4150'])
    expect(await api(lookupd, 'POST', '/topic/tombstone?node=127.0.0.1:4151')).toEqual({ status: 400, body: { message: 'MISSING_ARG_TOPIC' } })
    nsqd.destroy()
  })
})
