import { afterAll, afterEach, beforeAll, expect, test } from 'vitest'
import { NsqdHttpClient } from '@nsqts/client'
import { startLookupd, startNsqd, waitFor } from '@nsqts/testkit'
import type { LookupdHandle, NsqdHandle } from '@nsqts/testkit'
import { HTTP_POLL_MS, killAll, runTool } from './helpers.js'

let lookupd: LookupdHandle
let nsqd: NsqdHandle

beforeAll(async () => {
  lookupd = await startLookupd()
  nsqd = await startNsqd({ nsqlookupdTcpAddresses: [lookupd.tcpAddress] })
  const http = new NsqdHttpClient(nsqd.httpUrl)
  await http.createTopic('stat')
  await http.createChannel('stat', 'c')
  await http.publishMany('stat', ['1', '2', '3', '4', '5'])
})
afterEach(killAll)
afterAll(async () => {
  await nsqd?.close()
  await lookupd?.close()
})

const HEADER = [
  '------rate------+----------------depth----------------+--------------metadata---------------',
  'ingress  egress |   total     mem    disk inflt   def |     req     t-o         msgs clients',
]

test('nsq_stat prints NSQ\'s header and one line per interval for --count intervals, then exits 0', async () => {
  const tool = runTool('nsq_stat', ['--topic', 'stat', '--channel', 'c', '--nsqd-http-address', nsqd.httpAddress, '--interval', '50ms', '--count', '2'])
  expect(await tool.exit()).toEqual({ code: 0, signal: null })
  const lines = tool.stdout.split('\n')
  expect(lines.slice(0, 2)).toEqual(HEADER)
  // Nothing moves: rates 0; 5 messages in memory, none on disk or in flight; no clients.
  expect(lines.slice(2)).toEqual([
    '      0       0 |       5       5       0     0     0 |       0       0            5       0',
    '      0       0 |       5       5       0     0     0 |       0       0            5       0',
    '',
  ])
})

test('nsq_stat finds the nsqd through lookupd, and fails clearly for a missing channel', async () => {
  await waitFor(async () => {
    const r = await fetch(`${lookupd.httpUrl}/lookup?topic=stat`)
    return r.ok && ((await r.json()) as { producers: unknown[] }).producers.length === 1
  }, 10_000, () => 'nsqd to register the topic', HTTP_POLL_MS)
  const ok = runTool('nsq_stat', ['--topic', 'stat', '--channel', 'c', '--lookupd-http-address', lookupd.httpAddress, '--interval', '50ms', '--count', '1'])
  expect(await ok.exit()).toEqual({ code: 0, signal: null })
  expect(ok.stdout.split('\n')[2]).toMatch(/^ +0 +0 \| +5 +5 +0/)

  const missing = runTool('nsq_stat', ['--topic', 'stat', '--channel', 'nope', '--nsqd-http-address', nsqd.httpAddress, '--count', '1'])
  expect(await missing.exit()).toEqual({ code: 1, signal: null })
  expect(missing.stderr).toBe('nsq_stat: failed to find channel(nope) in stats metadata for topic(stat)\n')
})
