import { describe, expect, it } from 'vitest'
import { Consumer, HttpError, LookupdHttpClient, NsqdHttpClient, Producer } from '../src/index.js'
import { waitFor } from '@nsqts/testkit'
import { cleanup, deferred, lookupd, nsqd, topicName } from './helpers.js'

describe('NsqdHttpClient', () => {
  it('publishes, reads /info and /stats with their NSQ shapes', async () => {
    const d = await nsqd()
    const http = new NsqdHttpClient(d.httpAddress)
    await http.ping()
    const info = await http.info()
    expect(info).toMatchObject({ broadcast_address: '127.0.0.1', tcp_port: d.tcp.port, http_port: d.http.port })
    expect(info.version).toMatch(/^\d+\.\d+\.\d+/)
    const topic = topicName()
    await http.publish(topic, 'one')
    await http.publishMany(topic, ['two\nlines', Buffer.from('three')])
    await http.publish(topic, 'later', { deferMs: 60_000 })
    await http.createChannel(topic, 'ch')
    const stats = await http.stats({ topic, includeMem: false })
    expect(stats.memory).toBeUndefined()
    const t = stats.topics?.[0]
    expect(t).toMatchObject({ topic_name: topic, message_count: 4, paused: false })
    expect(t?.channels.map((c) => c.channel_name)).toEqual(['ch'])
  })

  it('topic and channel actions: create, pause, unpause, empty, delete', async () => {
    const d = await nsqd()
    const http = new NsqdHttpClient(`http://${d.httpAddress}`)
    const topic = topicName()
    await http.createTopic(topic)
    await http.createChannel(topic, 'ch')
    await http.pauseTopic(topic)
    await http.pauseChannel(topic, 'ch')
    let t = (await http.stats({ topic })).topics![0]!
    expect([t.paused, t.channels[0]!.paused]).toEqual([true, true])
    await http.unpauseTopic(topic)
    await http.unpauseChannel(topic, 'ch')
    await http.publish(topic, 'x')
    await waitFor(async () => (await http.stats({ topic })).topics![0]!.channels[0]!.depth === 1, 5000, 'the message in the channel')
    await http.emptyChannel(topic, 'ch')
    await http.emptyTopic(topic)
    t = (await http.stats({ topic })).topics![0]!
    expect([t.paused, t.channels[0]!.paused, t.channels[0]!.depth]).toEqual([false, false, 0])
    await http.deleteChannel(topic, 'ch')
    await http.deleteTopic(topic)
    expect((await http.stats({ topic })).topics).toBeNull()
  })

  it('errors carry the HTTP status and NSQ\'s message', async () => {
    const d = await nsqd()
    const http = new NsqdHttpClient(d.httpAddress)
    await expect(http.deleteTopic(topicName())).rejects.toMatchObject({ name: 'HttpError', status: 404, nsqMessage: 'TOPIC_NOT_FOUND' })
    await expect(http.publish('bad!topic', 'x')).rejects.toMatchObject({ status: 400, nsqMessage: 'INVALID_TOPIC' })
    await expect(http.publish(topicName(), '')).rejects.toMatchObject({ status: 400, nsqMessage: 'MSG_EMPTY' })
    const port = d.http.port
    await d.close()
    const err = await new NsqdHttpClient(`127.0.0.1:${port}`, { timeoutMs: 500 }).ping().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(HttpError)
    expect((err as HttpError).status).toBeUndefined()
  })
})

