import { execFile } from 'node:child_process'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { describe, expect, expectTypeOf, it } from 'vitest'
import {
  ClosedError, Consumer, ConnectionClosedError, ConnectionError, HttpError, LookupdHttpClient, Message, NsqError,
  NsqdHttpClient, Producer,
} from '../src/index.js'
import type {
  ChannelStats, ClientStats, ConsumerEvents, ConsumerOptions, ConsumerStats, ErrorCode, LookupResponse, LookupdNode,
  MessageBody, MessageHandler, NsqdInfo, NsqdStats, ProducerEvents, ProducerOptions, TopicStats,
} from '../src/index.js'

// These assertions are checked by the compiler: the last test runs tsc over this file, so a change to the public
// API that breaks them fails the suite. Lines marked @ts-expect-error must stay errors.

describe('public API types', () => {
  it('Producer', () => {
    type Address = string | { host: string, port: number }
    expectTypeOf(Producer).constructorParameters.toEqualTypeOf<[Address | readonly Address[], ProducerOptions?]>()
    expectTypeOf<Producer['publish']>().toEqualTypeOf<(topic: string, body: MessageBody) => Promise<void>>()
    expectTypeOf<Producer['publishMany']>().toEqualTypeOf<(topic: string, bodies: readonly MessageBody[]) => Promise<void>>()
    expectTypeOf<Producer['publishDeferred']>().toEqualTypeOf<(topic: string, body: MessageBody, delayMs: number) => Promise<void>>()
    expectTypeOf<Producer['close']>().returns.toEqualTypeOf<Promise<void>>()
    expectTypeOf<Producer['address']>().toEqualTypeOf<string | undefined>()
    expectTypeOf<MessageBody>().toEqualTypeOf<string | Uint8Array>()
    expectTypeOf<ProducerEvents['disconnected']>().toEqualTypeOf<[address: string, error: Error | undefined]>()
    // Only compiled, never run.
    const usage = (p: Producer): void => {
      p.on('connected', (address) => { expectTypeOf(address).toBeString() })
      // @ts-expect-error unknown event names are refused
      p.on('message', () => {})
      // @ts-expect-error bodies are strings or bytes
      p.publish('t', 42).catch(() => {})
    }
    expectTypeOf(usage).toBeFunction()
  })

  it('Consumer', () => {
    expectTypeOf(Consumer).constructorParameters.toEqualTypeOf<[string, string, ConsumerOptions?]>()
    expectTypeOf<Consumer['handle']>().toEqualTypeOf<(handler: MessageHandler, options?: { concurrency?: number }) => Promise<void>>()
    expectTypeOf<MessageHandler>().toEqualTypeOf<(message: Message) => void | Promise<void>>()
    expectTypeOf<Consumer['start']>().returns.toEqualTypeOf<Promise<void>>()
    expectTypeOf<Consumer['close']>().returns.toEqualTypeOf<Promise<void>>()
    expectTypeOf<Consumer['stats']>().returns.toEqualTypeOf<ConsumerStats>()
    expectTypeOf<Consumer['setMaxInFlight']>().toEqualTypeOf<(maxInFlight: number) => void>()
    expectTypeOf<Consumer>().toMatchTypeOf<AsyncIterable<Message>>()
    expectTypeOf<ConsumerStats>().toEqualTypeOf<{
      messagesReceived: number
      messagesFinished: number
      messagesRequeued: number
      messagesDiscarded: number
      connections: number
      inFlight: number
      backoffLevel: number
    }>()
    expectTypeOf<ConsumerEvents['backoff']>().toEqualTypeOf<[level: number, durationMs: number]>()
    expectTypeOf<ConsumerEvents['discard']>().toEqualTypeOf<[message: Message]>()
    expectTypeOf<ConsumerOptions['lookupdHttpAddresses']>().toEqualTypeOf<string | readonly string[] | undefined>()
    expectTypeOf<ConsumerOptions['backoffStrategy']>().toEqualTypeOf<'exponential' | 'full-jitter' | undefined>()
    expectTypeOf<ConsumerOptions['onDiscard']>().toEqualTypeOf<((message: Message) => void | Promise<void>) | undefined>()
    const usage = async (c: Consumer): Promise<void> => {
      c.on('backoff', (level, ms) => { expectTypeOf(level).toBeNumber(); expectTypeOf(ms).toBeNumber() })
      c.on('error', (err) => { expectTypeOf(err).toEqualTypeOf<Error>() })
      // @ts-expect-error the resume event has no arguments
      c.on('resume', (x: number) => x)
      // @ts-expect-error options are typed
      expectTypeOf(new Consumer('t', 'c', { maxInFlight: '10' })).toBeObject()
      for await (const msg of c) expectTypeOf(msg).toEqualTypeOf<Message>()
    }
    expectTypeOf(usage).toBeFunction()
  })

  it('Message', () => {
    expectTypeOf<Message['id']>().toBeString()
    expectTypeOf<Message['body']>().toEqualTypeOf<Buffer>()
    expectTypeOf<Message['attempts']>().toBeNumber()
    expectTypeOf<Message['timestamp']>().toEqualTypeOf<bigint>()
    expectTypeOf<Message['timestampMs']>().toBeNumber()
    expectTypeOf<Message['nsqdAddress']>().toBeString()
    expectTypeOf<Message['responded']>().toBeBoolean()
    expectTypeOf<Message['finish']>().toEqualTypeOf<() => void>()
    expectTypeOf<Message['requeue']>().toEqualTypeOf<(delayMs?: number, options?: { backoff?: boolean }) => void>()
    expectTypeOf<Message['touch']>().toEqualTypeOf<() => void>()
    expectTypeOf<Message['json']>().toEqualTypeOf<<T = unknown>() => T>()
    const usage = (m: Message): void => {
      expectTypeOf(m.json<{ n: number }>()).toEqualTypeOf<{ n: number }>()
      // @ts-expect-error messages are read-only
      m.attempts = 2
    }
    expectTypeOf(usage).toBeFunction()
  })

  it('errors', () => {
    expectTypeOf<NsqError['code']>().toEqualTypeOf<ErrorCode>()
    expectTypeOf<ErrorCode>().toMatchTypeOf<`E_${string}`>()
    expectTypeOf<ConnectionClosedError>().toMatchTypeOf<ConnectionError>()
    expectTypeOf<ConnectionError['address']>().toBeString()
    expectTypeOf<HttpError['status']>().toEqualTypeOf<number | undefined>()
    expectTypeOf<HttpError['nsqMessage']>().toEqualTypeOf<string | undefined>()
    expectTypeOf<ClosedError>().toMatchTypeOf<Error>()
  })

  it('HTTP clients return NSQ\'s shapes', () => {
    expectTypeOf<NsqdHttpClient['info']>().returns.toEqualTypeOf<Promise<NsqdInfo>>()
    expectTypeOf<NsqdHttpClient['stats']>().returns.toEqualTypeOf<Promise<NsqdStats>>()
    expectTypeOf<NsqdStats['topics']>().toEqualTypeOf<TopicStats[] | null>()
    expectTypeOf<TopicStats['channels']>().toEqualTypeOf<ChannelStats[]>()
    expectTypeOf<ChannelStats['clients']>().toEqualTypeOf<ClientStats[] | null>()
    expectTypeOf<ClientStats['ready_count']>().toBeNumber()
    expectTypeOf<NsqdHttpClient['publish']>().toEqualTypeOf<(topic: string, body: MessageBody, options?: { deferMs?: number }) => Promise<void>>()
    expectTypeOf<NsqdHttpClient['pauseChannel']>().toEqualTypeOf<(topic: string, channel: string) => Promise<void>>()
    expectTypeOf<LookupdHttpClient['lookup']>().returns.toEqualTypeOf<Promise<LookupResponse>>()
    expectTypeOf<LookupdHttpClient['nodes']>().returns.toEqualTypeOf<Promise<LookupdNode[]>>()
    expectTypeOf<LookupdHttpClient['topics']>().returns.toEqualTypeOf<Promise<string[]>>()
    expectTypeOf<LookupdHttpClient['tombstoneTopicProducer']>().toEqualTypeOf<(topic: string, node: string) => Promise<void>>()
    expectTypeOf<LookupdNode['tombstones']>().toEqualTypeOf<boolean[]>()
  })

  it('the assertions above hold for the compiler', async () => {
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
    const project = fileURLToPath(new URL('tsconfig.types.json', import.meta.url))
    const output = await new Promise<string>((resolve) => {
      execFile(process.execPath, [tsc, '-p', project], (err, stdout) => { resolve(err === null ? '' : stdout) })
    })
    expect(output).toBe('')
  }, 60_000)
})
