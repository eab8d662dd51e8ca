import { readdirSync } from 'node:fs'
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { CAPTURES_DIR, loadHttpCapture, startNsqd, waitFor, type NsqdHandle } from '@nsqts/testkit'
import {
  binaryMpub, connectCaptureClients, expectLikeCapture, post, publishCaptureMessages, wireRequest,
  type CaptureClients, type RequestOptions, type WireResponse,
} from './http-helpers.js'

/**
 * Every nsqd HTTP capture of NSQ 1.3.0 replayed over a real socket: status line, headers (names in Go's case, in
 * order) and body, with the state of the captures rebuilt where a response depends on it. Values that differ per
 * run (times, ports, memory, latencies) are normalised on both sides before the bodies are compared.
 */

const captureOptions = { broadcastAddress: '127.0.0.1', nodeId: 617, e2eProcessingLatencyPercentiles: [0.5, 0.99] }

/** Run-specific /stats JSON values replaced by fixed ones; everything else (keys, order, types, nulls) kept. */
function normalizeStatsJson (text: string): string {
  const stats = JSON.parse(text) as Record<string, unknown>
  const client = (c: Record<string, unknown>): void => {
    c.remote_address = 'ADDR'
    c.connect_ts = 0
  }
  const latency = (l: { count: number, percentiles: Array<{ value: number }> | null }): void => {
    if (l.count > 0) for (const p of l.percentiles ?? []) p.value = 0
  }
  stats.start_time = 0
  const memory = stats.memory as Record<string, number> | undefined
  if (memory !== undefined) for (const key of Object.keys(memory)) memory[key] = 0
  for (const t of (stats.topics ?? []) as Array<Record<string, unknown>>) {
    latency(t.e2e_processing_latency as never)
    for (const c of t.channels as Array<Record<string, unknown>>) {
      latency(c.e2e_processing_latency as never)
      for (const cl of (c.clients ?? []) as Array<Record<string, unknown>>) client(cl)
    }
  }
  for (const p of (stats.producers ?? []) as Array<Record<string, unknown>>) client(p)
  return JSON.stringify(stats)
}

/** Run-specific text /stats parts replaced: banner, times, memory figures, latencies with samples, ports, ages. */
function normalizeStatsText (text: string): string {
  return text
    .replace(/^nsqd v1\.3\.0 \(built w\/[^)]*\)\n/, 'nsqd v1.3.0 (BUILD)\n')
    .replace(/^start_time \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$/m, 'start_time T')
    .replace(/^uptime \S+$/m, 'uptime U')
    .replace(/^( {3}\w+ +)\t\d+$/gm, '$1\tN')
    .replace(/^((?:\*P| {3})\s*\[(?:orders|billing) +\].*e2e%: ).+$/gm, '$1E2E')
    .replace(/capture-host:\d+/g, 'capture-host:PORT')
    .replace(/connected: \S+$/gm, 'connected: AGE')
}

function expectStatsJson (actual: WireResponse, captureName: string): void {
  expectLikeCapture(actual, captureName, { body: false })
  const expected = loadHttpCapture(captureName).body.toString()
  expect(normalizeStatsJson(actual.body.toString())).toBe(normalizeStatsJson(expected))
}

function expectStatsText (actual: WireResponse, captureName: string): void {
  expectLikeCapture(actual, captureName, { body: false })
  const expected = loadHttpCapture(captureName).body.toString()
  expect(normalizeStatsText(actual.body.toString())).toBe(normalizeStatsText(expected))
}

describe('a fresh nsqd', () => {
  let d: NsqdHandle
  beforeAll(async () => { d = await startNsqd(captureOptions) })
  afterAll(async () => { await d.close() })

  it('/ping is plain text without the V1 header', async () => {
    expectLikeCapture(await wireRequest(d, '/ping'), 'nsqd_ping.http')
  })

  it('/info has 1.3.0\'s fields, durations in nanoseconds and the bound ports', async () => {
    const r = await wireRequest(d, '/info')
    expectLikeCapture(r, 'nsqd_info.http', { body: false })
    const expected = JSON.parse(loadHttpCapture('nsqd_info.http').body.toString()) as Record<string, unknown>
    Object.assign(expected, {
      hostname: d.nsqd.hostname, http_port: d.http.port, tcp_port: d.tcp.port, start_time: d.nsqd.startTime,
    })
    expect(r.body.toString()).toBe(JSON.stringify(expected))
  })

  it('/stats with no topics: topics [], producers null, and "Topics: None" in text', async () => {
    expectStatsJson(await wireRequest(d, '/stats?format=json'), 'nsqd_stats_json_no_topics.http')
    expectStatsText(await wireRequest(d, '/stats'), 'nsqd_stats_text_no_topics.http')
  })
})

