import { describe, it, expect, afterEach } from 'vitest'
import { createSocket, type Socket } from 'node:dgram'
import type { AddressInfo } from 'node:net'
import { commands, decodeMessage, FrameType, type Logger } from '@nsqts/protocol'
import { startNsqd, RawConn, waitFor, type NsqdHandle } from '@nsqts/testkit'
import { memoryBackendFactory } from '@nsqts/nsqd/internal'

interface Metric { value: number, type: string }

/** A statsd stand-in: keeps every packet, and hands them out grouped into pushes. */
class Receiver {
  readonly packets: Buffer[] = []
  private read = 0
  private wake: (() => void) | undefined

  private constructor (readonly socket: Socket) {
    socket.on('message', (packet) => {
      this.packets.push(packet)
      this.wake?.()
    })
  }

  static async open (): Promise<Receiver> {
    const socket = createSocket('udp4')
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
    return new Receiver(socket)
  }

  get port (): number {
    return (this.socket.address() as AddressInfo).port
  }

  /** Forgets what arrived so far. */
  skip (): void {
    this.read = this.packets.length
  }

  /**
   * The packets up to the next one whose last line is `last` (the last key a push sends: a push's packets leave
   * together and loopback keeps their order), with its lines parsed; fails after timeoutMs.
   */
  async push (
    prefix: string, last: string, timeoutMs = 5000,
  ): Promise<{ packets: Buffer[], metrics: Map<string, Metric> }> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const end = this.packets.findIndex((p, i) => i >= this.read && endsWithKey(p, prefix, last))
      if (end !== -1) {
        const packets = this.packets.slice(this.read, end + 1)
        this.read = end + 1
        return { packets, metrics: parse(packets, prefix) }
      }
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no statsd push ending in ${last} within ${timeoutMs} ms`)
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left)
        this.wake = () => { clearTimeout(t); resolve() }
      })
    }
  }

  close (): void {
    this.socket.close()
  }
}

function endsWithKey (packet: Buffer, prefix: string, key: string): boolean {
  const lines = packet.toString().split('\n')
  const last = lines[lines.length - 2]
  return last?.startsWith(`${prefix}${key}:`) === true
}

function parse (packets: Buffer[], prefix: string): Map<string, Metric> {
  const metrics = new Map<string, Metric>()
  for (const packet of packets) {
    const text = packet.toString()
    expect(text.endsWith('\n')).toBe(true)
    for (const line of text.slice(0, -1).split('\n')) {
      const m = /^(.+):(-?\d+)\|(c|g)$/.exec(line)
      if (m === null) throw new Error(`not a statsd line: ${line}`)
      const [, key, value, type] = m as unknown as [string, string, string, string]
      expect(key.startsWith(prefix)).toBe(true)
      metrics.set(key.slice(prefix.length), { value: Number(value), type })
    }
  }
  return metrics
}

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn()
})

async function setup (init: Parameters<typeof startNsqd>[0] = {}): Promise<{ rx: Receiver, d: NsqdHandle }> {
  const rx = await Receiver.open()
  cleanups.push(() => rx.close())
  const d = await startNsqd({ statsdAddress: `127.0.0.1:${rx.port}`, statsdInterval: 200, backendFactory: memoryBackendFactory, ...init })
  cleanups.push(() => d.close())
  return { rx, d }
}

async function open (d: NsqdHandle): Promise<RawConn> {
  const conn = await RawConn.open(d.tcp)
  cleanups.push(() => conn.close())
  return conn
}

/** Pushes until `done` holds, adding each push's counters into `sums`; returns the push that satisfied it. */
async function pushesUntil (
  rx: Receiver, prefix: string, sums: Map<string, number>, done: (m: Map<string, Metric>) => boolean,
): Promise<Map<string, Metric>> {
  const deadline = Date.now() + 5000
  for (;;) {
    const { metrics } = await rx.push(prefix, 'mem.gc_runs', deadline - Date.now())
    for (const [key, { value, type }] of metrics) if (type === 'c') sums.set(key, (sums.get(key) ?? 0) + value)
    if (done(metrics)) return metrics
  }
}

describe('nsqd statsd', () => {
  it('pushes counters as deltas, gauges, latency percentiles and memory stats under the host prefix, in bounded packets', async () => {
    const { rx, d } = await setup({ statsdUdpPacketSize: 128, e2eProcessingLatencyPercentiles: [1, 0.5] })
    const prefix = `nsq.127_0_0_1_${d.http.port}.`
    const ch = 'topic.st.channel.c'

    const sub = await open(d)
    sub.write(commands.sub('st', 'c'))
    expect(await sub.expect(FrameType.Response)).toBe('OK')
    sub.write(commands.rdy(3))
    const pub = await open(d)
    pub.write(commands.mpub('st', ['a', 'bb', 'ccc']))
    expect(await pub.expect(FrameType.Response)).toBe('OK')
    const ids: string[] = []
    for (let i = 0; i < 3; i++) ids.push(decodeMessage((await sub.frame()).data).id)
    sub.write(commands.fin(ids[0] as string))
    sub.write(commands.fin(ids[1] as string))
    sub.write(commands.req(ids[2] as string, 0))
    expect(decodeMessage((await sub.frame()).data).id).toBe(ids[2])
    sub.write(commands.fin(ids[2] as string))

    // Summed over however many intervals it took, the counters come to the totals.
    const sums = new Map<string, number>()
    await pushesUntil(rx, prefix, sums, (m) =>
      sums.get('topic.st.message_count') === 3 && sums.get(`${ch}.requeue_count`) === 1 && m.get(`${ch}.in_flight_count`)?.value === 0)
    expect(sums.get('topic.st.message_bytes')).toBe(6)
    expect(sums.get(`${ch}.message_count`)).toBe(3)
    expect(sums.get(`${ch}.timeout_count`)).toBe(0)

    // Nothing happened since: every counter of the next interval is 0, the gauges still describe the state.
    const { packets: quietPackets, metrics: quiet } = await rx.push(prefix, 'mem.gc_runs')
    for (const key of ['topic.st.message_count', 'topic.st.message_bytes', `${ch}.message_count`, `${ch}.requeue_count`, `${ch}.timeout_count`]) {
      expect(quiet.get(key)).toEqual({ value: 0, type: 'c' })
    }
    expect(quiet.get('topic.st.depth')).toEqual({ value: 0, type: 'g' })
    expect(quiet.get('topic.st.backend_depth')).toEqual({ value: 0, type: 'g' })
    expect(quiet.get(`${ch}.clients`)).toEqual({ value: 1, type: 'g' })
    for (const key of ['topic.st', ch].flatMap((k) => [`${k}.e2e_processing_latency_100`, `${k}.e2e_processing_latency_50`])) {
      expect(quiet.get(key)?.type).toBe('g')
    }
    for (const key of ['heap_objects', 'heap_idle_bytes', 'heap_in_use_bytes', 'heap_released_bytes', 'gc_pause_usec_100', 'gc_pause_usec_99', 'gc_pause_usec_95', 'next_gc_bytes']) {
      expect(quiet.get(`mem.${key}`)?.type).toBe('g')
    }
    expect(quiet.get('mem.heap_in_use_bytes')?.value).toBeGreaterThan(0)
    expect(quiet.get('mem.gc_runs')?.type).toBe('c')

    // Second round, with the consumer gone: only the new messages are counted, and they show in the gauges.
    sub.close()
    await waitFor(() => d.nsqd.getExistingTopic('st')?.channels.get('c')?.clientCount === 0, 5000, 'consumer gone')
    pub.write(commands.mpub('st', ['dddd', 'eeeee']))
    expect(await pub.expect(FrameType.Response)).toBe('OK')
    pub.write(commands.dpub('st', 60_000, 'f'))
    expect(await pub.expect(FrameType.Response)).toBe('OK')
    sums.clear()
    const after = await pushesUntil(rx, prefix, sums, (m) => m.get(`${ch}.deferred_count`)?.value === 1 && m.get(`${ch}.depth`)?.value === 2)
    expect(sums.get('topic.st.message_count')).toBe(3)
    expect(sums.get('topic.st.message_bytes')).toBe(10)
    expect(sums.get(`${ch}.message_count`)).toBe(3)
    expect(after.get(`${ch}.clients`)).toEqual({ value: 0, type: 'g' })

    // Every packet holds whole lines within --statsd-udp-packet-size, so a push takes several.
    expect(quietPackets.length).toBeGreaterThan(1)
    for (const packet of rx.packets) {
      expect(packet.length).toBeLessThanOrEqual(128)
      expect(packet.toString().endsWith('\n')).toBe(true)
    }
  })

  it('leaves ephemeral topics and channels out with --statsd-exclude-ephemeral, and mem.* out without --statsd-mem-stats', async () => {
    const { rx, d } = await setup({ statsdPrefix: 'custom', statsdExcludeEphemeral: true, statsdMemStats: false })
    const conn = await open(d)
    conn.write(commands.pub('eph#ephemeral', 'x'))
    expect(await conn.expect(FrameType.Response)).toBe('OK')
    const durable = await open(d)
    durable.write(commands.sub('keep', 'durable'))
    expect(await durable.expect(FrameType.Response)).toBe('OK')
    const ephemeral = await open(d)
    ephemeral.write(commands.sub('keep', 'c#ephemeral'))
    expect(await ephemeral.expect(FrameType.Response)).toBe('OK')
    expect(d.nsqd.getExistingTopic('eph#ephemeral')).toBeDefined()

    // Topics and channels go out sorted by name: the durable channel's clients gauge ends every push.
    rx.skip()
    await rx.push('custom.', 'topic.keep.channel.durable.clients')
    const { metrics } = await rx.push('custom.', 'topic.keep.channel.durable.clients')
    expect(metrics.get('topic.keep.message_count')?.type).toBe('c')
    expect(metrics.get('topic.keep.channel.durable.clients')).toEqual({ value: 1, type: 'g' })
    const keys = [...metrics.keys()]
    expect(keys.filter((k) => k.includes('#ephemeral') || k.startsWith('mem.'))).toEqual([])
  })

  it('logs what stops a push and keeps serving', async () => {
    const errors: string[] = []
    const logger: Logger = { debug () {}, info () {}, warn () {}, error (msg) { errors.push(msg) } }
    const d = await startNsqd({ statsdAddress: '127.0.0.1', statsdInterval: 50, backendFactory: memoryBackendFactory, logger })
    cleanups.push(() => d.close())
    await waitFor(() => errors.length > 0, 5000, 'a statsd error')
    expect(errors[0]).toMatch(/^STATSD: failed to push to 127\.0\.0\.1 - /)
    const conn = await open(d)
    conn.write(commands.pub('t', 'x'))
    expect(await conn.expect(FrameType.Response)).toBe('OK')
  })
})
