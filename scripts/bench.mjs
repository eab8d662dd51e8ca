#!/usr/bin/env node
// End-to-end benchmark in NSQ's own scenario (see ../shared/bench/NSQ_FIGURES.md): for each storage mode a fresh
// nsqd with a new data path, topic sub_bench and channel ch created over HTTP first, then nsq_bench (packages/cli,
// over @nsqts/client) with one connection per CPU: the writer for --runfor (batch 200: MPUB, batch 1: PUB, one
// command in flight per connection), and after batch 200 the reader (RDY 2500, FIN each) for --readfor on the
// backlog it left. Prints msgs/s, MB/s, p50/p99, nsqd's peak RSS (VmHWM), the server's and the client's CPU per run
// (which of them was the limit), then compares with NSQ 1.3.0's figures and, with --floor, with node_floor.mjs
// driven by the same client in the same minute. Each run is made --repeat times (3, as NSQ's figures in issue 11 are
// medians of 3), the floor and the modes in turn, and the comparison takes the median of each figure, the median of
// the shares of the floor run just before, and the highest peak RSS.
// Usage: npm run bench [-- --runfor 5 --modes default,memq0 --floor --repeat 1 --cpu-prof DIR ...]
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { readDaemonLog } from './daemon-log.mjs'
import { median } from './median.mjs'
import { cpuSeconds } from './proc-cpu.mjs'

const { values: args } = parseArgs({
  options: {
    runfor: { type: 'string', default: '10' },
    readfor: { type: 'string' },
    size: { type: 'string', default: '200' },
    scenarios: { type: 'string', default: 'batch200,batch1' },
    modes: { type: 'string', default: 'default,durable,memq0' },
    'nsqd-args': { type: 'string', default: '' },
    concurrency: { type: 'string', default: String(availableParallelism()) },
    rdy: { type: 'string', default: '2500' },
    floor: { type: 'boolean', default: false },
    repeat: { type: 'string', default: '3' },
    // Writes a V8 CPU profile of nsqd per run into this directory (open it in Chrome DevTools).
    'cpu-prof': { type: 'string' },
    // The same for the nsq_bench processes, to see whether the client is the limit.
    'client-cpu-prof': { type: 'string' },
    json: { type: 'boolean', default: false },
  },
})
const size = Number(args.size)
const runfor = Number(args.runfor)
const readfor = args.readfor === undefined ? Math.min(5, runfor) : Number(args.readfor)
const concurrency = Number(args.concurrency)
const repeat = Number(args.repeat)
if (!Number.isInteger(repeat) || repeat < 1) throw new Error(`--repeat ${args.repeat}: a count of runs, at least 1`)
// nsqd is started as `nsqd` runs from the PATH or npx: through its bin, which also sets its environment (bin/nsqd.js).
const nsqdBin = new URL('../packages/nsqd/bin/nsqd.js', import.meta.url).pathname
const benchBin = new URL('../packages/cli/dist/bin/nsq_bench.js', import.meta.url).pathname
const sharedBench = new URL('../../shared/bench/', import.meta.url).pathname
const floorScript = join(sharedBench, 'node_floor.mjs')
const haveShared = existsSync(join(sharedBench, 'NSQ_FIGURES.md')) && existsSync(floorScript)

/** nsqd flags of each mode; --nsqd-args is added to all of them. */
const MODES = {
  default: [],
  durable: ['--durable'],
  memq0: ['--mem-queue-size=0'],
}

/**
 * NSQ 1.3.0 on this machine kind, from ../shared/bench/NSQ_FIGURES.md (NSQ's bench_writer / bench_reader, 2 vCPU,
 * 200-byte messages, the scenario above): [low, high] over runs and days, msgs/s; RSS in MB.
 */
