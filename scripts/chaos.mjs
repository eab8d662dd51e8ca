#!/usr/bin/env node
// Chaos run: 3 nsqd --durable and 2 nsqlookupd on loopback, producers (@nsqts/client, all three nsqd as failover)
// publishing numbered messages with PUB, MPUB and DPUB and retrying every publish that is refused or unanswered,
// consumer processes finding the nodes through both lookupds (finishing, requeueing, letting messages time out), and a
// seeded fault loop. After the faults stop everything drains, and every acknowledged message must have been consumed
// on every channel. `npm run build` first. Usage: node scripts/chaos.mjs [--minutes 10] [--seed 1] [--rate 300]
import { spawn } from 'node:child_process'
import { createWriteStream, mkdtempSync, mkdirSync, rmSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { Consumer, Producer } from '@nsqts/client'

const NSQD_BIN = new URL('../packages/nsqd/dist/bin/nsqd.js', import.meta.url).pathname
const LOOKUPD_BIN = new URL('../packages/lookupd/dist/bin/nsqlookupd.js', import.meta.url).pathname
const SELF = new URL(import.meta.url).pathname

const TOPIC = 'chaos'
const CHANNELS = ['a', 'b']
const CONSUMERS_PER_CHANNEL = 2
const PRODUCERS = 3
const BODY_SIZE = 64
// Clients notice a silent node after READ_TIMEOUT_MS; a SIGSTOP lasts longer than that ("past the heartbeat").
const HEARTBEAT_MS = 1000
const READ_TIMEOUT_MS = 2500
const MSG_TIMEOUT_MS = 2000
// A publish not answered within this long is treated as lost by the application and sent again.
const PUBLISH_TIMEOUT_MS = 5000

/** Small seeded generator (mulberry32): the same seed gives the same fault sequence. */
function prng (seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

if (process.argv[2] === '--consumer') await runConsumer(JSON.parse(process.argv[3]))
else await main()

// ---------------------------------------------------------------------------------------------------------------
// Consumer process: reports every message it is about to finish to the parent and finishes it only once the report
// is written to the IPC pipe, so a kill -9 can cause a redelivery (a duplicate) but never an unreported finish.

async function runConsumer ({ channel, lookupds, seed }) {
  const random = prng(seed)
  let batch = []
  let waiters = []
  let flushTimer
  const flush = () => {
    flushTimer = undefined
    const numbers = batch
    const done = waiters
    batch = []
    waiters = []
    process.send({ channel, numbers }, () => { for (const resolve of done) resolve() })
  }
  const report = (n) => new Promise((resolve) => {
    batch.push(n)
    waiters.push(resolve)
    flushTimer ??= setTimeout(flush, 10)
  })
  const consumer = new Consumer(TOPIC, channel, {
    lookupdHttpAddresses: lookupds,
    lookupdPollIntervalMs: 1000,
    lookupdPollTimeoutMs: 1000,
    maxInFlight: 60,
    heartbeatIntervalMs: HEARTBEAT_MS,
    readTimeoutMs: READ_TIMEOUT_MS,
    msgTimeoutMs: MSG_TIMEOUT_MS,
  })
  consumer.on('error', () => {})
  process.on('disconnect', () => process.exit(0))
  process.on('SIGTERM', () => { consumer.close().finally(() => process.exit(0)) })
  await consumer.handle(async (message) => {
    const n = parseInt(message.body.toString('latin1', 0, 12), 10)
    const r = random()
    if (r < 0.08) {
      message.requeue(Math.floor(random() * 500), { backoff: false })
    } else if (r < 0.11) {
      // A handler slower than the message timeout: nsqd hands the message out again meanwhile, and this late FIN
      // fails, or finishes that new delivery when it came to this same connection. Either way this handler did
      // consume it.
      await sleep(MSG_TIMEOUT_MS + 500)
      await report(n)
    } else {
      await report(n)
    }
  }, { concurrency: 60 })
}

// ---------------------------------------------------------------------------------------------------------------
// Parent: cluster, producers, faults, drain, counts.

async function main () {
  const { values: opts } = parseArgs({
    options: {
      minutes: { type: 'string', default: '10' },
      seed: { type: 'string', default: '1' },
      rate: { type: 'string', default: '300' },
      'drain-timeout': { type: 'string', default: '600' },
      keep: { type: 'boolean', default: false },
      'print-schedule': { type: 'boolean', default: false },
    },
  })
  const minutes = Number(opts.minutes)
  const seed = Number(opts.seed)
  const rate = Number(opts.rate)
  const drainTimeoutMs = Number(opts['drain-timeout']) * 1000
  if (!(minutes > 0) || !Number.isInteger(seed) || !(rate > 0) || !(drainTimeoutMs > 0)) {
    console.error('usage: chaos.mjs [--minutes 10] [--seed 1] [--rate 300] [--drain-timeout 600] [--keep] [--print-schedule]')
    process.exit(2)
  }
  if (opts['print-schedule']) {
    for (const f of faultSchedule(seed, minutes * 60_000)) console.log(`${(f.atMs / 1000).toFixed(1)}s ${f.kind} ${f.target} ${f.ms} ms`)
    return
  }
  const dir = mkdtempSync(join(tmpdir(), 'nsqts-chaos-'))
  mkdirSync(join(dir, 'logs'))
  const t0 = performance.now()
  const stamp = () => `[${((performance.now() - t0) / 1000).toFixed(1).padStart(6)}s]`
  const say = (line) => console.log(`${stamp()} ${line}`)
  const problems = []
  const problem = (line) => { problems.push(line); say(`PROBLEM: ${line}`) }

  const children = new Set()
  let finished = false
  // Whatever way this process ends, the processes it started end with it (SIGCONT first: a stopped one would linger).
  process.on('exit', () => {
    for (const child of children) {
      try { child.kill('SIGCONT'); child.kill('SIGKILL') } catch {}
    }
    if (!opts.keep && finished && problems.length === 0) rmSync(dir, { recursive: true, force: true })
  })
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      console.log(`${stamp()} ${signal}: stopping; logs and data in ${dir}`)
      process.exit(130)
    })
  }

  const ports = await freePorts(2 * 2 + 3 * 3)
  const lookupds = [0, 1].map((i) => new Daemon(`nsqlookupd-${i + 1}`, LOOKUPD_BIN, [
    `--tcp-address=127.0.0.1:${ports[2 * i]}`, `--http-address=127.0.0.1:${ports[2 * i + 1]}`,
    '--broadcast-address=127.0.0.1',
  ]))
  const lookupdTcp = [0, 1].map((i) => `127.0.0.1:${ports[2 * i]}`)
  const lookupdHttp = [0, 1].map((i) => `127.0.0.1:${ports[2 * i + 1]}`)
  const nsqds = [0, 1, 2].map((i) => {
    const [tcp, http, proxy] = ports.slice(4 + 3 * i, 7 + 3 * i)
    const dataPath = join(dir, `nsqd-${i + 1}`)
    mkdirSync(dataPath)
    const d = new Daemon(`nsqd-${i + 1}`, NSQD_BIN, [
      `--tcp-address=127.0.0.1:${tcp}`, `--http-address=127.0.0.1:${http}`, '--broadcast-address=127.0.0.1',
      `--broadcast-tcp-port=${proxy}`, `--data-path=${dataPath}`, '--durable',
      ...lookupdTcp.map((a) => `--lookupd-tcp-address=${a}`),
    ])
    d.httpUrl = `http://127.0.0.1:${http}`
    d.proxy = new Proxy(proxy, tcp)
    return d
  })

  /** A daemon that can be killed, stopped and started again on the same ports and data path. */
  function Daemon (name, bin, args) {
    this.name = name
    this.log = createWriteStream(join(dir, 'logs', `${name}.log`), { flags: 'a' })
    this.child = undefined
    this.exited = Promise.resolve(null)
    this.lock = Promise.resolve()
    this.start = async () => {
      for (let attempt = 1; ; attempt++) {
        const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
        children.add(child)
        this.child = child
        this.exited = new Promise((resolve) => child.once('exit', (code, signal) => {
          children.delete(child)
          resolve(code ?? signal)
        }))
        let seen = ''
        const up = await new Promise((resolve) => {
          // Generous: on a machine loaded by other work a start has been seen to take over 30 s.
          const timer = setTimeout(() => resolve(false), 120_000)
          child.stderr.on('data', (chunk) => {
            this.log.write(chunk)
            if (seen !== undefined) {
              seen += chunk.toString()
              if (/TCP: listening/.test(seen) && /HTTP: listening/.test(seen)) {
                seen = undefined
                clearTimeout(timer)
                resolve(true)
              }
            }
          })
          void this.exited.then(() => { clearTimeout(timer); resolve(false) })
        })
        if (up) return
        child.kill('SIGKILL')
        const how = await this.exited
        problem(`${name} did not start (attempt ${attempt}, exit ${how}); see ${join(dir, 'logs', `${name}.log`)}`)
        if (attempt === 3) throw new Error(`${name} does not start`)
        await sleep(1000)
      }
    }
    this.signal = (signal) => { this.child?.kill(signal) }
  }

  /**
   * Clients reach each nsqd through a loopback proxy (nsqd registers the proxy's port with the lookupds), so that
   * a fault can cut every client connection of a node at once, as a network failure would.
   */
  function Proxy (port, upstreamPort) {
    const pairs = new Set()
    this.server = createServer((client) => {
      const upstream = connect(upstreamPort, '127.0.0.1')
      const pair = { client, upstream }
      pairs.add(pair)
      const end = () => {
        pairs.delete(pair)
        client.destroy()
        upstream.destroy()
      }
      client.on('error', end).on('close', end)
      upstream.on('error', end).on('close', end)
      client.pipe(upstream)
      upstream.pipe(client)
    })
    this.listen = () => new Promise((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(port, '127.0.0.1', resolve)
    })
    /** Resets every client connection and its nsqd side; returns how many there were. */
    this.dropAll = () => {
      const count = pairs.size
      for (const pair of [...pairs]) {
        pairs.delete(pair)
        pair.client.resetAndDestroy()
        pair.upstream.resetAndDestroy()
      }
      return count
    }
    this.close = () => { this.dropAll(); this.server.close() }
  }

  say(`seed ${seed}, ${minutes} min of faults, ${rate} msgs/s; data and logs in ${dir}`)
  await Promise.all(lookupds.map((d) => d.start()))
  await Promise.all(nsqds.map(async (d) => {
    await d.proxy.listen()
    await d.start()
    // Channels exist before the first publish on every node, so that each channel gets every message.
    for (const path of [`/topic/create?topic=${TOPIC}`, ...CHANNELS.map((c) => `/channel/create?topic=${TOPIC}&channel=${c}`)]) {
      const res = await fetch(`${d.httpUrl}${path}`, { method: 'POST' })
      if (res.status !== 200) throw new Error(`${d.name}: ${path} ${res.status} ${await res.text()}`)
    }
  }))
  say(`cluster up: ${nsqds.map((d) => `${d.name} ${d.httpUrl}`).join(', ')}; lookupds ${lookupdHttp.join(', ')}`)

  // ---- consumers ----
  /** Per channel: message number -> times finished. */
  const finishes = new Map(CHANNELS.map((c) => [c, new Map()]))
  let consumerSeed = seed * 1000
  const consumers = []
  for (const channel of CHANNELS) {
    for (let i = 0; i < CONSUMERS_PER_CHANNEL; i++) {
      const name = `consumer-${channel}${i + 1}`
      const c = {
        name,
        channel,
        lock: Promise.resolve(),
        log: createWriteStream(join(dir, 'logs', `${name}.log`), { flags: 'a' }),
        child: undefined,
        exited: Promise.resolve(),
      }
      c.start = () => {
        const child = spawn(process.execPath, [SELF, '--consumer',
          JSON.stringify({ channel, lookupds: lookupdHttp, seed: consumerSeed++ })],
        { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] })
        children.add(child)
        c.child = child
        c.exited = new Promise((resolve) => child.once('exit', () => { children.delete(child); resolve() }))
        child.stdout.pipe(c.log, { end: false })
        child.stderr.pipe(c.log, { end: false })
        child.on('message', ({ channel: ch, numbers }) => {
          const seen = finishes.get(ch)
          for (const n of numbers) seen.set(n, (seen.get(n) ?? 0) + 1)
        })
      }
      c.start()
      consumers.push(c)
    }
  }

  // ---- producers ----
  const acked = new Set()
  const counts = { publishes: 0, retries: 0, refused: 0, unanswered: 0 }
  let nextNumber = 0
  /** Publishes not yet answered OK, and whether new ones are still made (shared with the send callbacks). */
  const flow = { outstanding: 0, producing: true }
  const workload = prng(seed + 7919)
  const body = (n) => Buffer.from(String(n).padEnd(BODY_SIZE, '.'))
  const producers = Array.from({ length: PRODUCERS }, (_, i) => {
    // Each starts on a different node; all three are its failover addresses.
    const addresses = [0, 1, 2].map((k) => `127.0.0.1:${nsqds[(i + k) % 3].proxy.server.address().port}`)
    const p = new Producer(addresses, {
      heartbeatIntervalMs: HEARTBEAT_MS, readTimeoutMs: READ_TIMEOUT_MS, dialTimeoutMs: 1000,
    })
    p.on('error', () => {})
    return p
  })
  const send = (producer, op) => {
    counts.publishes++
    const attempt = op.kind === 'mpub'
      ? producer.publishMany(TOPIC, op.numbers.map(body))
      : op.kind === 'dpub'
        ? producer.publishDeferred(TOPIC, body(op.numbers[0]), op.delayMs)
        : producer.publish(TOPIC, body(op.numbers[0]))
    // An answer that comes after the application gave up still means nsqd stored the message.
    attempt.then(() => { for (const n of op.numbers) acked.add(n) }, () => {})
    let timer
    const timeout = new Promise((resolve) => { timer = setTimeout(() => resolve('unanswered'), PUBLISH_TIMEOUT_MS) })
    Promise.race([attempt.then(() => 'ok', () => 'refused'), timeout]).then((outcome) => {
      clearTimeout(timer)
      if (outcome === 'ok') {
        flow.outstanding--
        return
      }
      counts[outcome]++
      counts.retries++
      setTimeout(() => send(producer, op), 200)
    })
  }
  const produceLoop = (async () => {
    const started = performance.now()
    let issued = 0
    let turn = 0
    while (flow.producing) {
      const due = Math.floor(((performance.now() - started) / 1000) * rate)
      while (issued < due && flow.outstanding < 64 * PRODUCERS) {
        const r = workload()
        const kind = r < 0.45 ? 'pub' : r < 0.8 ? 'mpub' : 'dpub'
        const size = kind === 'mpub' ? 10 : 1
        const numbers = Array.from({ length: size }, () => nextNumber++)
        const op = { kind, numbers, delayMs: Math.floor(workload() * 1500) }
        flow.outstanding++
        issued += size
        send(producers[turn++ % PRODUCERS], op)
      }
      await sleep(20)
    }
  })()

  // ---- faults ----
  const schedule = faultSchedule(seed, minutes * 60_000)
  const startupMs = performance.now() - t0
  const faultRun = (async () => {
    const running = []
    for (const [index, fault] of schedule.entries()) {
      const wait = fault.atMs - (performance.now() - t0 - startupMs)
      if (wait > 0) await sleep(wait)
      const target = [...nsqds, ...lookupds, ...consumers].find((t) => t.name === fault.target)
      const run = target.lock.then(() => applyFault(index + 1, fault, target)).catch((err) => problem(`fault ${index + 1}: ${err.message}`))
      target.lock = run
      running.push(run)
    }
    await Promise.all(running)
  })()

  async function applyFault (number, fault, target) {
    const head = `fault ${number}: ${fault.kind.replace(/-/, ' ')} ${target.name}`
    switch (fault.kind) {
      case 'nsqd-kill9':
      case 'lookupd-kill9': {
        say(`${head}: kill -9, restart after ${fault.ms} ms`)
        target.signal('SIGKILL')
        await target.exited
        await sleep(fault.ms)
        await target.start()
        say(`${head}: restarted`)
        break
      }
      case 'nsqd-term':
      case 'lookupd-term': {
        say(`${head}: SIGTERM, restart after ${fault.ms} ms`)
        target.signal('SIGTERM')
        const code = await Promise.race([target.exited, sleep(30_000).then(() => 'hung')])
        if (code === 'hung') {
          problem(`${target.name} did not exit within 30 s of SIGTERM`)
          target.signal('SIGKILL')
          await target.exited
        } else if (code !== 0) {
          problem(`${target.name} exited ${code} after SIGTERM`)
        }
        await sleep(fault.ms)
        await target.start()
        say(`${head}: restarted`)
        break
      }
      case 'nsqd-stop':
      case 'lookupd-stop': {
        say(`${head}: SIGSTOP for ${fault.ms} ms`)
        target.signal('SIGSTOP')
        await sleep(fault.ms)
        target.signal('SIGCONT')
        say(`${head}: SIGCONT`)
        break
      }
      case 'consumer-kill': {
        say(`${head}: kill -9, restart after ${fault.ms} ms`)
        target.child.kill('SIGKILL')
        await target.exited
        await sleep(fault.ms)
        target.start()
        break
      }
      case 'connections-drop': {
        say(`${head}: reset ${target.proxy.dropAll()} client connections`)
        break
      }
    }
  }

  await faultRun
  say(`faults over (${schedule.length}); stopping producers`)
  flow.producing = false
  await produceLoop
  const drainStart = performance.now()
  const deadline = drainStart + drainTimeoutMs
  while (flow.outstanding > 0 && performance.now() < deadline) await sleep(100)
  if (flow.outstanding > 0) problem(`${flow.outstanding} publishes still unanswered ${drainTimeoutMs / 1000} s after the faults stopped`)
  say(`${acked.size} acknowledged (${nextNumber} numbers published); draining`)

  // Drained: every acknowledged number finished on every channel, and nothing left queued, in flight or deferred.
  const missingOn = (channel) => {
    const seen = finishes.get(channel)
    let missing = 0
    for (const n of acked) if (!seen.has(n)) missing++
    return missing
  }
  const leftOnNodes = async () => {
    let left = 0
    for (const d of nsqds) {
      const res = await fetch(`${d.httpUrl}/stats?format=json&topic=${TOPIC}&include_clients=false`, { signal: AbortSignal.timeout(2000) })
      const stats = await res.json()
      for (const topic of stats.topics ?? []) {
        left += topic.depth
        for (const c of topic.channels) left += c.depth + c.in_flight_count + c.deferred_count
      }
    }
    return left
  }
  let drained = false
  let lastReport = 0
  while (performance.now() < deadline) {
    const missing = CHANNELS.reduce((sum, c) => sum + missingOn(c), 0)
    const left = missing === 0 ? await leftOnNodes().catch(() => -1) : -1
    if (missing === 0 && left === 0) {
      drained = true
      break
    }
    if (performance.now() - lastReport > 10_000) {
      lastReport = performance.now()
      say(`draining: ${missing} acknowledged not yet consumed${left > 0 ? `, ${left} left on the nodes` : ''}`)
    }
    await sleep(250)
  }
  const drainSeconds = (performance.now() - drainStart) / 1000
  if (!drained) {
    problem(`not drained ${drainTimeoutMs / 1000} s after the faults stopped`)
    for (const channel of CHANNELS) {
      const seen = finishes.get(channel)
      const missing = [...acked].filter((n) => !seen.has(n))
      if (missing.length > 0) say(`channel ${channel}: acknowledged, never consumed: ${missing.slice(0, 20).join(' ')}${missing.length > 20 ? ' ...' : ''}`)
    }
    for (const d of nsqds) {
      const stats = await fetch(`${d.httpUrl}/stats?format=json&topic=${TOPIC}`, { signal: AbortSignal.timeout(2000) }).then((r) => r.json()).catch((err) => err.message)
      const topics = typeof stats === 'string' ? stats : (stats.topics ?? []).map((t) => ({ depth: t.depth, channels: t.channels.map((c) => ({ channel: c.channel_name, depth: c.depth, inFlight: c.in_flight_count, deferred: c.deferred_count, clients: c.clients.length })) }))
      say(`${d.name}: ${JSON.stringify(topics)}`)
    }
  }

  const result = {
    seed,
    minutes,
    rate,
    faults: schedule.length,
    acknowledged: acked.size,
    channels: {},
    lost: 0,
    duplicates: 0,
    drainSeconds: drained ? Number(drainSeconds.toFixed(1)) : null,
    ...counts,
  }
  for (const channel of CHANNELS) {
    const seen = finishes.get(channel)
    let duplicates = 0
    let unacknowledged = 0
    for (const [n, times] of seen) {
      duplicates += times - 1
      if (!acked.has(n)) unacknowledged++
    }
    const lost = missingOn(channel)
    result.channels[channel] = { consumed: seen.size, lost, duplicates, consumedNotAcknowledged: unacknowledged }
    result.lost += lost
    result.duplicates += duplicates
  }

  for (const p of producers) p.close().catch(() => {})
  await Promise.all(consumers.map((c) => { c.child.kill('SIGTERM'); return Promise.race([c.exited, sleep(10_000)]) }))
  await Promise.all([...nsqds, ...lookupds].map(async (d) => {
    d.signal('SIGCONT')
    d.signal('SIGTERM')
    const code = await Promise.race([d.exited, sleep(30_000).then(() => 'hung')])
    if (code !== 0) problem(`${d.name}: exit ${code} at the final SIGTERM`)
  }))
  for (const d of nsqds) d.proxy.close()

  console.log('')
  console.log(`seed:                             ${seed}`)
  console.log(`faults:                           ${schedule.length} in ${minutes} min`)
  console.log(`publishes:                        ${counts.publishes} (${counts.retries} retries: ${counts.refused} refused, ${counts.unanswered} unanswered)`)
  console.log(`acknowledged:                     ${acked.size} per channel, ${CHANNELS.length} channels`)
  for (const channel of CHANNELS) {
    const c = result.channels[channel]
    console.log(`channel ${channel}: consumed ${c.consumed}, acknowledged but never consumed ${c.lost}, duplicates ${c.duplicates}, consumed though not acknowledged ${c.consumedNotAcknowledged}`)
  }
  console.log(`consumed:                         ${CHANNELS.reduce((s, c) => s + result.channels[c].consumed, 0)}`)
  console.log(`acknowledged but never consumed:  ${result.lost}`)
  console.log(`duplicates:                       ${result.duplicates}`)
  console.log(`time to drain:                    ${drained ? `${drainSeconds.toFixed(1)} s` : 'did not drain'}`)
  for (const p of problems) console.log(`problem: ${p}`)
  console.log(`RESULT ${JSON.stringify(result)}`)
  finished = true
  const ok = drained && result.lost === 0 && problems.length === 0
  if (!ok) console.log(`FAILED; logs and data kept in ${dir}`)
  process.exit(ok ? 0 : 1)
}

