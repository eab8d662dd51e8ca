import { afterAll, afterEach, beforeAll, expect, test } from 'vitest'
import { NsqdHttpClient } from '@nsqts/client'
import { startNsqd, waitFor } from '@nsqts/testkit'
import type { NsqdHandle } from '@nsqts/testkit'
import { HTTP_POLL_MS, killAll, runTool, waitForChannel } from './helpers.js'

let a: NsqdHandle
let b: NsqdHandle

beforeAll(async () => {
  [a, b] = await Promise.all([startNsqd(), startNsqd()])
})
afterEach(killAll)
afterAll(async () => {
  await Promise.all([a?.close(), b?.close()])
})

test('to_nsq | nsq_tail: 10,000 lines arrive once each, and to_nsq publishes every line to every nsqd', async () => {
  const lines = Array.from({ length: 10_000 }, (_, i) => `line ${i} ${'x'.repeat(i % 50)}`)
  const tail = runTool('nsq_tail', ['--topic', 'rt', '--nsqd-tcp-address', a.tcpAddress, '-n', '10000', '--print-topic'])
  // The tail's ephemeral channel exists once it subscribed; publishing earlier would also work (a topic without
  // channels keeps its messages for the first one), but this checks the subscription itself.
  await waitFor(async () => {
    const stats = await new NsqdHttpClient(a.httpUrl).stats({ topic: 'rt' })
    return stats.topics?.[0]?.channels.some((c) => c.client_count === 1) === true
  }, 10_000, () => `nsq_tail to subscribe; stderr: ${tail.stderr}`, HTTP_POLL_MS)

  const pub = runTool('to_nsq', ['--topic', 'rt', '--nsqd-tcp-address', a.tcpAddress, '--nsqd-tcp-address', b.tcpAddress], { stdin: true })
  // Blank lines are skipped; the last line needs no delimiter.
  pub.child.stdin!.end(lines.join('\n\n') + '\n' + 'last line')
  expect(await pub.exit()).toEqual({ code: 0, signal: null })
  lines.push('last line')

  // -n 10000 stops after exactly that many, so the 10,001st stays queued for another reader.
  expect(await tail.exit()).toEqual({ code: 0, signal: null })
  const printed = tail.stdout.split('\n')
  expect(printed.pop()).toBe('')
  expect(printed).toHaveLength(10_000)
  for (const line of printed) expect(line.startsWith('rt | ')).toBe(true)
  const expected = new Set(lines)
  const seen = new Set(printed.map((l) => l.slice('rt | '.length)))
  expect(seen.size).toBe(10_000)
  for (const line of seen) expect(expected.has(line)).toBe(true)

  const topicOnB = (await new NsqdHttpClient(b.httpUrl).stats({ topic: 'rt' })).topics?.[0]
  expect(topicOnB?.message_count).toBe(10_001)
})

test('nsq_tail exits 0 on SIGINT with nothing left in flight (CLS, then every message answered)', async () => {
  await new NsqdHttpClient(a.httpUrl).publishMany('sig', Array.from({ length: 50 }, (_, i) => `m${i}`))
  const tail = runTool('nsq_tail', ['--topic', 'sig', '--channel', 'keep', '--nsqd-tcp-address', a.tcpAddress, '--max-in-flight', '10'])
  await tail.waitForOutput(/m49\n/, 'stdout')
  expect(await tail.stop('SIGINT')).toEqual({ code: 0, signal: null })
  const channel = await waitForChannel(a.httpUrl, 'sig', 'keep', (c) => c.client_count === 0, 'the tail to disconnect')
  expect(channel.in_flight_count).toBe(0)
  expect(channel.depth).toBe(0)
})

test('to_nsq --delimiter and --rate: one message per delimited record, no faster than the rate', async () => {
  const started = performance.now()
  const pub = runTool('to_nsq', ['--topic', 'rated', '--nsqd-tcp-address', a.tcpAddress, '--delimiter', ',', '--rate', '20'], { stdin: true })
  pub.child.stdin!.end('r0,r1,r2,r3,r4,r5,r6,r7,r8,r9,')
  expect(await pub.exit()).toEqual({ code: 0, signal: null })
  // Ten messages at 20/s: nine gaps of 50 ms at least.
  expect(performance.now() - started).toBeGreaterThanOrEqual(450)
  const tail = runTool('nsq_tail', ['--topic', 'rated', '--nsqd-tcp-address', a.tcpAddress, '-n', '10'])
  expect(await tail.exit()).toEqual({ code: 0, signal: null })
  expect(tail.stdout).toBe('r0\nr1\nr2\nr3\nr4\nr5\nr6\nr7\nr8\nr9\n')
})