describe('admin actions and HTTP publishing, in the captures\' order', () => {
  let d: NsqdHandle
  beforeAll(async () => { d = await startNsqd(captureOptions) })
  afterAll(async () => { await d.close() })

  it('answer like nsqd, and paused topics and channels show in /stats', async () => {
    const answers = await publishCaptureMessages(d)
    const names = [
      'nsqd_topic_create_ok', 'nsqd_channel_create_ok', 'nsqd_channel_create_ephemeral_ok', 'nsqd_topic_create_ok',
      ...Array<string>(8).fill('nsqd_pub_ok'), 'nsqd_mpub_text_ok', 'nsqd_mpub_binary_ok', 'nsqd_pub_defer_ok',
    ]
    answers.forEach((answer, i) => expectLikeCapture(answer, `${names[i] as string}.http`))

    expectLikeCapture(await post(d, '/channel/pause?topic=orders&channel=billing'), 'nsqd_channel_pause_ok.http')
    expectLikeCapture(await post(d, '/topic/pause?topic=empty_topic'), 'nsqd_topic_pause_ok.http')
    expectStatsText(await wireRequest(d, '/stats?include_mem=false'), 'nsqd_stats_text_paused.http')
    expectStatsJson(await wireRequest(d, '/stats?format=json&include_mem=false&include_clients=false'), 'nsqd_stats_json_paused.http')
    expectLikeCapture(await post(d, '/channel/unpause?topic=orders&channel=billing'), 'nsqd_channel_unpause_ok.http')
    expectLikeCapture(await post(d, '/topic/unpause?topic=empty_topic'), 'nsqd_topic_unpause_ok.http')

    await post(d, '/topic/create?topic=scratch')
    await post(d, '/channel/create?topic=scratch&channel=sc')
    for (let i = 0; i < 3; i++) await post(d, '/pub?topic=scratch', `scratch-${i}`)
    expectLikeCapture(await post(d, '/channel/empty?topic=scratch&channel=sc'), 'nsqd_channel_empty_ok.http')
    expectLikeCapture(await post(d, '/topic/empty?topic=scratch'), 'nsqd_topic_empty_ok.http')
    expectLikeCapture(await post(d, '/channel/delete?topic=scratch&channel=sc'), 'nsqd_channel_delete_ok.http')
    expectLikeCapture(await post(d, '/topic/delete?topic=scratch'), 'nsqd_topic_delete_ok.http')
    expect(d.nsqd.getExistingTopic('scratch')).toBeUndefined()
  })
})

describe('/stats with the captures\' clients connected', () => {
  let d: NsqdHandle
  let clients: CaptureClients
  beforeAll(async () => {
    d = await startNsqd(captureOptions)
    await publishCaptureMessages(d)
    clients = await connectCaptureClients(d)
  })
  afterAll(async () => {
    clients.publisher.close()
    clients.consumer.close()
    await d.close()
  })

  it.each([
    ['/stats?format=json', 'nsqd_stats_json.http'],
    ['/stats?format=json&topic=orders', 'nsqd_stats_json_topic.http'],
    ['/stats?format=json&topic=orders&channel=billing', 'nsqd_stats_json_topic_channel.http'],
    ['/stats?format=json&channel=billing', 'nsqd_stats_json_channel_without_topic.http'],
    ['/stats?format=json&topic=missing', 'nsqd_stats_json_topic_missing.http'],
    ['/stats?format=json&topic=orders&channel=missing', 'nsqd_stats_json_channel_missing.http'],
    ['/stats?format=json&include_clients=false', 'nsqd_stats_include_clients_false.http'],
    ['/stats?format=json&include_mem=false', 'nsqd_stats_include_mem_false.http'],
  ])('%s is shaped like %s', async (path, capture) => {
    expectStatsJson(await wireRequest(d, path), capture)
  })

  it.each([
    ['/stats', 'nsqd_stats_text.http'],
    ['/stats?topic=orders&channel=billing', 'nsqd_stats_text_topic_channel.http'],
    ['/stats?include_clients=false', 'nsqd_stats_text_include_clients_false.http'],
  ])('%s prints like %s', async (path, capture) => {
    expectStatsText(await wireRequest(d, path), capture)
  })

  it('memory figures are non-negative integers', async () => {
    const { memory } = JSON.parse((await wireRequest(d, '/stats?format=json')).body.toString()) as { memory: Record<string, number> }
    for (const value of Object.values(memory)) expect(Number.isSafeInteger(value) && value >= 0).toBe(true)
  })

  it('billing has e2e percentiles from its 21 FINs, 0.99 first; the topic merges them', async () => {
    const stats = JSON.parse((await wireRequest(d, '/stats?format=json&topic=orders&channel=billing')).body.toString()) as {
      topics: Array<{
        e2e_processing_latency: unknown
        channels: Array<{ e2e_processing_latency: { count: number, percentiles: Array<{ quantile: number }> } }>
      }>
    }
    const topic = stats.topics[0]
    const billing = topic?.channels[0]?.e2e_processing_latency
    expect(billing?.count).toBe(21)
    expect(billing?.percentiles.map((p) => p.quantile)).toEqual([0.99, 0.5])
    expect(topic?.e2e_processing_latency).toEqual(billing)
  })
})