describe('NsqdHttpClient delivery policies (nsqts)', () => {
  it('sets, reads and clears a channel\'s and a topic\'s policy; a bad value is a named 400 that changes nothing', async () => {
    const d = await nsqd()
    const http = new NsqdHttpClient(d.httpAddress)
    const topic = topicName()
    await http.createTopic(topic)
    await http.createChannel(topic, 'ch')
    const off = { max_attempts: 0, dead_letter_topic: `${topic}.dead`, ttl: '', ttl_action: 'drop', max_depth: 0 }
    expect(await http.getChannelPolicy(topic, 'ch')).toMatchObject(off)
    const set = await http.setChannelPolicy(topic, 'ch', { max_attempts: 3, ttl: '30s', max_depth: 100 })
    expect(set).toMatchObject({ max_attempts: 3, dead_letter_topic: `${topic}.dead`, ttl: '30s', max_depth: 100 })
    // Fields left out stay as they are.
    expect(await http.setChannelPolicy(topic, 'ch', { overflow: 'dead-letter' })).toEqual({ ...set, overflow: 'dead-letter' })
    expect(await http.getChannelPolicy(topic, 'ch')).toEqual({ ...set, overflow: 'dead-letter' })
    await expect(http.setChannelPolicy(topic, 'ch', { max_attempts: -1, ttl: '1m' }))
      .rejects.toMatchObject({ status: 400, nsqMessage: 'INVALID_MAX_ATTEMPTS' })
    expect((await http.getChannelPolicy(topic, 'ch')).ttl).toBe('30s')
    expect(await http.setChannelPolicy(topic, 'ch', { max_attempts: 0, ttl: '', max_depth: 0 })).toMatchObject(off)

    expect(await http.getTopicPolicy(topic)).toEqual({ ttl: '', max_depth: 0, overflow: 'reject' })
    expect(await http.setTopicPolicy(topic, { ttl: '1m', max_depth: 5 })).toEqual({ ttl: '1m0s', max_depth: 5, overflow: 'reject' })
    await expect(http.setTopicPolicy(topic, { overflow: 'dead-letter' })).rejects.toMatchObject({ status: 400, nsqMessage: 'INVALID_OVERFLOW' })
    expect(await http.getTopicPolicy(topic)).toEqual({ ttl: '1m0s', max_depth: 5, overflow: 'reject' })

    await expect(http.getTopicPolicy(topicName())).rejects.toMatchObject({ status: 404, nsqMessage: 'TOPIC_NOT_FOUND' })
    await expect(http.getChannelPolicy(topic, 'nope')).rejects.toMatchObject({ status: 404, nsqMessage: 'CHANNEL_NOT_FOUND' })
  })

  it('peeks at the next messages without taking them, and redrives a channel\'s messages to another topic', async () => {
    const d = await nsqd()
    const http = new NsqdHttpClient(d.httpAddress)
    const dead = `${topicName()}.dead`
    const target = topicName()
    await http.createTopic(dead)
    await http.createChannel(dead, 'ch')
    await http.createTopic(target)
    await http.createChannel(target, 'back')
    await http.publishMany(dead, ['first', 'second', Buffer.from([0xff, 0x00, 0xfe])])
    const depth = async (topic: string, channel: string): Promise<number | undefined> =>
      (await http.stats({ topic, channel })).topics?.[0]?.channels[0]?.depth
    await waitFor(async () => await depth(dead, 'ch') === 3, 5000, 'three messages in the channel')

    const peeked = await http.peekChannel(dead, 'ch', { n: 2 })
    expect(peeked.messages.map((m) => [m.body, m.body_encoding])).toEqual([['first', 'utf8'], ['second', 'utf8']])
    for (const m of peeked.messages) {
      expect(m.id).toMatch(/^[0-9a-f]{16}$/)
      expect(m.attempts).toBe(0)
      expect(m.timestamp).toBeGreaterThan(Date.now() * 1e6 - 60e9)
    }
    const all = await http.peekChannel(dead, 'ch')
    expect(all.messages.slice(0, 2)).toEqual(peeked.messages)
    expect(all.messages[2]).toMatchObject({ body: Buffer.from([0xff, 0x00, 0xfe]).toString('base64'), body_encoding: 'base64' })
    expect(await depth(dead, 'ch')).toBe(3)

    expect(await http.redriveChannel(dead, 'ch', target, { n: 1 })).toEqual({ moved: 1 })
    expect(await http.redriveChannel(dead, 'ch', target)).toEqual({ moved: 2 })
    expect(await depth(dead, 'ch')).toBe(0)
    await waitFor(async () => await depth(target, 'back') === 3, 5000, 'the three messages on the target topic')
    const moved = await http.peekChannel(target, 'back')
    expect(moved.messages.map((m) => m.body)).toEqual(all.messages.map((m) => m.body))
  })
})

