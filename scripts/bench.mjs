#!/usr/bin/env node
// End-to-end benchmark: nsqd as its own process, then nsq_bench (packages/cli) as the writer and the reader.
// Prints msgs/s, MB/s and nsqd's peak RSS for each scenario. Usage: npm run bench [-- --runfor 5 --size 200 ...]
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

const { values: args } = parseArgs({
  options: {
    runfor: { type: 'string', default: '5' },
    size: { type: 'string', default: '200' },
    scenarios: { type: 'string', default: 'batch200,batch1' },
    'nsqd-args': { type: 'string', default: '' },
    concurrency: { type: 'string', default: '4' },
    // Writes a V8 CPU profile of nsqd per scenario into this directory (open it in Chrome DevTools).
    'cpu-prof': { type: 'string' },
  },
})
const size = Number(args.size)
const nsqdBin = new URL('../packages/nsqd/dist/bin/nsqd.js', import.meta.url).pathname
const benchBin = new URL('../packages/cli/dist/bin/nsq_bench.js', import.meta.url).pathname

async function startNsqd (extra) {
  const dataPath = mkdtempSync(join(tmpdir(), 'nsqts-bench-'))
  const prof = args['cpu-prof'] === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${args['cpu-prof']}`]
  const child = spawn(process.execPath, [...prof, nsqdBin, '--tcp-address=127.0.0.1:0', '--http-address=127.0.0.1:0',
    `--data-path=${dataPath}`, ...extra], { stdio: ['ignore', 'ignore', 'pipe'] })
  let log = ''
  const port = await new Promise((resolve, reject) => {
    child.stderr.on('data', (chunk) => {
      log += chunk
      const m = /TCP: listening on [^\s]+:(\d+)/.exec(log)
      if (m) resolve(Number(m[1]))
    })
    child.once('exit', (code) => reject(new Error(`nsqd exited (${code}): ${log}`)))
  })
  return {
    port,
    peakRssMb () {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8')
      return Number(/VmHWM:\s+(\d+)/.exec(status)[1]) / 1024
    },
    async stop () {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
      rmSync(dataPath, { recursive: true, force: true })
    },
  }
}

/**
 * Runs nsq_bench (the CLI's benchmark client, over @nsqts/client) as its own process and returns its JSON result.
 * Its clientCpuPercent shows whether the client kept up: well below 100, the numbers are nsqd's.
 */
function nsqBench (args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [benchBin, ...args, '--json'], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (chunk) => { out += chunk })
    child.once('exit', (code) => code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`nsq_bench ${args[0]} exited with ${code}`)))
  })
}

/** Writers report publish-to-OK latency; readers the age of each message when handled (a backlog is read). */
function report (label, { mode, msgs, ms, msgsPerSec, mbPerSec, latencyMs, clientCpuPercent }, rssMb) {
  console.log(`${label.padEnd(34)} ${String(Math.round(msgsPerSec)).padStart(9)} msgs/s  ${mbPerSec.toFixed(2).padStart(7)} MB/s  ` +
    `(${msgs} msgs in ${(ms / 1000).toFixed(2)} s)  nsqd peak RSS ${rssMb.toFixed(0)} MB  ` +
    `p99 ${mode === 'writer' ? 'latency' : 'age'} ${latencyMs.p99.toFixed(2)} ms  client cpu ${Math.round(clientCpuPercent)}%`)
}

const extra = args['nsqd-args'] === '' ? [] : args['nsqd-args'].split(' ')
const concurrency = Number(args.concurrency)
console.log(`nsqts bench: ${size}-byte messages, ${args.runfor}s per writer run, ${concurrency} connections, nsqd ${extra.join(' ') || '(defaults)'}`)
for (const scenario of args.scenarios.split(',')) {
  const batch = scenario === 'batch1' ? 1 : Number(scenario.replace('batch', ''))
  const nsqd = await startNsqd(extra)
  try {
    const common = ['--nsqd-tcp-address', `127.0.0.1:${nsqd.port}`, '--topic', `bench_${batch}`, '--size', String(size),
      '--concurrency', String(concurrency)]
    // Synchronous publishing, as go-nsq's Publish does: one command in flight per connection.
    const w = await nsqBench(['writer', ...common, '--batch-size', String(batch), '--window', '1', '--runfor', `${args.runfor}s`])
    report(`writer (batch ${batch}, ${concurrency} conns)`, w, nsqd.peakRssMb())
    if (batch > 1) {
      const r = await nsqBench(['reader', ...common, '--rdy', '2500', '--count', String(w.msgs), '--runfor', '10m'])
      report(`reader (RDY 2500, ${concurrency} conns)`, r, nsqd.peakRssMb())
    }
  } finally {
    await nsqd.stop()
  }
}
