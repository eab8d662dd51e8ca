#!/usr/bin/env node
// nsqlookupd at scale (build first: npx tsc -b): --producers nsqd peers register over TCP (protocol V1), each with
// --topics topics of --channels channels (REGISTER topic, then REGISTER topic channel for each channel), then:
// registration time, GET /lookup?topic=t0 and GET /nodes (p50 over --requests), the time for a tenth of the
// producers dropping to vanish from /lookup, and nsqlookupd's peak RSS (VmHWM). Compared with NSQ's nsqlookupd in
// ../shared/bench/NSQ_FIGURES.md when that file is there.
// nsqlookupd must log at INFO (its default): the ports and its own time per request are read from its log.
// Usage: node scripts/bench-lookupd.mjs [--producers 2000 --topics 50 --channels 2 --requests 30 --cpu-prof DIR]
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { parseArgs } from 'node:util'
import { MAGIC_V1, SizePrefixedReader } from '@nsqts/protocol'
import { readDaemonLog } from './daemon-log.mjs'

const { values: args } = parseArgs({
  options: {
    producers: { type: 'string', default: '2000' },
    topics: { type: 'string', default: '50' },
    channels: { type: 'string', default: '2' },
    requests: { type: 'string', default: '30' },
    // Peers registering at the same time.
    parallel: { type: 'string', default: '200' },
    'lookupd-args': { type: 'string', default: '' },
    // Node options for the nsqlookupd process (V8 heap sizing, say).
    'node-args': { type: 'string', default: '' },
    // Another build's bin (packages/lookupd/dist/bin/nsqlookupd.js), for runs paired with this one.
    bin: { type: 'string' },
    // Writes a V8 CPU profile of nsqlookupd into this directory.
    'cpu-prof': { type: 'string' },
  },
})
const producers = Number(args.producers)
const topics = Number(args.topics)
const channels = Number(args.channels)
const requests = Number(args.requests)
const lookupdBin = args.bin ?? new URL('../packages/lookupd/dist/bin/nsqlookupd.js', import.meta.url).pathname
const figuresFile = new URL('../../shared/bench/NSQ_FIGURES.md', import.meta.url).pathname

/** NSQ 1.3.0's nsqlookupd in this scenario (2,000 x 50 x 2), from ../shared/bench/NSQ_FIGURES.md. */
const NSQ = { registrationMs: 6100, lookupP50Ms: 9.9, nodesP50Ms: 436, dropMs: 187, peakRssMb: 138 }

/** Go's time.Duration String() as logged (`812.5µs`, `1.234567ms`, `2.5s`), in ms. */
function goDurationMs (text) {
  const m = /^([\d.]+)(ns|µs|us|ms|s)$/.exec(text)
  if (!m) return NaN
  return Number(m[1]) * { ns: 1e-6, µs: 1e-3, us: 1e-3, ms: 1, s: 1000 }[m[2]]
}

