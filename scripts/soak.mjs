#!/usr/bin/env node
// Soak: one nsqd (NSQ's defaults, no delivery policies) on loopback with 100 topics and 1,000 client connections
// (5 publishing and 5 consuming per topic), publishing and consuming at half the rate it was first measured to take
// at most. Prints nsqd's RSS, heap, event-loop delay p99 and handles (from its /metrics) every minute.
//
// RSS rule ("after the first 5 minutes, RSS may not grow more than 10%"), for any length: the warm-up is the first
// 5 minutes, or the first half of a run shorter than 10 minutes (1 minute of the 2-minute CI run: RSS was measured to
// climb for its first 45-60 s at this load, so a sixth of 2 minutes would judge the climb, not a leak). RSS is
// sampled every 5 s. The warmed-up level is the highest sample of the second half of the warm-up (2.5-5 min; 30-60 s)
// and the end level the median of the run's last stretch of the same length (its last 2.5 min; last 30 s); the end
// level may exceed the warmed-up one by at most 10%. A peak and a median, because RSS swings by 10-20% within a
// minute here (garbage collection, socket buffers, a loaded machine): a steady process passes whatever its swings,
// one that keeps growing does not. Exit 1 if RSS grew more, if nsqd dies, if a connection is lost or a publish
// refused, or if the consumers fall behind.
// `npm run build` first. Usage: node scripts/soak.mjs [--minutes 30] [--rate <msgs/s>] [--measure-seconds 15]
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { readDaemonLog } from './daemon-log.mjs'
import { median } from './median.mjs'

const NSQD_BIN = new URL('../packages/nsqd/dist/bin/nsqd.js', import.meta.url).pathname
const TOPICS = 100
const PRODUCERS_PER_TOPIC = 5
const CONSUMERS_PER_TOPIC = 5
const BATCH = 20
const BODY = Buffer.alloc(200, 'x')
const SAMPLE_MS = 5000
const MAX_GROWTH = 0.10

const { values: opts } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    rate: { type: 'string' },
    'measure-seconds': { type: 'string', default: '15' },
  },
})
const minutes = Number(opts.minutes)
const measureMs = Number(opts['measure-seconds']) * 1000
if (!(minutes > 0) || !(measureMs > 0) || (opts.rate !== undefined && !(Number(opts.rate) > 0))) {
  console.error('usage: soak.mjs [--minutes 30] [--rate <msgs/s>] [--measure-seconds 15]')
  process.exit(2)
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const t0 = performance.now()
const say = (line) => console.log(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(5)}s] ${line}`)

const dir = mkdtempSync(join(tmpdir(), 'nsqts-soak-'))
const nsqd = spawn(process.execPath, [NSQD_BIN, '--tcp-address=127.0.0.1:0', '--http-address=127.0.0.1:0', `--data-path=${dir}`],
  { stdio: ['ignore', 'ignore', 'pipe'] })
let nsqdExit
nsqd.once('exit', (code, signal) => { nsqdExit = code ?? signal })
// The script's way out, whichever it is, ends the nsqd it started.
process.on('exit', () => {
  nsqd.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
})
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130))

const nsqdLog = readDaemonLog(nsqd, 'nsqd')
const ports = await nsqdLog.ports
const base = `http://127.0.0.1:${ports.http}`

// ---- load: raw V2 connections, so that the generator costs little next to nsqd ----

function frames (onFrame) {
  let buf = Buffer.alloc(0)
  return (chunk) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk])
    while (buf.length >= 8) {
      const size = buf.readUInt32BE(0)
      if (buf.length < 4 + size) break
      onFrame(buf.readUInt32BE(4), buf.subarray(8, 4 + size))
      buf = buf.subarray(4 + size)
    }
  }
}

function open () {
  return new Promise((resolve, reject) => {
    const socket = connect(ports.tcp, '127.0.0.1', () => {
      socket.setNoDelay(true)
      socket.write('  V2')
      resolve(socket)
    })
    socket.once('error', reject)
  })
}