it('after the consumer leaves, its in-flight messages stay in flight and the producer is gone', async () => {
  const d = await startNsqd(captureOptions)
  try {
    await publishCaptureMessages(d)
    const { publisher, consumer } = await connectCaptureClients(d)
    consumer.close()
    publisher.close()
    await waitFor(() => d.nsqd.clients.size === 0, 5000, 'clients gone')
    expectStatsJson(await wireRequest(d, '/stats?format=json&topic=orders&include_mem=false'), 'nsqd_stats_json_after_consumer_disconnect.http')
  } finally {
    await d.close()
  }
})

const TOO_LONG = 'a'.repeat(65)

/** Each error capture of the first nsqd and the request that produced it (manifest.tsv). */
const errorCases: Array<[string, string, RequestOptions]> = [
  ['nsqd_stats_bad_query.http', '/stats?format=json&%zz', {}],
  ['nsqd_pub_missing_topic.http', '/pub', { method: 'POST', body: 'x' }],
  ['nsqd_pub_invalid_topic.http', '/pub?topic=bad!topic', { method: 'POST', body: 'x' }],
  ['nsqd_pub_invalid_topic_too_long.http', `/pub?topic=${TOO_LONG}`, { method: 'POST', body: 'x' }],
  ['nsqd_pub_empty_body.http', '/pub?topic=orders', { method: 'POST', body: '' }],
  ['nsqd_pub_empty_body_no_topic.http', '/pub', { method: 'POST', body: '' }],
  ['nsqd_pub_too_big.http', '/pub?topic=orders', { method: 'POST', body: Buffer.alloc(1048577, 'a') }],
  ['nsqd_pub_defer_negative.http', '/pub?topic=orders&defer=-1', { method: 'POST', body: 'x' }],
  ['nsqd_pub_defer_too_big.http', '/pub?topic=orders&defer=3600001', { method: 'POST', body: 'x' }],
  ['nsqd_pub_defer_not_int.http', '/pub?topic=orders&defer=abc', { method: 'POST', body: 'x' }],
  ['nsqd_mpub_binary_malformed.http', '/mpub?topic=orders&binary=true', { method: 'POST', body: binaryMpub(['only1'], 2) }],
  ['nsqd_mpub_binary_zero_count.http', '/mpub?topic=orders&binary=true', { method: 'POST', body: binaryMpub([], 0) }],
  ['nsqd_mpub_missing_topic.http', '/mpub', { method: 'POST', body: 'a' }],
  ['nsqd_topic_create_missing_arg.http', '/topic/create', { method: 'POST' }],
  ['nsqd_topic_create_invalid.http', '/topic/create?topic=bad!topic', { method: 'POST' }],
  ['nsqd_topic_delete_missing.http', '/topic/delete?topic=missing', { method: 'POST' }],
  ['nsqd_topic_delete_invalid_name.http', '/topic/delete?topic=bad!topic', { method: 'POST' }],
  ['nsqd_topic_pause_missing.http', '/topic/pause?topic=missing', { method: 'POST' }],
  ['nsqd_topic_empty_missing.http', '/topic/empty?topic=missing', { method: 'POST' }],
  ['nsqd_channel_create_missing_topic.http', '/channel/create?topic=missing&channel=c', { method: 'POST' }],
  ['nsqd_channel_create_missing_channel_arg.http', '/channel/create?topic=orders', { method: 'POST' }],
  ['nsqd_channel_create_invalid_channel.http', '/channel/create?topic=orders&channel=bad!chan', { method: 'POST' }],
  ['nsqd_channel_delete_missing.http', '/channel/delete?topic=orders&channel=missing', { method: 'POST' }],
  ['nsqd_channel_pause_missing.http', '/channel/pause?topic=orders&channel=missing', { method: 'POST' }],
  ['nsqd_not_found.http', '/bogus', {}],
  ['nsqd_method_not_allowed.http', '/pub?topic=orders', {}],
  ['nsqd_config_bogus.http', '/config/bogus', {}],
  ['nsqd_config_all/node_id.http', '/config/node_id', {}],
  ['nsqd_config_all/lookupd_tcp_address.http', '/config/lookupd_tcp_address', {}],
  ['nsqd_config_all/e2e_processing_latency_percentile.http', '/config/e2e_processing_latency_percentile', {}],
  ['nsqd_config_put_nsqlookupd_tcp_addresses_invalid.http', '/config/nsqlookupd_tcp_addresses', { method: 'PUT', body: 'not json' }],
  ['nsqd_config_put_log_level_invalid.http', '/config/log_level', { method: 'PUT', body: 'loud' }],
  ['nsqd_config_put_empty_body.http', '/config/log_level', { method: 'PUT', body: '' }],
  ['nsqd_config_put_unsupported_option.http', '/config/mem_queue_size', { method: 'PUT', body: '5' }],
]

