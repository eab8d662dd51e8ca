import { createServer } from 'node:net'
import type { AddressInfo, Socket } from 'node:net'
import { describe, expect, it } from 'vitest'
import { NsqError, commands } from '@nsqts/protocol'
import { Connection, ConnectionError, resolveConnectionOptions } from '../src/internal.js'
import { waitFor } from '@nsqts/testkit'
import { cleanup, deferred, nsqd, topicName } from './helpers.js'

/** A TCP peer that is not nsqd (the cases nsqd cannot produce), closed after the test. */
async function peer (onSocket: (socket: Socket) => void): Promise<number> {
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    sockets.add(socket)
    socket.resume()
    onSocket(socket)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanup(() => new Promise((resolve) => {
    for (const socket of sockets) socket.destroy()
    server.close(resolve)
  }))
  return (server.address() as AddressInfo).port
}

function open (port: number, options = {}, onClose: (err: Error | undefined) => void = () => {}): Connection {
  const conn = new Connection({ host: '127.0.0.1', port }, resolveConnectionOptions(options), { onClose })
  cleanup(() => conn.destroy())
  return conn
}

describe('Connection (against nsqd)', () => {
  it('negotiates features with IDENTIFY and reads the limits from the answer', async () => {
    const d = await nsqd({ maxRdyCount: 200, msgTimeout: 30_000 })
    const conn = open(d.tcp.port, { msgTimeoutMs: 5000 })
    const identity = await conn.connect()
    expect(identity.max_rdy_count).toBe(200)
    expect(identity.msg_timeout).toBe(5000)
    expect(conn.isOpen).toBe(true)
  })

  it('answers heartbeats with NOP, so nsqd keeps an idle connection open', async () => {
    const d = await nsqd()
    const closed = deferred<Error | undefined>()
    const conn = open(d.tcp.port, { heartbeatIntervalMs: 1000, readTimeoutMs: 2500 }, closed.resolve)
    await conn.connect()
    // nsqd closes a connection whose heartbeats go unanswered after two intervals; three heartbeats prove NOPs flow.
    await waitFor(() => conn.heartbeats >= 3, 10_000, 'three heartbeats')
    expect(conn.isOpen).toBe(true)
  })

  it('pipelines commands and matches the answers in order', async () => {
    const d = await nsqd()
    const conn = open(d.tcp.port)
    await conn.connect()
    const topic = topicName()
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => conn.command(commands.pub(topic, `m${i}`))))
    expect(answers.every((a) => a.toString() === 'OK')).toBe(true)
    expect(conn.pendingCount).toBe(0)
  })

  it('a fatal error answers its command and fails the ones behind it', async () => {
    const d = await nsqd()
    const closed = deferred<Error | undefined>()
    const conn = open(d.tcp.port, {}, closed.resolve)
    await conn.connect()
    const bad = conn.command(commands.pub('bad!topic', 'x'))
    const behind = conn.command(commands.pub(topicName(), 'y'))
    await expect(bad).rejects.toMatchObject({ code: 'E_BAD_TOPIC' })
    await expect(behind).rejects.toMatchObject({ name: 'ConnectionClosedError' })
    expect(await closed.promise).toBeInstanceOf(NsqError)
  })

  it('rejects with a ConnectionError when nothing listens', async () => {
    const d = await nsqd()
    const port = d.tcp.port
    await d.close()
    await expect(open(port).connect()).rejects.toBeInstanceOf(ConnectionError)
  })

  it('recognises an HTTP server on the other end', async () => {
    const port = await peer((s) => { s.end('HTTP/1.1 400 Bad Request\r\n\r\n') })
    await expect(open(port).connect()).rejects.toThrow(/HTTP/)
  })

  it('drops a connection after the read timeout when nothing arrives', async () => {
    // A peer that accepts and then says nothing, not even an IDENTIFY answer.
    const port = await peer(() => {})
    const started = Date.now()
    await expect(open(port, { heartbeatIntervalMs: 1000, readTimeoutMs: 1200 }).connect()).rejects.toThrow(/read timed out/)
    expect(Date.now() - started).toBeGreaterThanOrEqual(1100)
  })
})