function mpub (topic, count) {
  const parts = [Buffer.from(`MPUB ${topic}\n`), Buffer.alloc(8)]
  let size = 4
  for (let i = 0; i < count; i++) {
    const len = Buffer.alloc(4)
    len.writeUInt32BE(BODY.length)
    parts.push(len, BODY)
    size += 4 + BODY.length
  }
  parts[1].writeUInt32BE(size, 0)
  parts[1].writeUInt32BE(count, 4)
  return Buffer.concat(parts)
}
const MPUB_BYTES = new Map()

const counters = { published: 0, consumed: 0, errors: 0 }
/** Off while measuring the maximum (producers send as fast as nsqd answers), on while soaking (each has a budget). */
const pacing = { on: false }
const producers = []

async function startProducer (topic) {
  const socket = await open()
  const cmd = MPUB_BYTES.get(topic) ?? MPUB_BYTES.set(topic, mpub(topic, BATCH)).get(topic)
  const p = { socket, inFlight: 0, budget: 0 }
  const send = () => {
    for (;;) {
      const paced = pacing.on
      if (p.inFlight >= 4 || (paced && p.budget < BATCH)) return
      if (paced) p.budget -= BATCH
      p.inFlight++
      socket.write(cmd)
    }
  }
  p.send = send
  socket.on('data', frames((type, data) => {
    if (type === 0 && data.toString() === '_heartbeat_') return socket.write('NOP\n')
    p.inFlight--
    if (type === 1) counters.errors++
    else counters.published += BATCH
    send()
  }))
  socket.on('error', () => {})
  socket.on('close', () => { counters.errors++ })
  producers.push(p)
}

async function startConsumer (topic) {
  const socket = await open()
  socket.on('data', frames((type, data) => {
    if (type === 2) {
      counters.consumed++
      socket.write(`FIN ${data.toString('latin1', 10, 26)}\n`)
    } else if (type === 0 && data.toString() === '_heartbeat_') {
      socket.write('NOP\n')
    } else if (type === 1) {
      counters.errors++
    }
  }))
  socket.on('error', () => {})
  socket.on('close', () => { counters.errors++ })
  socket.write(`SUB ${topic} ch\nRDY 200\n`)
}

async function metrics () {
  const text = await (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(10_000) })).text()
  const value = (name) => Number(new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(text)?.[1] ?? NaN)
  return {
    rss: value('process_resident_memory_bytes'),
    heap: value('nodejs_heap_size_used_bytes'),
    lagP99: value('nodejs_eventloop_lag_p99_seconds'),
    handles: value('nodejs_active_handles_total'),
  }
}

async function backlog () {
  const stats = await (await fetch(`${base}/stats?format=json&include_clients=false`, { signal: AbortSignal.timeout(10_000) })).json()
  let depth = 0
  for (const t of stats.topics ?? []) {
    depth += t.depth
    for (const c of t.channels) depth += c.depth
  }
  return depth
}

const topics = Array.from({ length: TOPICS }, (_, i) => `soak${String(i).padStart(3, '0')}`)
for (const topic of topics) {
  for (let i = 0; i < CONSUMERS_PER_TOPIC; i++) await startConsumer(topic)
}
for (const topic of topics) {
  for (let i = 0; i < PRODUCERS_PER_TOPIC; i++) await startProducer(topic)
}
// Publishing starts once every connection is up: producers that published while the rest connected kept this script
// (and nsqd) busy with deliveries, and the 1,000 sequential connects took from 1 s to 100 s in CI.
for (const p of producers) p.send()
say(`${TOPICS} topics, ${producers.length} publishing and ${TOPICS * CONSUMERS_PER_TOPIC} consuming connections`)

