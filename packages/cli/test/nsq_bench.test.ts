import { afterAll, afterEach, beforeAll, expect, test } from 'vitest'
import { startNsqd } from '@nsqts/testkit'
import type { NsqdHandle } from '@nsqts/testkit'
import type { BenchResult } from '@nsqts/cli'
import { killAll, runTool } from './helpers.js'

let nsqd: NsqdHandle

beforeAll(async () => { nsqd = await startNsqd() })
afterEach(killAll)
afterAll(async () => { await nsqd?.close() })

test('nsq_bench writer then reader: msgs/s, MB/s and latency percentiles; the reader reads what the writer wrote', async () => {
  const writer = runTool('nsq_bench', ['writer', '--nsqd-tcp-address', nsqd.tcpAddress, '--topic', 'bench', '--runfor', '300ms',
    '--size', '100', '--batch-size', '50', '--concurrency', '2', '--json'])
  expect(await writer.exit()).toEqual({ code: 0, signal: null })
  const w = JSON.parse(writer.stdout) as BenchResult
  expect(w.mode).toBe('writer')
  expect(w.msgs % 50).toBe(0)
  expect(w.msgs).toBeGreaterThan(0)
  expect(w.mbPerSec).toBeCloseTo(w.msgsPerSec * 100 / 1024 / 1024, 6)
  expect(w.latencyMs.p50).toBeGreaterThan(0)
  expect(w.latencyMs.p99).toBeGreaterThanOrEqual(w.latencyMs.p50)

  // The channel is created by the reader's SUB; a topic without channels kept everything for it.
  const reader = runTool('nsq_bench', ['reader', '--nsqd-tcp-address', nsqd.tcpAddress, '--topic', 'bench', '--count', String(w.msgs), '--runfor', '20s'])
  expect(await reader.exit()).toEqual({ code: 0, signal: null })
  expect(reader.stdout).toMatch(new RegExp(`^reader: ${w.msgs} msgs in [\\d.]+s - \\d+ msgs/s - [\\d.]+ MB/s - latency ms p50 [\\d.]+ p90 [\\d.]+ p99 [\\d.]+ p99\\.9 [\\d.]+ max [\\d.]+ - client cpu \\d+%\\n$`))
})
