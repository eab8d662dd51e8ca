#!/usr/bin/env node
// End-to-end benchmark: nsqd as its own process, a writer then a reader over TCP from this process.
// Prints msgs/s, MB/s and nsqd's peak RSS for each scenario. Usage: npm run bench [-- --runfor 5 --size 200 ...]
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { commands, FrameDecoder, FrameType, MAGIC_V2 } from '@nsqts/protocol'

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
const runForMs = Number(args.runfor) * 1000
const size = Number(args.size)
const nsqdBin = new URL('../packages/nsqd/dist/bin/nsqd.js', import.meta.url).pathname

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

function open (port) {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket))
    socket.once('error', reject)
    socket.setNoDelay(true)
  })
}

/** Publishes for runForMs on `concurrency` connections, each keeping `window` commands outstanding. */
async function writer (port, topic, batch, concurrency, window) {
  const body = Buffer.alloc(size, 'a')
  const cmd = batch === 1 ? commands.pub(topic, body) : commands.mpub(topic, Array.from({ length: batch }, () => body))
  let acked = 0
  const deadline = Date.now() + runForMs
  const started = Date.now()
  await Promise.all(Array.from({ length: concurrency }, async () => {
    const socket = await open(port)
    socket.write(MAGIC_V2)
    await new Promise((resolve, reject) => {
      let outstanding = 0
      const send = () => {
        while (outstanding < window && Date.now() < deadline) {
          socket.write(cmd)
          outstanding++
        }
        if (outstanding === 0) { socket.end(); resolve() }
      }
      const decoder = new FrameDecoder((type, data) => {
        if (type === FrameType.Error) return reject(new Error(data.toString()))
        if (data.length === 2) { // OK
          outstanding--
          acked += batch
        } else {
          socket.write(commands.NOP) // heartbeat
        }
      }, reject)
      socket.on('data', (chunk) => { decoder.push(chunk); send() })
      socket.on('error', reject)
      send()
    })
  }))
  return { msgs: acked, ms: Date.now() - started }
}

/** Consumes `expected` messages with RDY 2500 on `concurrency` connections, finishing each. */
async function reader (port, topic, expected, concurrency) {
  let received = 0
  const started = Date.now()
  const sockets = []
  await new Promise((resolve, reject) => {
    for (let i = 0; i < concurrency; i++) {
      open(port).then((socket) => {
        sockets.push(socket)
        socket.write(Buffer.concat([MAGIC_V2, commands.sub(topic, 'bench'), commands.rdy(2500)]))
        let fins = []
        const decoder = new FrameDecoder((type, data) => {
          if (type === FrameType.Message) {
            fins.push(commands.fin(data.toString('latin1', 10, 26)))
            received++
          } else if (type === FrameType.Error) {
            reject(new Error(data.toString()))
          } else if (data.toString() === '_heartbeat_') {
            fins.push(commands.NOP)
          }
        }, reject)
        socket.on('data', (chunk) => {
          decoder.push(chunk)
          if (fins.length > 0) { socket.write(Buffer.concat(fins)); fins = [] }
          if (received >= expected) resolve()
        })
      }, reject)
    }
  })
  const ms = Date.now() - started
  for (const s of sockets) s.destroy()
  return { msgs: received, ms }
}

function report (label, { msgs, ms }, rssMb) {
  const rate = msgs / (ms / 1000)
  const mbs = (rate * size) / (1024 * 1024)
  console.log(`${label.padEnd(34)} ${String(Math.round(rate)).padStart(9)} msgs/s  ${mbs.toFixed(2).padStart(7)} MB/s  ` +
    `(${msgs} msgs in ${(ms / 1000).toFixed(2)} s)  nsqd peak RSS ${rssMb.toFixed(0)} MB`)
}

const extra = args['nsqd-args'] === '' ? [] : args['nsqd-args'].split(' ')
const concurrency = Number(args.concurrency)
console.log(`nsqts bench: ${size}-byte messages, ${args.runfor}s per writer run, ${concurrency} connections, nsqd ${extra.join(' ') || '(defaults)'}`)
for (const scenario of args.scenarios.split(',')) {
  const batch = scenario === 'batch1' ? 1 : Number(scenario.replace('batch', ''))
  const nsqd = await startNsqd(extra)
  try {
    const topic = `bench_${batch}`
    // Synchronous publishing, as go-nsq's Publish does: one command in flight per connection.
    const w = await writer(nsqd.port, topic, batch, concurrency, 1)
    report(`writer (batch ${batch}, ${concurrency} conns)`, w, nsqd.peakRssMb())
    if (batch > 1) {
      const r = await reader(nsqd.port, topic, w.msgs, concurrency)
      report(`reader (RDY 2500, ${concurrency} conns)`, r, nsqd.peakRssMb())
    }
  } finally {
    await nsqd.stop()
  }
}
