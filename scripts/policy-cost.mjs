#!/usr/bin/env node
// What delivery policies cost nsqd (docs/policies.md, "Benchmarks"), as nsqd's own CPU time per message for a fixed
// amount of work, which a loaded machine disturbs far less than throughput. Each run starts a fresh nsqd (from
// packages/nsqd/dist: `npm run build` first), creates topic t and channel c, publishes --messages 200-byte messages
// with MPUB 200 (8 commands in flight), then consumes them all (RDY 2500, FIN each), and reads nsqd's user + system
// time from /proc/<pid>/stat around each phase. A is --checkout's nsqd with --nsqd-args, B is --base's nsqd (this
// checkout by default) without them; they run in turn (A B A B ...) and the ratio A/B is taken pair by pair.
// Usage: node scripts/policy-cost.mjs [--pairs 12] [--messages 200000] [--nsqd-args="--max-attempts=5 --msg-ttl=1h"]
//          [--checkout DIR] [--base DIR]   (--nsqd-args= --checkout after --base before: a change with no policy)
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { readDaemonLog } from './daemon-log.mjs'
import { median } from './median.mjs'
import { cpuSeconds } from './proc-cpu.mjs'

const { values: args } = parseArgs({
  options: {
    pairs: { type: 'string', default: '12' },
    messages: { type: 'string', default: '200000' },
    'nsqd-args': { type: 'string', default: '--max-attempts=5 --msg-ttl=1h' },
    // A's and B's checkouts (built); both this one by default.
    checkout: { type: 'string', default: new URL('..', import.meta.url).pathname },
    base: { type: 'string', default: new URL('..', import.meta.url).pathname },
  },
})
const BATCH = 200
const N = Math.ceil(Number(args.messages) / BATCH) * BATCH

async function startNsqd (repo, flags) {
  const dataPath = mkdtempSync(join(tmpdir(), 'nsqts-policy-cost-'))
  const child = spawn(process.execPath, [join(repo, 'packages/nsqd/dist/bin/nsqd.js'), '--tcp-address=127.0.0.1:0',
    '--http-address=127.0.0.1:0', `--data-path=${dataPath}`, ...flags], { stdio: ['ignore', 'ignore', 'pipe'] })
  const { tcp, http } = await readDaemonLog(child, 'nsqd').ports
  for (const path of ['/topic/create?topic=t', '/channel/create?topic=t&channel=c']) {
    const res = await fetch(`http://127.0.0.1:${http}${path}`, { method: 'POST' })
    if (!res.ok) throw new Error(`POST ${path}: ${res.status}`)
  }
  return {
    tcp,
    cpu: () => cpuSeconds(child.pid) * 1e6,
    async stop () {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
      rmSync(dataPath, { recursive: true, force: true })
    },
  }
}

/** A V2 connection calling onFrame(type, data) for each frame and answering heartbeats. */
async function open (port, onFrame) {
  const socket = connect(port, '127.0.0.1')
  await new Promise((resolve, reject) => { socket.once('connect', resolve).once('error', reject) })
  let buf = Buffer.alloc(0)
  socket.on('data', (chunk) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk])
    let off = 0
    while (buf.length - off >= 8 && buf.length - off >= 4 + buf.readUInt32BE(off)) {
      const size = buf.readUInt32BE(off)
      const type = buf.readUInt32BE(off + 4)
      const data = buf.subarray(off + 8, off + 4 + size)
      off += 4 + size
      if (type === 0 && data.toString() === '_heartbeat_') socket.write('NOP\n')
      else onFrame(type, data)
    }
    buf = buf.subarray(off)
  })
  socket.write('  V2')
  return socket
}

const body = Buffer.alloc(200, 'a')
const mpub = Buffer.concat([Buffer.from('MPUB t\n'), Buffer.from([0, 0, 0, 0, 0, 0, 0, 0]),
  ...Array.from({ length: BATCH }, () => [Buffer.from([0, 0, 0, body.length]), body]).flat()])
mpub.writeUInt32BE(4 + BATCH * (4 + body.length), 7)
mpub.writeUInt32BE(BATCH, 11)

/** Publishes N messages, 8 MPUBs in flight. */
async function publishAll (port) {
  const commands = N / BATCH
  let sent = 0
  let answered = 0
  let done
  const finished = new Promise((resolve) => { done = resolve })
  const socket = await open(port, (type, data) => {
    if (type !== 0) throw new Error(`MPUB: ${data}`)
    if (++answered === commands) done()
    else if (sent < commands) { sent++; socket.write(mpub) }
  })
  while (sent < Math.min(8, commands)) { sent++; socket.write(mpub) }
  await finished
  socket.destroy()
}

/** Receives and FINs N messages, RDY 2500. */
async function consumeAll (port) {
  let got = 0
  let done
  const finished = new Promise((resolve) => { done = resolve })
  const socket = await open(port, (type, data) => {
    if (type === 0 && data.toString() === 'OK') socket.write('RDY 2500\n')
    if (type === 1) throw new Error(`SUB: ${data}`)
    if (type !== 2) return
    socket.write(`FIN ${data.toString('latin1', 10, 26)}\n`)
    if (++got === N) done()
  })
  socket.write('SUB t c\n')
  await finished
  socket.destroy()
}

/** One run: µs of nsqd CPU per message published, and per message delivered and finished. */
async function run (repo, flags) {
  const nsqd = await startNsqd(repo, flags)
  try {
    const c0 = nsqd.cpu()
    await publishAll(nsqd.tcp)
    const c1 = nsqd.cpu()
    await consumeAll(nsqd.tcp)
    const c2 = nsqd.cpu()
    return { publish: (c1 - c0) / N, deliver: (c2 - c1) / N }
  } finally {
    await nsqd.stop()
  }
}

const flags = args['nsqd-args'] === '' ? [] : args['nsqd-args'].split(' ')
const a = args.checkout
console.log(`policy cost: ${N} messages a run, ${args.pairs} pairs; ` +
  `A: ${a} nsqd ${flags.join(' ') || '(no flags)'}; B: ${args.base} nsqd (no flags)`)
const pairs = []
await run(a, flags) // warm-up (file cache, JIT of the driver)
for (let i = 0; i < Number(args.pairs); i++) {
  const p = { a: await run(a, flags), b: await run(args.base, []) }
  pairs.push(p)
  console.log(`pair ${i + 1}: publish ${p.a.publish.toFixed(2)} / ${p.b.publish.toFixed(2)} µs, ` +
    `deliver+FIN ${p.a.deliver.toFixed(2)} / ${p.b.deliver.toFixed(2)} µs`)
}
for (const phase of ['publish', 'deliver']) {
  const ratios = pairs.map((p) => p.a[phase] / p.b[phase]).sort((x, y) => x - y)
  const q = (f) => ratios[Math.min(ratios.length - 1, Math.floor(f * ratios.length))].toFixed(2)
  console.log(`${phase.padEnd(8)} µs of nsqd CPU per message: A ${median(pairs.map((p) => p.a[phase])).toFixed(2)}, ` +
    `B ${median(pairs.map((p) => p.b[phase])).toFixed(2)}; A/B per pair: median ${median(ratios).toFixed(3)}, ` +
    `quartiles ${q(0.25)}-${q(0.75)}, range ${q(0)}-${q(1)}`)
}
