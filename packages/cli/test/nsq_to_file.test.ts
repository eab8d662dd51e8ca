import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest'
import { LookupdHttpClient, NsqdHttpClient } from '@nsqts/client'
import { startLookupd, startNsqd, waitFor } from '@nsqts/testkit'
import type { LookupdHandle, NsqdHandle } from '@nsqts/testkit'
import { HTTP_POLL_MS, channelStats, killAll, runTool, waitForChannel } from './helpers.js'

let lookupd: LookupdHandle
let nsqd: NsqdHandle
let dir: string

beforeAll(async () => {
  lookupd = await startLookupd()
  nsqd = await startNsqd({ nsqlookupdTcpAddresses: [lookupd.tcpAddress] })
})
afterEach(async () => {
  await killAll()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})
afterAll(async () => {
  await nsqd?.close()
  await lookupd?.close()
})

async function dirs (): Promise<{ out: string, work: string }> {
  dir = await mkdtemp(join(tmpdir(), 'nsqts-to-file-'))
  return { out: join(dir, 'out'), work: join(dir, 'work') }
}

test('gzip and size rotation: files move from work-dir to output-dir with <REV>, every message synced and finished once', async () => {
  const { out, work } = await dirs()
  const bodies = Array.from({ length: 300 }, (_, i) => `message ${String(i).padStart(4, '0')} ${'z'.repeat(60)}`)
  await new NsqdHttpClient(nsqd.httpUrl).publishMany('archive', bodies)
  const tool = runTool('nsq_to_file', ['--topic', 'archive', '--nsqd-tcp-address', nsqd.tcpAddress,
    '--output-dir', out, '--work-dir', work, '--gzip', '--gzip-level', '1', '--rotate-size', '5000',
    '--sync-interval', '50ms', '--host-identifier', 'box', '--datetime-format', '%Y%m%d'])

  // Finished only once synced: when nsqd counts nothing in flight and nothing queued, everything is on disk.
  await waitForChannel(nsqd.httpUrl, 'archive', 'nsq_to_file', (c) => c.depth === 0 && c.in_flight_count === 0 && c.message_count === 300, 'all finished')
  expect(await tool.stop()).toEqual({ code: 0, signal: null })

  expect(await readdir(work)).toEqual([])
  const files = (await readdir(out)).sort()
  // 300 × 77 bytes at 5000 bytes a file, counted before compression.
  expect(files.length).toBeGreaterThanOrEqual(4)
  const today = new Date()
  const stamp = `${today.getFullYear()}${String(today.getMonth() + 1).padStart(2, '0')}${String(today.getDate()).padStart(2, '0')}`
  files.forEach((f, i) => { expect(f).toBe(`archive.box-${String(i).padStart(6, '0')}.${stamp}.log.gz`) })
  const lines: string[] = []
  for (const f of files) lines.push(...gunzipSync(await readFile(join(out, f))).toString().split('\n').filter((l) => l !== ''))
  expect(lines).toEqual(bodies)
  expect(tool.stderr).toMatch(/syncing \d+ records to disk/)
})

test('messages stay in flight until synced; SIGTERM syncs what it holds and requeues what was still on its way', async () => {
  const { out } = await dirs()
  const http = new NsqdHttpClient(nsqd.httpUrl)
  await http.publish('held', 'zero')
  const tool = runTool('nsq_to_file', ['--topic', 'held', '--nsqd-tcp-address', nsqd.tcpAddress, '--output-dir', out,
    '--sync-interval', '1h', '--max-in-flight', '100', '--consumer-opt', 'output_buffer_timeout,25ms'])
  // The first message opens the file, and opening a file syncs (as in NSQ): it is finished at once. (Depth 0 too: the
  // channel holds the message, not yet in flight, between the tool's SUB and its delivery.)
  await waitForChannel(nsqd.httpUrl, 'held', 'nsq_to_file', (c) => c.message_count === 1 && c.depth === 0 && c.in_flight_count === 0, 'first finished')
  const [file] = await readdir(out)
  expect(file).toMatch(/^held\.[^.]+\.\d{4}-\d\d-\d\d_\d\d\.log$/)
  await http.publishMany('held', ['one', 'two', 'three'])
  await waitForChannel(nsqd.httpUrl, 'held', 'nsq_to_file', (c) => c.in_flight_count === 3, 'three in flight')
  // The next sync is an hour away and 3 of 100 in flight does not starve the consumer: nothing more on disk.
  expect(await readFile(join(out, file!), 'utf8')).toBe('zero\n')

  expect(await tool.stop('SIGTERM')).toEqual({ code: 0, signal: null })
  // nsqd counts a message in flight from when it buffers it for the client; one that had not reached the tool when
  // the signal came is requeued, one that had is synced and finished. None stays in flight, none is lost or doubled.
  const channel = (await channelStats(nsqd.httpUrl, 'held', 'nsq_to_file'))!
  expect(channel).toMatchObject({ in_flight_count: 0, message_count: 4 })
  expect(channel.requeue_count).toBe(channel.depth)
  expect(await readdir(out)).toEqual([file])
  expect(await readFile(join(out, file!), 'utf8')).toBe(['zero', 'one', 'two', 'three'].slice(0, 4 - channel.depth).map((l) => l + '\n').join(''))
})

test('--topic-pattern discovers matching topics through lookupd', async () => {
  const { out } = await dirs()
  const http = new NsqdHttpClient(nsqd.httpUrl)
  await http.publish('logs_a', 'from a')
  await http.publish('other', 'not archived')
  const lookupdHttp = new LookupdHttpClient(lookupd.httpUrl)
  await waitFor(async () => (await lookupdHttp.topics()).includes('other'), 10_000, () => 'nsqd to register both topics with lookupd', HTTP_POLL_MS)
  const tool = runTool('nsq_to_file', ['--topic-pattern', '^logs_', '--lookupd-http-address', lookupd.httpAddress,
    '--output-dir', out, '--sync-interval', '50ms', '--skip-empty-files'])
  await waitForChannel(nsqd.httpUrl, 'logs_a', 'nsq_to_file', (c) => c.message_count === 1 && c.in_flight_count === 0 && c.depth === 0, 'logs_a archived')
  expect(await tool.stop()).toEqual({ code: 0, signal: null })
  expect(await channelStats(nsqd.httpUrl, 'other', 'nsq_to_file')).toBeUndefined()
  const files = await readdir(out)
  expect(files).toHaveLength(1)
  expect(await readFile(join(out, files[0]!), 'utf8')).toBe('from a\n')
  expect(tool.stderr).toMatch(/skipping topic other/)
})