describe('LookupdHttpClient', () => {
  it('lookup, topics, channels and nodes of a registered nsqd', async () => {
    const l = await lookupd()
    const d = await nsqd({ nsqlookupdTcpAddresses: [l.tcpAddress] })
    const topic = topicName()
    const p = new Producer(d.tcpAddress)
    cleanup(() => p.close())
    await p.publish(topic, 'x')
    await new NsqdHttpClient(d.httpAddress).createChannel(topic, 'ch')
    const http = new LookupdHttpClient(l.httpAddress)
    await http.ping()
    expect((await http.info()).version).toMatch(/^\d+\.\d+\.\d+/)
    await waitFor(async () => (await http.channels(topic)).includes('ch'), 5000, 'the registration')
    const found = await http.lookup(topic)
    expect(found.channels).toEqual(['ch'])
    expect(found.producers).toHaveLength(1)
    expect(found.producers[0]).toMatchObject({ broadcast_address: '127.0.0.1', tcp_port: d.tcp.port, http_port: d.http.port })
    expect(await http.topics()).toContain(topic)
    const nodes = await http.nodes()
    expect(nodes).toHaveLength(1)
    expect(nodes[0]!.topics).toContain(topic)
    expect(nodes[0]!.tombstones).toHaveLength(nodes[0]!.topics.length)
  })

  it('registry actions and tombstones; a missing topic is a 404', async () => {
    const l = await lookupd()
    const d = await nsqd({ nsqlookupdTcpAddresses: [l.tcpAddress] })
    // A lookup URL with a path is the lookup endpoint itself; the rest live beside it.
    const http = new LookupdHttpClient(`http://${l.httpAddress}/lookup`)
    const topic = topicName()
    await expect(http.lookup(topic)).rejects.toMatchObject({ status: 404, nsqMessage: 'TOPIC_NOT_FOUND' })
    await http.createTopic(topic)
    await http.createChannel(topic, 'ch')
    expect(await http.channels(topic)).toEqual(['ch'])
    await http.deleteChannel(topic, 'ch')
    expect(await http.channels(topic)).toEqual([])
    await http.deleteTopic(topic)
    expect(await http.topics()).not.toContain(topic)

    const p = new Producer(d.tcpAddress)
    cleanup(() => p.close())
    await p.publish(topic, 'x')
    await waitFor(async () => (await http.lookup(topic).catch(() => ({ producers: [] }))).producers.length === 1, 5000, 'the producer')
    await http.tombstoneTopicProducer(topic, `127.0.0.1:${d.http.port}`)
    expect((await http.lookup(topic)).producers).toEqual([])
    await expect(http.deleteChannel(topic, 'missing')).rejects.toMatchObject({ status: 404, nsqMessage: 'CHANNEL_NOT_FOUND' })
  })
})

describe('bearerToken (nsqts daemons started with --http-bearer-token)', () => {
  it('sends Authorization: Bearer <token> on every request of both clients', async () => {
    const token = 'client-token'
    const l = await lookupd({ httpBearerToken: token })
    const d = await nsqd({ httpBearerToken: token })
    const topic = topicName()

    await expect(new NsqdHttpClient(d.httpAddress).stats()).rejects.toMatchObject({ status: 401, nsqMessage: 'UNAUTHORIZED' })
    await expect(new LookupdHttpClient(l.httpAddress).topics()).rejects.toMatchObject({ status: 401, nsqMessage: 'UNAUTHORIZED' })
    await expect(new NsqdHttpClient(d.httpAddress, { bearerToken: 'other' }).stats()).rejects.toBeInstanceOf(HttpError)

    // A caller's Authorization (in any spelling) is replaced, not sent beside the token.
    const nsqdHttp = new NsqdHttpClient(d.httpAddress, { bearerToken: token, headers: { AUTHORIZATION: 'Basic eDp5' } })
    await nsqdHttp.publish(topic, 'x')
    expect((await nsqdHttp.stats({ topic })).topics?.[0]?.message_count).toBe(1)
    const lookupdHttp = new LookupdHttpClient(l.httpAddress, { bearerToken: token })
    await lookupdHttp.createTopic(topic)
    expect(await lookupdHttp.topics()).toEqual([topic])
  })

  it('Consumer sends lookupdHttpBearerToken on its lookupd queries', async () => {
    const token = 'lookupd-token'
    const l = await lookupd({ httpBearerToken: token })
    const d = await nsqd({ nsqlookupdTcpAddresses: [l.tcpAddress], lookupdHttpBearerToken: token })
    const topic = topicName()
    await new NsqdHttpClient(d.httpAddress).publish(topic, 'found')
    const lookupdHttp = new LookupdHttpClient(l.httpAddress, { bearerToken: token })
    await waitFor(async () => (await lookupdHttp.lookup(topic).catch(() => undefined))?.producers?.length === 1, 5000, 'topic registered')

    const denied = new Consumer(topic, 'ch', { lookupdHttpAddresses: l.httpAddress })
    cleanup(() => denied.close())
    const errors: Error[] = []
    denied.on('error', (err) => { errors.push(err) })
    await denied.handle(() => {})
    expect(errors).toMatchObject([{ status: 401, nsqMessage: 'UNAUTHORIZED' }])
    expect(denied.stats().connections).toBe(0)

    const consumer = new Consumer(topic, 'ch', { lookupdHttpAddresses: l.httpAddress, lookupdHttpBearerToken: token })
    cleanup(() => consumer.close())
    const body = deferred<string>()
    await consumer.handle((m) => { body.resolve(m.text()) })
    expect(await body.promise).toBe('found')
  })
})
