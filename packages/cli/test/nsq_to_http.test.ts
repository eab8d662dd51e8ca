import { createServer } from 'node:http'
import type { IncomingHttpHeaders, Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest'
import { NsqdHttpClient } from '@nsqts/client'
import { startNsqd, waitFor } from '@nsqts/testkit'
import type { NsqdHandle } from '@nsqts/testkit'
import { killAll, runTool, waitForChannel } from './helpers.js'
import { parseHeaders } from '../src/tools/nsq_to_http.js'

interface Received {
  method: string
  url: string
  headers: IncomingHttpHeaders
  body: string
}

let nsqd: NsqdHandle
let server: Server
let base: string
const received: Received[] = []
/** Requests to /slow wait here until the test lets them go. */
const held: Array<() => void> = []

beforeAll(async () => {
  nsqd = await startNsqd()
  server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString()
      received.push({ method: req.method!, url: req.url!, headers: req.headers, body })
      if (req.url!.startsWith('/fail')) res.writeHead(503).end('unavailable')
      else if (req.url!.startsWith('/slow')) held.push(() => res.writeHead(200).end())
      else res.writeHead(req.url!.startsWith('/created') ? 201 : 200).end('ok')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterEach(async () => {
  await killAll()
  received.length = 0
})
afterAll(async () => {
  for (const release of held.splice(0)) release()
  server?.closeAllConnections()
  await new Promise((resolve) => server?.close(resolve))
  await nsqd?.close()
})

const fast = ['--consumer-opt=backoff_multiplier,10ms', '--consumer-opt', 'default_requeue_delay,0', '--consumer-opt=max_attempts,0']

test('POST round-robin over a healthy and a failing endpoint: failures are requeued until every message got through', async () => {
  const bodies = Array.from({ length: 20 }, (_, i) => `message ${i}`)
  await new NsqdHttpClient(nsqd.httpUrl).publishMany('http_post', bodies)
  const tool = runTool('nsq_to_http', ['--topic', 'http_post', '--nsqd-tcp-address', nsqd.tcpAddress,
    '--post', `${base}/created`, '--post', `${base}/fail`, '--mode', 'round-robin', '-n', '4',
    '--header', 'X-Test: yes', '--content-type', 'text/plain', '--status-every', '5', ...fast])

  await waitFor(() => new Set(received.filter((r) => r.url === '/created').map((r) => r.body)).size === 20, 15_000,
    () => `all 20 bodies at /created; stderr:\n${tool.stderr}`)
  const channel = await waitForChannel(nsqd.httpUrl, 'http_post', 'nsq_to_http', (c) => c.in_flight_count === 0 && c.depth === 0, 'drained')
  const failed = received.filter((r) => r.url === '/fail').length
  expect(failed).toBeGreaterThan(0)
  expect(channel.requeue_count).toBe(failed)

  const ok = received.find((r) => r.url === '/created')!
  expect(ok.method).toBe('POST')
  expect(ok.headers['content-type']).toBe('text/plain')
  expect(ok.headers['x-test']).toBe('yes')
  expect(ok.headers['user-agent']).toBe('nsq_to_http v1.3.0')
  expect(tool.stderr).toMatch(/\[aggregate\]: finished 5 - 99th: [\d.]+ms - 95th: [\d.]+ms - avg: [\d.]+ms/)
  expect(tool.stderr).toMatch(/got status code 503/)
  expect(await tool.stop()).toEqual({ code: 0, signal: null })
})

test('--header takes __proto__ as a header name like any other', () => {
  const headers = parseHeaders(['__proto__: p', 'X-A: b'])
  expect(Object.keys(headers)).toEqual(['__proto__', 'X-A'])
  expect(Object.getOwnPropertyDescriptor(headers, '__proto__')?.value).toBe('p')
})

test('GET with %s sends the url-escaped body; SIGTERM requeues what was taken but not sent, after the request under way', async () => {
  await new NsqdHttpClient(nsqd.httpUrl).publishMany('http_get', ['a b&c=d/é', 'second', 'third', 'fourth'])
  const tool = runTool('nsq_to_http', ['--topic', 'http_get', '--nsqd-tcp-address', nsqd.tcpAddress,
    '--get', `${base}/slow?data=%s`, '-n', '1', '--max-in-flight', '4'])
  await waitFor(() => held.length === 1, 10_000, () => `a held request; stderr:\n${tool.stderr}`)
  // One request under way, the other three messages taken by the consumer and waiting for the handler.
  await waitForChannel(nsqd.httpUrl, 'http_get', 'nsq_to_http', (c) => c.in_flight_count === 4, '4 in flight')
  expect(received[0]!.method).toBe('GET')
  expect(received[0]!.url).toBe('/slow?data=a+b%26c%3Dd%2F%C3%A9')

  tool.child.kill('SIGTERM')
  await tool.waitForOutput(/SIGTERM: stopping/)
  held.shift()!()
  expect(await tool.exit()).toEqual({ code: 0, signal: null })
  const channel = await waitForChannel(nsqd.httpUrl, 'http_get', 'nsq_to_http', (c) => c.client_count === 0, 'disconnected')
  expect(channel.in_flight_count).toBe(0)
  expect(channel.depth).toBe(3)
  expect(received).toHaveLength(1)
})