let rate = Number(opts.rate)
if (opts.rate === undefined) {
  // Unthrottled: count what is consumed over the measuring time, after a first third to ramp up.
  await sleep(measureMs / 3)
  const from = counters.consumed
  const start = performance.now()
  await sleep((measureMs * 2) / 3)
  const max = (counters.consumed - from) / ((performance.now() - start) / 1000)
  rate = Math.round(max / 2)
  say(`measured at most ${Math.round(max)} msgs/s consumed; soaking at ${rate} msgs/s`)
} else {
  say(`soaking at ${rate} msgs/s`)
}
pacing.on = true
// Let the measuring backlog drain before the clock starts.
for (let i = 0; i < 60 && (await backlog()) > 0; i++) await sleep(1000)

// Pacer: every 100 ms each producer gets its share of the rate.
const perProducerPerTick = rate / 10 / producers.length
const pacer = setInterval(() => {
  for (const p of producers) {
    p.budget = Math.min(p.budget + perProducerPerTick, BATCH * 8)
    p.send()
  }
}, 100)

const runMs = minutes * 60_000
const warmupMs = Math.min(5 * 60_000, runMs / 2)
const windowMs = warmupMs / 2
const samples = []
const soakStart = performance.now()
let lastPrint = soakStart
let lastConsumed = counters.consumed
let failure
const mb = (bytes) => `${(bytes / 1048576).toFixed(1)} MB`
while (performance.now() - soakStart < runMs) {
  await sleep(SAMPLE_MS)
  if (nsqdExit !== undefined) {
    failure = `nsqd exited (${nsqdExit}):\n${nsqdLog.log().slice(-2000)}`
    break
  }
  const m = await metrics()
  const at = performance.now() - soakStart
  samples.push({ at, ...m })
  if (performance.now() - lastPrint >= 60_000 || performance.now() - soakStart >= runMs) {
    const seconds = (performance.now() - lastPrint) / 1000
    const depth = await backlog()
    say(`RSS ${mb(m.rss)}, heap ${mb(m.heap)}, event-loop delay p99 ${(m.lagP99 * 1000).toFixed(1)} ms, handles ${m.handles}, ` +
      `${Math.round((counters.consumed - lastConsumed) / seconds)} msgs/s consumed, backlog ${depth}, errors ${counters.errors}`)
    lastPrint = performance.now()
    lastConsumed = counters.consumed
    // Consumers keep up at half the maximum: a backlog of more than ten seconds of messages means they do not.
    if (depth > rate * 10) failure = `consumers fell behind: backlog ${depth}`
    if (failure !== undefined) break
  }
}
clearInterval(pacer)

const peak = (list) => Math.max(...list.map((x) => x.rss))
const medianRss = (list) => median(list.map((x) => x.rss))
const warm = samples.filter((s) => s.at > warmupMs - windowMs && s.at <= warmupMs)
const last = samples.filter((s) => s.at > runMs - windowMs)
let growth = NaN
if (failure === undefined) {
  if (warm.length === 0 || last.length === 0) {
    failure = 'too few samples for the RSS rule'
  } else {
    growth = medianRss(last) / peak(warm) - 1
    say(`RSS: ${mb(peak(warm))} (highest, second half of the warm-up) -> ${mb(medianRss(last))} (median, last ${(windowMs / 1000).toFixed(0)} s): ${(growth * 100).toFixed(1)}% (limit ${MAX_GROWTH * 100}%)`)
    if (growth > MAX_GROWTH) failure = `RSS grew ${(growth * 100).toFixed(1)}%`
  }
}
if (counters.errors > 0 && failure === undefined) failure = `${counters.errors} errors or lost connections`
console.log(`RESULT ${JSON.stringify({ minutes, rate, published: counters.published, consumed: counters.consumed, errors: counters.errors, rssGrowth: Number.isNaN(growth) ? null : Number(growth.toFixed(4)), samples: samples.map((s) => ({ at: Math.round(s.at / 1000), rss: s.rss, heap: s.heap, lagP99Ms: Number((s.lagP99 * 1000).toFixed(1)), handles: s.handles })) })}`)
if (failure !== undefined) {
  console.log(`FAILED: ${failure}`)
  process.exit(1)
}
process.exit(0)