describe('error answers', () => {
  let d: NsqdHandle
  beforeAll(async () => {
    d = await startNsqd(captureOptions)
    await post(d, '/topic/create?topic=orders')
    await post(d, '/channel/create?topic=orders&channel=billing')
  })
  afterAll(async () => { await d.close() })

  it.each(errorCases)('%s', async (capture, path, opts) => {
    expectLikeCapture(await wireRequest(d, path, opts), capture)
  })

  it('covers every nsqd error capture but the Go runtime /debug routes, which are not served', async () => {
    const errorCaptures = readdirSync(CAPTURES_DIR).filter((f) => /^nsqd_.*\.http$/.test(f) && loadHttpCapture(f).status >= 400)
    const covered = new Set(errorCases.map(([capture]) => capture))
    expect(errorCaptures.filter((f) => !covered.has(f)).sort())
      .toEqual(['nsqd_debug_freememory.http', 'nsqd_debug_setblockrate_invalid.http', 'nsqd_debug_setblockrate_ok.http'])
    for (const [method, path] of [['PUT', '/debug/setblockrate?rate=0'], ['POST', '/debug/freememory'], ['GET', '/debug/pprof/']]) {
      expectLikeCapture(await wireRequest(d, path as string, { method }), 'nsqd_not_found.http')
    }
  })
})

describe('size limits (--max-msg-size=1024 --max-body-size=4096)', () => {
  let d: NsqdHandle
  beforeAll(async () => { d = await startNsqd({ ...captureOptions, maxMsgSize: 1024, maxBodySize: 4096 }) })
  afterAll(async () => { await d.close() })

  // 4097 bytes of short lines.
  const lines = `${'line-0001\n'.repeat(409)}tail-x\n`

  it.each<[string, string, RequestOptions]>([
    ['nsqd2_pub_max_size_ok.http', '/pub?topic=t', { method: 'POST', body: 'a'.repeat(1024) }],
    ['nsqd2_pub_too_big.http', '/pub?topic=t', { method: 'POST', body: 'a'.repeat(1025) }],
    ['nsqd2_pub_too_big_chunked.http', '/pub?topic=t', { method: 'POST', body: 'a'.repeat(1025), chunked: true }],
    ['nsqd2_mpub_text_body_too_big.http', '/mpub?topic=t', { method: 'POST', body: lines }],
    ['nsqd2_mpub_text_body_too_big_chunked.http', '/mpub?topic=t', { method: 'POST', body: lines, chunked: true }],
    ['nsqd2_mpub_text_msg_too_big.http', '/mpub?topic=t', { method: 'POST', body: `short\n${'z'.repeat(1025)}\n` }],
    ['nsqd2_mpub_binary_msg_too_big.http', '/mpub?topic=t&binary=true', { method: 'POST', body: binaryMpub(['x'.repeat(1025)]) }],
  ])('%s', async (capture, path, opts) => {
    expect(lines.length).toBe(4097)
    expectLikeCapture(await wireRequest(d, path, opts), capture)
  })
})

describe('GET /config/<option> for every option', () => {
  let d: NsqdHandle
  beforeAll(async () => { d = await startNsqd(captureOptions) })
  afterAll(async () => { await d.close() })

  const options = readdirSync(`${CAPTURES_DIR}nsqd_config_all`).filter((f) => loadHttpCapture(`nsqd_config_all/${f}`).status === 200)

  it.each(options)('%s', async (file) => {
    const name = file.replace(/\.http$/, '')
    const r = await wireRequest(d, `/config/${name}`)
    // What differs from the captures' daemon: its ports, data path and lookupd.
    const port = (p: number): string => String(p)
    const ours: Record<string, string> = {
      tcp_address: '127.0.0.1:0',
      http_address: '127.0.0.1:0',
      broadcast_tcp_port: port(d.tcp.port),
      broadcast_http_port: port(d.http.port),
      data_path: d.dataPath,
      nsqlookupd_tcp_addresses: '[]',
      statsd_prefix: `nsq.127_0_0_1_${d.http.port}.`,
    }
    const capture = loadHttpCapture(`nsqd_config_all/${file}`)
    expectLikeCapture(r, `nsqd_config_all/${file}`, { body: false })
    expect(r.body.toString()).toBe(ours[name] ?? capture.body.toString())
  })
})
