import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest'
import { LookupdHttpClient, NsqdHttpClient } from '@nsqts/client'
import { startLookupd, startNsqd, waitFor } from '@nsqts/testkit'
import type { LookupdHandle, NsqdHandle } from '@nsqts/testkit'
import { HTTP_POLL_MS, killAll, runTool } from './helpers.js'

const TOKEN = 'cli-token'

let lookupd: LookupdHandle
let nsqd: NsqdHandle

// Both daemons closed to callers without the token, as the README's Beyond NSQ section describes.
beforeAll(async () => {
  lookupd = await startLookupd({ httpBearerToken: TOKEN })
  nsqd = await startNsqd({
    httpBearerToken: TOKEN,
    lookupdHttpBearerToken: TOKEN,
    nsqlookupdTcpAddresses: [lookupd.tcpAddress],
  })
  const http = new NsqdHttpClient(nsqd.httpUrl, { bearerToken: TOKEN })
  await http.createTopic('guarded')
  await http.createChannel('guarded', 'c')
  await http.publishMany('guarded', ['1', '2', '3'])
  // No channel yet: the first one, nsq_tail's, gets these.
  await http.publishMany('tailed', ['a', 'b', 'c'])
  await http.publish('archived', 'kept')
  const lookup = new LookupdHttpClient(lookupd.httpUrl, { bearerToken: TOKEN })
  const registered = async (topic: string): Promise<boolean> =>
    (await lookup.lookup(topic).catch(() => undefined))?.producers?.length === 1
  await waitFor(async () => await registered('guarded') && await registered('tailed') && await registered('archived'),
    10_000, () => 'nsqd to register the topics', HTTP_POLL_MS)
})
afterEach(killAll)
afterAll(async () => {
  await nsqd?.close()
  await lookupd?.close()
})

test('nsq_stat --http-bearer-token reaches lookupd and nsqd; without it, it exits 1 on the 401', async () => {
  const stat = ['--topic', 'guarded', '--channel', 'c', '--interval', '50ms', '--count', '1']
  const ok = runTool('nsq_stat', [...stat, '--lookupd-http-address', lookupd.httpAddress, '--http-bearer-token', TOKEN])
  expect(await ok.exit()).toEqual({ code: 0, signal: null })
  expect(ok.stdout.split('\n')[2]).toMatch(/^ +0 +0 \| +3 +3 +0/)

  const noLookupdToken = runTool('nsq_stat', [...stat, '--lookupd-http-address', lookupd.httpAddress])
  expect(await noLookupdToken.exit()).toEqual({ code: 1, signal: null })
  expect(noLookupdToken.stderr).toBe(`nsq_stat: failed to get topic producers - GET ${lookupd.httpUrl}/lookup?topic=guarded: 401 UNAUTHORIZED\n`)

  const noNsqdToken = runTool('nsq_stat', [...stat, '--nsqd-http-address', nsqd.httpAddress])
  expect(await noNsqdToken.exit()).toEqual({ code: 1, signal: null })
  expect(noNsqdToken.stderr).toMatch(/^nsq_stat: failed to get nsqd stats - GET http:\/\/127\.0\.0\.1:\d+\/stats\?\S+: 401 UNAUTHORIZED\n$/)
})

test('nsq_tail -n finds nsqd through a token-guarded lookupd with --http-bearer-token; without it, it logs the 401', async () => {
  const denied = runTool('nsq_tail', ['--topic', 'tailed', '--lookupd-http-address', lookupd.httpAddress, '-n', '3'])
  await denied.waitForOutput(/consumer tailed\/tail\d+#ephemeral: GET \S+\/lookup\?topic=tailed: 401 UNAUTHORIZED/)
  expect(await denied.stop()).toEqual({ code: 0, signal: null })
  expect(denied.stdout).toBe('')

  const tail = runTool('nsq_tail', ['--topic', 'tailed', '--lookupd-http-address', lookupd.httpAddress, '-n', '3', '--http-bearer-token', TOKEN])
  expect(await tail.exit()).toEqual({ code: 0, signal: null })
  expect(tail.stdout.split('\n').sort()).toEqual(['', 'a', 'b', 'c'])
})

test('nsq_to_file --topic-pattern discovers topics through a token-guarded lookupd with --http-bearer-token', async () => {
  const out = await mkdtemp(join(tmpdir(), 'nsqts-bearer-'))
  try {
    const args = ['--topic-pattern', '^archived$', '--lookupd-http-address', lookupd.httpAddress, '--output-dir', out]
    const denied = runTool('nsq_to_file', args)
    await denied.waitForOutput(/failed to get topics from lookupd: GET \S+\/topics: 401 UNAUTHORIZED/)
    expect(await denied.stop()).toEqual({ code: 0, signal: null })

    const tool = runTool('nsq_to_file', [...args, '--http-bearer-token', TOKEN])
    const http = new NsqdHttpClient(nsqd.httpUrl, { bearerToken: TOKEN })
    await waitFor(async () => {
      const channel = (await http.stats({ topic: 'archived', channel: 'nsq_to_file' })).topics?.[0]?.channels[0]
      // depth 0 too: before the consumer's RDY the message waits in the channel, counted but not in flight.
      return channel?.message_count === 1 && channel.depth === 0 && channel.in_flight_count === 0
    }, 10_000, () => `the message to be synced; stderr: ${tool.stderr}`, HTTP_POLL_MS)
    expect(await tool.stop()).toEqual({ code: 0, signal: null })
    const [file] = await readdir(out)
    expect(await readFile(join(out, file!), 'utf8')).toBe('kept\n')
  } finally {
    await rm(out, { recursive: true, force: true })
  }
})