/**
 * The fault sequence for a seed: when (ms after the start), what, on which target, and for how long. It depends on
 * the seed and the length of the run only, so a failing seed replays the same faults.
 */
function faultSchedule (seed, totalMs) {
  const random = prng(seed)
  const kinds = [
    ['nsqd-kill9', 3], ['nsqd-term', 2], ['nsqd-stop', 2],
    ['lookupd-kill9', 1], ['lookupd-term', 1], ['lookupd-stop', 1],
    ['consumer-kill', 2], ['connections-drop', 2],
  ]
  const weight = kinds.reduce((s, [, w]) => s + w, 0)
  const schedule = []
  for (let at = 2000 + random() * 2000; at < totalMs; at += 1000 + random() * 3000) {
    let pick = random() * weight
    const [kind] = kinds.find(([, w]) => (pick -= w) < 0)
    const consumerNames = CHANNELS.flatMap((c) => Array.from({ length: CONSUMERS_PER_CHANNEL }, (_, i) => `consumer-${c}${i + 1}`))
    const pool = kind.startsWith('lookupd') ? ['nsqlookupd-1', 'nsqlookupd-2'] : kind === 'consumer-kill' ? consumerNames : ['nsqd-1', 'nsqd-2', 'nsqd-3']
    const target = pool[Math.floor(random() * pool.length)]
    // A SIGSTOP outlasts the clients' read timeout; a restart comes after a short outage.
    const ms = kind.endsWith('stop') ? Math.round(READ_TIMEOUT_MS + 500 + random() * 2500) : Math.round(200 + random() * 2800)
    schedule.push({ atMs: Math.round(at), kind, target, ms })
  }
  return schedule
}

/**
 * Free ports below the ephemeral range. The daemons are restarted on their ports, and while one is down a client
 * dialling it can be given that very port as its own (a TCP self-connect, or just any outgoing connection), which
 * then keeps the daemon from listening again: ports outside the ephemeral range are never handed out that way.
 */
async function freePorts (count) {
  const range = await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').catch(() => '32768 60999')
  const low = Number(range.trim().split(/\s+/)[0])
  const ports = []
  while (ports.length < count) {
    const port = 10_000 + Math.floor(Math.random() * Math.max(1, low - 10_000))
    if (ports.includes(port)) continue
    const free = await new Promise((resolve) => {
      const s = createServer()
      s.once('error', () => resolve(false))
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)))
    })
    if (free) ports.push(port)
  }
  return ports
}
