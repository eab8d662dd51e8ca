#!/usr/bin/env node
// Storage benchmark (build first: npx tsc -b). Three parts:
//  1. bench.mjs's writer and reader side by side for the storage modes: default, --mem-queue-size=0, --durable.
//  2. A backlog: N messages (default 1,000,000 x 200 bytes) published to a topic whose one channel has no consumer,
//     then read back; prints msgs/s, MB/s and nsqd's peak RSS for each half, and the size of the data path.
//  3. Fan-out: a backlog (default 300,000) published to a topic with --channels channels (8), then read back on all of
//     them at once, one connection each: several queues on disk side by side, whose records share LevelDB's tables.
//     Prints the same, and how much of the readers' peak RSS is file-backed (LevelDB maps the tables it reads).
// Usage: node scripts/bench-storage.mjs [--backlog 1000000] [--fanout-backlog 300000] [--channels 8] [--size 200]
//        [--runfor 5] [--parts modes,backlog,fanout]
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { commands, FrameDecoder, FrameType, MAGIC_V2 } from '@nsqts/protocol'
import { readDaemonLog } from './daemon-log.mjs'

const { values: args } = parseArgs({
  options: {
    backlog: { type: 'string', default: '1000000' },
    'fanout-backlog': { type: 'string', default: '300000' },
    channels: { type: 'string', default: '8' },
    size: { type: 'string', default: '200' },
    runfor: { type: 'string', default: '5' },
    parts: { type: 'string', default: 'modes,backlog,fanout' },
    'nsqd-args': { type: 'string', default: '' },
  },
})
const size = Number(args.size)
const parts = args.parts.split(',')
const nsqdBin = new URL('../packages/nsqd/dist/bin/nsqd.js', import.meta.url).pathname
const benchScript = new URL('./bench.mjs', import.meta.url).pathname

if (parts.includes('modes')) {
  const run = spawnSync(process.execPath, [benchScript, '--scenarios=batch200', '--modes=default,memq0,durable', '--repeat=1',
    `--runfor=${args.runfor}`, `--size=${size}`, `--nsqd-args=${args['nsqd-args']}`],
  { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' })
  process.stdout.write(run.stdout.split('\n').filter((l) => l.includes('client cpu')).join('\n') + '\n')
}

async function startNsqd (extra) {
  const dataPath = mkdtempSync(join(tmpdir(), 'nsqts-bench-storage-'))
  const child = spawn(process.execPath, [nsqdBin, '--tcp-address=127.0.0.1:0', '--http-address=127.0.0.1:0',
    `--data-path=${dataPath}`, ...extra], { stdio: ['ignore', 'ignore', 'pipe'] })
  const ports = await readDaemonLog(child, 'nsqd').ports
  const status = () => readFileSync(`/proc/${child.pid}/status`, 'utf8')
  /** Anonymous and file-backed RSS: LevelDB maps its table files, whose pages count as (reclaimable) RSS. */
  const rssSplitMb = () => ['RssAnon', 'RssFile'].map((k) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status())[1]) / 1024)
  return {
    ...ports,
    dataPath,
    rssMb: () => Number(/VmRSS:\s+(\d+)/.exec(status())[1]) / 1024,
    rssSplitMb,
    peakRssMb: () => Number(/VmHWM:\s+(\d+)/.exec(status())[1]) / 1024,
    /** Samples RSS until the returned function is called, which answers the highest and its file-backed part then. */
    watchPeak () {
      let peak = { rss: 0, file: 0 }
      const sample = () => {
        const [anon, file] = rssSplitMb()
        if (anon + file > peak.rss) peak = { rss: anon + file, file }
      }
      const timer = setInterval(sample, 50)
      return () => { clearInterval(timer); sample(); return peak }
    },
    /** Resets VmHWM (the peak) to the current RSS, so that each half reports its own peak. */
    resetPeak: () => writeFileSync(`/proc/${child.pid}/clear_refs`, '5'),
    async stop () {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
      rmSync(dataPath, { recursive: true, force: true })
    },
  }
}

/** Creates `topic` and its `channels` over nsqd's HTTP API. */
async function createTopic (http, topic, channels) {
  await fetch(`${http}/topic/create?topic=${topic}`, { method: 'POST' })
  for (const channel of channels) {
    const created = await fetch(`${http}/channel/create?topic=${topic}&channel=${channel}`, { method: 'POST' })
    if (created.status !== 200) throw new Error(`/channel/create: ${created.status} ${await created.text()}`)
  }
}

function open (port) {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket))
    socket.once('error', reject)
    socket.setNoDelay(true)
  })
}

/** MPUBs of 200 on 4 connections, 4 commands in flight each, until `total` messages are acknowledged. */
async function publish (port, topic, total) {
  const body = Buffer.alloc(size, 'b')
  const cmd = commands.mpub(topic, Array.from({ length: 200 }, () => body))
  let sent = 0
  await Promise.all(Array.from({ length: 4 }, async () => {
    const socket = await open(port)
    socket.write(MAGIC_V2)
    await new Promise((resolve, reject) => {
      let outstanding = 0
      const send = () => {
        while (outstanding < 4 && sent < total) {
          socket.write(cmd)
          sent += 200
          outstanding++
        }
        if (outstanding === 0) { socket.end(); resolve() }
      }
      const decoder = new FrameDecoder((type, data) => {
        if (type === FrameType.Error) return reject(new Error(data.toString()))
        if (data.toString() === '_heartbeat_') return socket.write(commands.NOP)
        outstanding--
      }, reject)
      socket.on('data', (chunk) => { decoder.push(chunk); send() })
      send()
    })
  }))
  return sent
}