function median (values) {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

async function startLookupd () {
  const prof = args['cpu-prof'] === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${args['cpu-prof']}`]
  const extra = args['lookupd-args'] === '' ? [] : args['lookupd-args'].split(' ')
  const nodeArgs = args['node-args'] === '' ? [] : args['node-args'].split(' ')
  const child = spawn(process.execPath, [...nodeArgs, ...prof, lookupdBin, '--tcp-address=127.0.0.1:0', '--http-address=127.0.0.1:0', ...extra],
    { stdio: ['ignore', 'ignore', 'pipe'] })
  // Its log (a line per registration) is read as it comes, so a full pipe never slows it down; only the lines of
  // HTTP requests are kept, for the time nsqlookupd itself took to answer (printed at the end of each).
  let rest = ''
  const served = []
  const keepServed = (chunk) => {
    const lines = (rest + chunk).split('\n')
    rest = lines.pop()
    for (const line of lines) {
      const m = / INFO: 200 GET (\S+) \(\S+\) (\S+)$/.exec(line)
      if (m) served.push({ path: m[1], ms: goDurationMs(m[2]) })
    }
  }
  child.stderr.on('data', keepServed)
  const ports = await readDaemonLog(child, 'nsqlookupd').ports
  return {
    ...ports,
    /** How long nsqlookupd took for each answer to `path` logged so far, in ms. */
    servedMs: (path) => served.filter((r) => r.path === path).map((r) => r.ms),
    peakRssMb () {
      return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))[1]) / 1024
    },
    async stop () {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    },
  }
}

/** One nsqd as nsqlookupd sees it: IDENTIFY, then its registrations, all written at once; resolves once all are OK. */
function register (port, i) {
  const identify = Buffer.from(JSON.stringify({
    broadcast_address: `nsqd-${i}.bench.example`,
    hostname: `nsqd-${i}`,
    tcp_port: 4150,
    http_port: 4151,
    version: '1.3.0',
  }))
  const size = Buffer.alloc(4)
  size.writeUInt32BE(identify.length)
  let lines = ''
  for (let t = 0; t < topics; t++) {
    lines += `REGISTER t${t}\n`
    for (let c = 0; c < channels; c++) lines += `REGISTER t${t} ch${c}\n`
  }
  const expected = 1 + topics * (1 + channels)
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let answers = 0
    const reader = new SizePrefixedReader((data) => {
      if (answers > 0 && !(data.length === 2 && data.toString() === 'OK')) reject(new Error(`peer ${i}: ${data.toString()}`))
      if (++answers === expected) resolve(socket)
    }, () => reject(new Error('oversized answer')))
    socket.on('data', (chunk) => reader.push(chunk))
    socket.once('error', reject)
    socket.write(Buffer.concat([MAGIC_V1, Buffer.from('IDENTIFY\n'), size, identify, Buffer.from(lines)]))
  })
}

async function get (port, path) {
  const started = performance.now()
  const res = await fetch(`http://127.0.0.1:${port}${path}`)
  const body = await res.arrayBuffer()
  if (!res.ok) throw new Error(`GET ${path}: ${res.status}`)
  const json = () => JSON.parse(Buffer.from(body).toString())
  return { ms: performance.now() - started, bytes: body.byteLength, json }
}

/** p50 of n requests as this client saw them, and as nsqlookupd's log says it served them. */
async function p50 (lookupd, path, n) {
  const times = []
  let bytes = 0
  const logged = lookupd.servedMs(path).length
  for (let i = 0; i < n; i++) {
    const r = await get(lookupd.http, path)
    times.push(r.ms)
    bytes = r.bytes
  }
  // nsqlookupd writes its log once per turn of its event loop: wait for the lines of these requests.
  const deadline = Date.now() + 5000
  while (lookupd.servedMs(path).length < logged + n && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return { p50: median(times), served: median(lookupd.servedMs(path).slice(logged)), bytes }
}

const lookupd = await startLookupd()
const sockets = []
try {
  const started = performance.now()
  let next = 0
  await Promise.all(Array.from({ length: Number(args.parallel) }, async () => {
    while (next < producers) sockets.push(await register(lookupd.tcp, next++))
  }))
  const registrationMs = performance.now() - started
  const registrations = producers * topics * (1 + channels)
  console.log(`nsqlookupd: ${producers} producers x ${topics} topics x ${channels} channels = ${registrations} registrations`)
  console.log(`registration of all ${producers}: ${(registrationMs / 1000).toFixed(2)} s`)

  // A first request of each kind warms the route up; the p50 is over the next ones.
  await get(lookupd.http, '/lookup?topic=t0')
  const lookup = await p50(lookupd, '/lookup?topic=t0', requests)
  const listed = (await get(lookupd.http, '/lookup?topic=t0')).json().producers.length
  console.log(`GET /lookup?topic=t0 (${listed} producers, ${(lookup.bytes / 1024).toFixed(0)} KB): p50 ${lookup.p50.toFixed(1)} ms ` +
    `(nsqlookupd's own time, from its log: p50 ${lookup.served?.toFixed(2)} ms)`)
  await get(lookupd.http, '/nodes')
  const nodes = await p50(lookupd, '/nodes', Math.max(3, Math.floor(requests / 3)))
  console.log(`GET /nodes (${(nodes.bytes / 1024 / 1024).toFixed(1)} MB): p50 ${nodes.p50.toFixed(0)} ms ` +
    `(nsqlookupd's own time: p50 ${nodes.served?.toFixed(0)} ms)`)

  const dropping = sockets.splice(0, Math.floor(producers / 10))
  const dropStarted = performance.now()
  for (const socket of dropping) socket.destroy()
  const remaining = producers - dropping.length
  const deadline = Date.now() + 60_000
  while ((await get(lookupd.http, '/lookup?topic=t0')).json().producers.length !== remaining) {
    if (Date.now() > deadline) throw new Error('dropped producers still listed after 60 s')
  }
  const dropMs = performance.now() - dropStarted
  console.log(`a tenth of the producers (${dropping.length}) drop: gone from /lookup after ${dropMs.toFixed(0)} ms`)
  const rss = lookupd.peakRssMb()
  console.log(`nsqlookupd peak RSS: ${rss.toFixed(0)} MB`)

  if (existsSync(figuresFile) && producers === 2000 && topics === 50 && channels === 2) {
    console.log('\nCompared with NSQ 1.3.0\'s nsqlookupd on this machine kind (../shared/bench/NSQ_FIGURES.md):')
    const row = (what, ours, nsq, unit) => console.log(`${what.padEnd(26)} ${ours.toFixed(unit === 'MB' || nsq >= 100 ? 0 : 1).padStart(7)} ${unit}  NSQ ${nsq} ${unit}  (${(ours / nsq).toFixed(2)}x)`)
    row('registration', registrationMs, NSQ.registrationMs, 'ms')
    row('GET /lookup p50', lookup.p50, NSQ.lookupP50Ms, 'ms')
    row('  as nsqlookupd logged it', lookup.served, NSQ.lookupP50Ms, 'ms')
    row('GET /nodes p50', nodes.p50, NSQ.nodesP50Ms, 'ms')
    row('a tenth drop', dropMs, NSQ.dropMs, 'ms')
    row('peak RSS', rss, NSQ.peakRssMb, 'MB')
  } else if (!existsSync(figuresFile)) {
    console.log(`${figuresFile} not found: no comparison with NSQ's figures`)
  }
} finally {
  for (const socket of sockets) socket.destroy()
  await lookupd.stop()
}
