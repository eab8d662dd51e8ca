import { afterAll, afterEach, beforeAll, expect, test } from 'vitest'
import { Consumer, NsqdHttpClient } from '@nsqts/client'
import { startNsqd, waitFor } from '@nsqts/testkit'
import type { NsqdHandle } from '@nsqts/testkit'
import { channelStats, killAll, runTool, waitForChannel } from './helpers.js'

let source: NsqdHandle
let destination: NsqdHandle

beforeAll(async () => {
  [source, destination] = await Promise.all([startNsqd(), startNsqd()])
})
afterEach(killAll)
afterAll(async () => {
  await Promise.all([source?.close(), destination?.close()])
})

async function drain (topic: string, count: number): Promise<string[]> {
  const bodies: string[] = []
  const consumer = new Consumer(topic, 'check', { nsqdTcpAddresses: destination.tcpAddress, maxInFlight: 100 })
  await consumer.handle((m) => { bodies.push(m.text()) })
  await waitFor(() => bodies.length >= count, 10_000, () => `${count} messages on ${topic}, got ${bodies.length}`)
  await consumer.close()
  return bodies
}

test('relays between two nsqd with the JSON filters: only matching messages, only whitelisted fields, Go key order', async () => {
  const messages = [
    { keep: 'yes', n: 1, z: '<a&b>', drop: true },
    { keep: 'no', n: 2 },
    { n: 3, keep: 'yes' },
    { keep: 'yes', n: 4.5, drop: 'x' },
  ].map((m) => JSON.stringify(m))
  await new NsqdHttpClient(source.httpUrl).publishMany('relay_src', [...messages, 'not json'])
  const tool = runTool('nsq_to_nsq', ['--topic', 'relay_src', '--nsqd-tcp-address', source.tcpAddress,
    '--destination-nsqd-tcp-address', destination.tcpAddress, '--destination-topic', 'relay_dst',
    '--require-json-field', 'keep', '--require-json-value', 'yes',
    '--whitelist-json-field', 'z', '--whitelist-json-field', 'n', '--whitelist-json-field', 'keep'])
  // Finished on the source only once the destination answered; dropped ones are finished without a publish.
  await waitForChannel(source.httpUrl, 'relay_src', 'nsq_to_nsq', (c) => c.message_count === 5 && c.depth === 0 && c.in_flight_count === 0, 'all answered')
  const relayed = await drain('relay_dst', 3)
  expect(relayed.sort()).toEqual([
    '{"keep":"yes","n":1,"z":"\\u003ca\\u0026b\\u003e"}',
    '{"keep":"yes","n":3}',
    '{"keep":"yes","n":4.5}',
  ])
  expect(tool.stderr).toMatch(/dropping message [0-9a-f]{16}: unable to decode json: not json/)
  expect(await tool.stop()).toEqual({ code: 0, signal: null })
})

test('a destination that refuses a publish gets the message requeued on the source, not lost', async () => {
  // This destination refuses bodies over 10 bytes (a fatal E_BAD_MESSAGE, which also drops the connection).
  const small = await startNsqd({ maxMsgSize: 10 })
  try {
    await new NsqdHttpClient(source.httpUrl).publishMany('relay_big', ['short', 'this body is too long'])
    const tool = runTool('nsq_to_nsq', ['--topic', 'relay_big', '--nsqd-tcp-address', source.tcpAddress,
      '--destination-nsqd-tcp-address', small.tcpAddress, '--consumer-opt=default_requeue_delay,60s'])
    const channel = await waitForChannel(source.httpUrl, 'relay_big', 'nsq_to_nsq', (c) => c.requeue_count >= 1 && c.deferred_count === 1, 'the long one requeued')
    expect(channel.message_count).toBe(2)
    expect(await tool.stop()).toEqual({ code: 0, signal: null })
    const onSmall = (await new NsqdHttpClient(small.httpUrl).stats({ topic: 'relay_big' })).topics?.[0]
    expect(onSmall?.message_count).toBe(1)
    const after = await channelStats(source.httpUrl, 'relay_big', 'nsq_to_nsq')
    expect(after).toMatchObject({ in_flight_count: 0, deferred_count: 1 })
  } finally {
    await small.close()
  }
})