async function consume (port, topic, channel, expected) {
  let received = 0
  const socket = await open(port)
  socket.write(Buffer.concat([MAGIC_V2, commands.sub(topic, channel), commands.rdy(2500)]))
  await new Promise((resolve, reject) => {
    let out = []
    const decoder = new FrameDecoder((type, data) => {
      if (type === FrameType.Message) {
        out.push(commands.fin(data.toString('latin1', 10, 26)))
        received++
      } else if (type === FrameType.Error) {
        reject(new Error(data.toString()))
      } else if (data.toString() === '_heartbeat_') {
        out.push(commands.NOP)
      }
    }, reject)
    socket.on('data', (chunk) => {
      decoder.push(chunk)
      if (out.length > 0) { socket.write(Buffer.concat(out)); out = [] }
      if (received >= expected) resolve()
    })
  })
  socket.destroy()
  return received
}

function du (path) {
  const out = spawnSync('du', ['-sm', path], { encoding: 'utf8' }).stdout
  return Number(out.split('\t')[0])
}

function line (label, msgs, ms, rss) {
  const rate = msgs / (ms / 1000)
  console.log(`${label.padEnd(34)} ${String(Math.round(rate)).padStart(9)} msgs/s  ${(rate * size / 1048576).toFixed(2).padStart(7)} MB/s  ` +
    `(${msgs} msgs in ${(ms / 1000).toFixed(2)} s)  nsqd peak RSS ${rss.toFixed(0)} MB`)
}

if (parts.includes('backlog')) {
  const total = Number(args.backlog)
  const extra = args['nsqd-args'] === '' ? [] : args['nsqd-args'].split(' ')
  console.log(`\n== backlog: ${total} x ${size}-byte messages on one channel, nsqd ${extra.join(' ') || '(defaults)'}`)
  const nsqd = await startNsqd(extra)
  try {
    const http = `http://127.0.0.1:${nsqd.http}`
    await createTopic(http, 'backlog', ['ch'])
    let t = Date.now()
    const published = await publish(nsqd.tcp, 'backlog', total)
    line('write backlog (MPUB 200, 4 conns)', published, Date.now() - t, nsqd.peakRssMb())
    const stats = await (await fetch(`${http}/stats?format=json&topic=backlog&include_clients=false`)).json()
    const ch = stats.topics?.[0]?.channels?.[0]
    if (ch === undefined) throw new Error(`no channel backlog/ch in /stats: ${JSON.stringify(stats).slice(0, 300)}`)
    console.log(`  channel depth ${ch.depth} (memory ${ch.depth - ch.backend_depth}, backend ${ch.backend_depth}), data path ${du(nsqd.dataPath)} MB`)
    nsqd.resetPeak()
    t = Date.now()
    const read = await consume(nsqd.tcp, 'backlog', 'ch', published)
    line('read backlog (RDY 2500, 1 conn)', read, Date.now() - t, nsqd.peakRssMb())
    const [anon, file] = nsqd.rssSplitMb()
    console.log(`  RSS now ${nsqd.rssMb().toFixed(0)} MB (anonymous ${anon.toFixed(0)}, file-backed ${file.toFixed(0)}), data path ${du(nsqd.dataPath)} MB`)
  } finally {
    await nsqd.stop()
  }
}

if (parts.includes('fanout')) {
  const total = Number(args['fanout-backlog'])
  const channels = Array.from({ length: Number(args.channels) }, (_, i) => `ch${i}`)
  const extra = args['nsqd-args'] === '' ? [] : args['nsqd-args'].split(' ')
  console.log(`\n== fan-out: ${total} x ${size}-byte messages to a topic with ${channels.length} channels, read back on all of them at once, nsqd ${extra.join(' ') || '(defaults)'}`)
  const nsqd = await startNsqd(extra)
  try {
    const http = `http://127.0.0.1:${nsqd.http}`
    await createTopic(http, 'fanout', channels)
    let t = Date.now()
    const published = await publish(nsqd.tcp, 'fanout', total)
    line('write (MPUB 200, 4 conns)', published, Date.now() - t, nsqd.peakRssMb())
    console.log(`  ${published * channels.length} channel messages, data path ${du(nsqd.dataPath)} MB`)
    nsqd.resetPeak()
    const stopWatching = nsqd.watchPeak()
    t = Date.now()
    const read = await Promise.all(channels.map((channel) => consume(nsqd.tcp, 'fanout', channel, published)))
    const peak = stopWatching()
    line(`read ${channels.length} channels (RDY 2500 each)`, read.reduce((a, b) => a + b, 0), Date.now() - t, nsqd.peakRssMb())
    console.log(`  file-backed at the readers' peak: ${peak.file.toFixed(0)} of ${peak.rss.toFixed(0)} MB (the node binary is about 40)`)
  } finally {
    await nsqd.stop()
  }
}