const NSQ = {
  default: {
    'writer batch 200': [252_000, 425_000],
    reader: [266_000, 444_000],
    'writer batch 1': [24_600, 34_500],
  },
  memq0: {
    'writer batch 200': [222_000, 222_000],
    reader: [209_000, 209_000],
  },
  // NSQ has no durable mode; its only setting that lost no acknowledged PUB under kill -9 was
  // --mem-queue-size=0 --sync-every=1, at about 900 PUB/s.
  durable: {
    'writer batch 1': [900, 900],
  },
  rssMb: { batch200: [24, 26], batch1: [16.6, 16.6] },
}
/** node_floor.mjs with NSQ's tools, same file: writer batch 200 about 4.0M, reader about 833k, batch 1 about 42k. */
const FLOOR_WITH_NSQ_TOOLS = { 'writer batch 200': 4_000_000, reader: 833_000, 'writer batch 1': 42_000 }

function freePort () {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

async function waitForPort (port, child) {
  const deadline = Date.now() + 10_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`node_floor.mjs exited (${child.exitCode})`)
    const ok = await new Promise((resolve) => {
      const s = connect(port, '127.0.0.1', () => { s.destroy(); resolve(true) })
      s.once('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > deadline) throw new Error(`node_floor.mjs did not listen on ${port}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** The server a run talks to: nsqd in one of the modes, or the floor. */
async function startServer (mode) {
  if (mode === 'floor') return startFloor()
  const extra = [...MODES[mode], ...(args['nsqd-args'] === '' ? [] : args['nsqd-args'].split(' '))]
  const dataPath = mkdtempSync(join(tmpdir(), 'nsqts-bench-'))
  const nsqdArgs = ['--tcp-address=127.0.0.1:0', '--http-address=127.0.0.1:0', `--data-path=${dataPath}`, ...extra]
  // node takes --cpu-prof only on its command line, so a profiled nsqd runs without the bin's environment.
  const [file, argv] = args['cpu-prof'] === undefined
    ? [nsqdBin, nsqdArgs]
    : [process.execPath, ['--cpu-prof', `--cpu-prof-dir=${args['cpu-prof']}`, nsqdBin, ...nsqdArgs]]
  const child = spawn(file, argv, { stdio: ['ignore', 'ignore', 'pipe'] })
  const { tcp: tcpPort, http: httpPort } = await readDaemonLog(child, 'nsqd').ports
  // As NSQ's bench.sh: the channel exists before the writer starts, so every message is queued for it.
  for (const path of ['/topic/create?topic=sub_bench', '/channel/create?topic=sub_bench&channel=ch']) {
    const res = await fetch(`http://127.0.0.1:${httpPort}${path}`, { method: 'POST' })
    if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`)
  }
  return {
    port: tcpPort,
    pid: child.pid,
    flags: extra.join(' ') || '(defaults)',
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

async function startFloor () {
  const port = await freePort()
  const child = spawn(process.execPath, [floorScript, String(port)], { stdio: ['ignore', 'ignore', 'inherit'] })
  await waitForPort(port, child)
  return {
    port,
    pid: child.pid,
    flags: 'node_floor.mjs',
    peakRssMb: () => undefined,
    async stop () {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    },
  }
}

/**
 * Runs nsq_bench as its own process and returns its JSON result. Its clientCpuPercent shows whether the client kept
 * up: well below 100, the figures are the server's.
 */
function nsqBench (benchArgs, profileName) {
  const prof = args['client-cpu-prof'] === undefined
    ? []
    : ['--cpu-prof', `--cpu-prof-dir=${args['client-cpu-prof']}`, `--cpu-prof-name=${profileName}.cpuprofile`]
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...prof, benchBin, ...benchArgs, '--json'], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (chunk) => { out += chunk })
    child.once('exit', (code) => code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`nsq_bench ${benchArgs[0]} exited with ${code}`)))
  })
}

/**
 * Runs nsq_bench against `server` and measures the server's CPU over the run, as a share of one core: the whole process
 * and its main thread (JavaScript's, which a Node server cannot spread over cores). Near 100 on the main thread, the
 * server was the limit; the client's own share says the same of the client.
 */
async function benchAgainst (server, benchArgs, profileName) {
  const before = { all: cpuSeconds(server.pid), main: cpuSeconds(server.pid, server.pid) }
  const r = await nsqBench(benchArgs, profileName)
  // Over the client's measured run (r.ms): while nsq_bench starts and connects the server is all but idle.
  const share = (seconds) => 100 * seconds / (r.ms / 1000)
  r.serverCpuPercent = share(cpuSeconds(server.pid) - before.all)
  r.serverMainCpuPercent = share(cpuSeconds(server.pid, server.pid) - before.main)
  return r
}

const k = (n) => n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e4 ? `${Math.round(n / 1e3)}k` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : String(Math.round(n))
const results = []

/** Writers report publish-to-OK latency per command; readers the age of each message when handled. */
function report (scenario, mode, run, r, rssMb) {
  const row = {
    scenario,
    mode,
    run,
    msgsPerSec: r.msgsPerSec,
    mbPerSec: r.mbPerSec,
    p50: r.latencyMs.p50,
    p99: r.latencyMs.p99,
    rssMb,
    clientCpuPercent: r.clientCpuPercent,
    serverCpuPercent: r.serverCpuPercent,
    serverMainCpuPercent: r.serverMainCpuPercent,
  }
  results.push(row)
  const rss = rssMb === undefined ? '' : `  nsqd peak RSS ${rssMb.toFixed(0)} MB`
  console.log(`${scenario.padEnd(17)} ${mode.padEnd(8)} ${repeat > 1 ? `${run}/${repeat} ` : ''}${k(r.msgsPerSec).padStart(7)} msgs/s ${r.mbPerSec.toFixed(1).padStart(7)} MB/s  ` +
    `${r.mode === 'writer' ? 'latency' : 'age'} p50 ${r.latencyMs.p50.toFixed(2)} p99 ${r.latencyMs.p99.toFixed(2)} ms${rss}  ` +
    `${mode === 'floor' ? 'floor' : 'nsqd'} cpu ${Math.round(r.serverCpuPercent)}% (main thread ${Math.round(r.serverMainCpuPercent)}%)  ` +
    `client cpu ${Math.round(r.clientCpuPercent)}%`)
}

const modes = args.modes.split(',').filter((m) => m !== '')
for (const m of modes) if (m !== 'floor' && MODES[m] === undefined) throw new Error(`unknown mode ${m}: use ${Object.keys(MODES).join(', ')}, floor`)
if (args.floor && !modes.includes('floor')) modes.unshift('floor')
if (!haveShared && modes.includes('floor')) modes.splice(modes.indexOf('floor'), 1)

console.log(`nsqts bench: ${size}-byte messages, writer ${runfor} s then reader ${readfor} s, ${concurrency} connections, ` +
  `RDY ${args.rdy}, modes ${modes.join(', ')}${args['nsqd-args'] ? `, nsqd ${args['nsqd-args']}` : ''}, ${repeat} run(s) each`)
if (!haveShared) console.log(`${sharedBench} not found: no comparison with NSQ's figures or the Node floor`)

for (const scenario of args.scenarios.split(',')) {
  const batch = Number(scenario.replace('batch', ''))
  // The floor first, then each mode: the shares compare runs made within a minute or two.
  for (let run = 1; run <= repeat; run++) {
    for (const mode of modes) {
      const server = await startServer(mode)
      try {
        const common = ['--nsqd-tcp-address', `127.0.0.1:${server.port}`, '--topic', 'sub_bench', '--channel', 'ch',
          '--size', String(size), '--concurrency', String(concurrency)]
        const w = await benchAgainst(server, ['writer', ...common, '--batch-size', String(batch), '--window', '1', '--runfor', `${runfor}s`],
          `writer-b${batch}-${mode}-${run}`)
        report(`writer batch ${batch}`, mode, run, w, server.peakRssMb())
        if (batch > 1) {
          // Against nsqd the reader reads the backlog the writer left; the floor has no backlog and sends for ever.
          const count = mode === 'floor' ? 0 : w.msgs
          const r = await benchAgainst(server, ['reader', ...common, '--rdy', args.rdy, '--count', String(count), '--runfor', `${readfor}s`],
            `reader-${mode}-${run}`)
          report('reader', mode, run, r, server.peakRssMb())
        }
      } finally {
        await server.stop()
      }
    }
  }
}

/** The runs of one figure: their median msgs/s, the median of their shares of the floor's run of the same round. */
function summarize (scenario, mode) {
  const runs = results.filter((r) => r.scenario === scenario && r.mode === mode)
  const floorShares = runs.flatMap((r) => {
    const floor = results.find((f) => f.mode === 'floor' && f.scenario === scenario && f.run === r.run)
    return floor === undefined ? [] : [r.msgsPerSec / floor.msgsPerSec]
  })
  const rss = runs.map((r) => r.rssMb).filter((mb) => mb !== undefined)
  return {
    msgsPerSec: median(runs.map((r) => r.msgsPerSec)),
    all: runs.map((r) => k(r.msgsPerSec)).join(' '),
    floorShare: floorShares.length === 0 ? undefined : median(floorShares),
    rssMb: rss.length === 0 ? undefined : Math.max(...rss),
    serverMainCpuPercent: median(runs.map((r) => r.serverMainCpuPercent)),
    clientCpuPercent: median(runs.map((r) => r.clientCpuPercent)),
  }
}

if (haveShared) {
  console.log('\nCompared with NSQ 1.3.0 on this machine kind (../shared/bench/NSQ_FIGURES.md: NSQ\'s bench tools, range over runs and days)' +
    (repeat > 1 ? `; medians of ${repeat} runs, the highest peak RSS` : ''))
  // Every figure has a first run, in the order the figures ran.
  for (const { scenario, mode } of results.filter((r) => r.run === 1)) {
    const f = summarize(scenario, mode)
    const runs = repeat > 1 ? ` (${f.all})` : ''
    if (mode === 'floor') {
      const nsqTools = FLOOR_WITH_NSQ_TOOLS[scenario]
      console.log(`${scenario.padEnd(17)} floor    ${k(f.msgsPerSec).padStart(7)} msgs/s${runs}` +
        `  (${nsqTools === undefined ? '' : `NSQ's tools against the floor: ~${k(nsqTools)}, nsq_bench ${(f.msgsPerSec / nsqTools).toFixed(2)}x that; `}` +
        `CPU: the floor's main thread ${Math.round(f.serverMainCpuPercent)}%, the client ${Math.round(f.clientCpuPercent)}%)`)
      continue
    }
    const parts = []
    const nsq = NSQ[mode]?.[scenario]
    if (nsq !== undefined) {
      parts.push(nsq[0] === nsq[1]
        ? `${(f.msgsPerSec / nsq[0]).toFixed(2)}x NSQ's ${k(nsq[0])}`
        : `${(f.msgsPerSec / nsq[1]).toFixed(2)}x-${(f.msgsPerSec / nsq[0]).toFixed(2)}x NSQ's ${k(nsq[0])}-${k(nsq[1])}`)
    }
    if (f.floorShare !== undefined) parts.push(`${(100 * f.floorShare).toFixed(0)}% of the floor`)
    const rss = NSQ.rssMb[scenario === 'writer batch 1' ? 'batch1' : 'batch200']
    if (mode === 'default' && scenario !== 'writer batch 200') parts.push(`RSS ${f.rssMb.toFixed(0)} MB vs NSQ's ${rss[1]} MB`)
    parts.push(`CPU: nsqd's main thread ${Math.round(f.serverMainCpuPercent)}%, the client ${Math.round(f.clientCpuPercent)}%`)
    console.log(`${scenario.padEnd(17)} ${mode.padEnd(8)} ${k(f.msgsPerSec).padStart(7)} msgs/s${runs}  ${parts.join(', ')}`)
  }
}
if (args.json) console.log(JSON.stringify(results))
