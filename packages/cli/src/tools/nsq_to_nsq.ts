import { Option } from 'commander'
import { Consumer, Producer } from '@nsqts/client'
import type { Message } from '@nsqts/client'
import { producerOptions } from '../cli/go-nsq-options.js'
import { createHostPool, parseMode } from '../cli/hostpool.js'
import type { Mode } from '../cli/hostpool.js'
import { check, createProgram, intOption, parse, repeatable } from '../cli/program.js'
import type { Tool, ToolContext } from '../cli/run.js'
import {
  addConsumerFlags, buildConsumerOptions, checkChannel, checkSources, checkTcpAddresses, checkTopic, readConsumerFlags,
  stderrWarn, userAgent,
} from '../cli/sources.js'
import type { ConsumerFlags } from '../cli/sources.js'
import { GracefulStop } from '../cli/shutdown.js'
import { TimerMetrics } from '../cli/timer-metrics.js'
import { JsonFilter } from '../json-filter.js'

export interface NsqToNsqOptions extends ConsumerFlags {
  topics: string[]
  destinationTopic: string
  destinationAddresses: string[]
  mode: Mode
  statusEvery: number
  producerOpts: string[]
  requireJsonField: string
  requireJsonValue: string
  whitelistJsonFields: string[]
}

export const nsqToNsq: Tool<NsqToNsqOptions> = {
  name: 'nsq_to_nsq',
  parse (args) {
    const made = createProgram('nsq_to_nsq', 'Relay the messages of topics to other nsqd nodes')
    made.program.addOption(repeatable('--topic <topic>', 'nsq topic'))
    addConsumerFlags(made.program, { channel: 'nsq_to_nsq', maxInFlight: 200 })
    made.program
      .addOption(new Option('--destination-topic <topic>', 'use this destination topic for all consumed topics (default is consumed topic name)').default(''))
      .addOption(repeatable('--destination-nsqd-tcp-address <addr>', 'destination nsqd TCP address'))
      .addOption(repeatable('--producer-opt <name,value>', 'option to passthrough to the producers (go-nsq Config names)'))
      .addOption(new Option('--mode <mode>', 'the upstream request mode options: round-robin, hostpool (default), epsilon-greedy').default('hostpool'))
      .addOption(intOption('--status-every <n>', 'the # of requests between logging status (per destination), 0 disables', 250))
      .addOption(new Option('--require-json-field <field>', 'for JSON messages: only pass messages that contain this field').default(''))
      .addOption(new Option('--require-json-value <value>', 'for JSON messages: only pass messages in which the required field has this value').default(''))
      .addOption(repeatable('--whitelist-json-field <field>', 'for JSON messages: pass this field'))
    return parse('nsq_to_nsq', made, args, (o) => {
      const flags = readConsumerFlags(o)
      const options: NsqToNsqOptions = {
        ...flags,
        topics: o.topic as string[],
        destinationTopic: o.destinationTopic as string,
        destinationAddresses: o.destinationNsqdTcpAddress as string[],
        mode: 'hostpool',
        statusEvery: o.statusEvery as number,
        producerOpts: o.producerOpt as string[],
        requireJsonField: o.requireJsonField as string,
        requireJsonValue: o.requireJsonValue as string,
        whitelistJsonFields: o.whitelistJsonField as string[],
      }
      check([options.topics.length === 0 || options.channel === '', '--topic and --channel are required'])
      for (const t of options.topics) checkTopic('--topic', t)
      if (options.destinationTopic !== '') checkTopic('--destination-topic', options.destinationTopic)
      checkChannel(options.channel)
      checkSources(options)
      check(
        [options.destinationAddresses.length === 0, '--destination-nsqd-tcp-address required'],
        [options.requireJsonValue !== '' && options.requireJsonField === '', '--require-json-value requires --require-json-field']
      )
      checkTcpAddresses('--destination-nsqd-tcp-address', options.destinationAddresses)
      options.mode = parseMode(o.mode as string)
      buildConsumerOptions('nsq_to_nsq', options, stderrWarn('nsq_to_nsq'))
      producerOptions(options.producerOpts, stderrWarn('nsq_to_nsq'))
      return options
    })
  },
  main: runNsqToNsq,
}

async function runNsqToNsq (options: NsqToNsqOptions, { log, stopped }: ToolContext): Promise<number> {
  const producerConfig = { userAgent: userAgent('nsq_to_nsq'), ...producerOptions(options.producerOpts), logger: log }
  // One producer per destination, each pinned to its node: --mode chooses between them, not the client's failover.
  const producers = new Map(options.destinationAddresses.map((a) => [a, new Producer(a, producerConfig)]))
  const pool = createHostPool(options.mode, options.destinationAddresses)
  const filter = new JsonFilter({
    requireField: options.requireJsonField,
    requireValue: options.requireJsonValue,
    whitelist: options.whitelistJsonFields,
  })
  const aggregate = new TimerMetrics(options.statusEvery, '[aggregate]:', log)
  const perAddress = new Map(options.destinationAddresses.map((a) =>
    [a, new TimerMetrics(options.destinationAddresses.length > 1 ? options.statusEvery : 0, `[${a}]:`, log)]))

  // The handler's promise settles with the destination's answer: the source message is finished only once the
  // destination has queued the copy, and requeued (with backoff) when it refused or the connection failed.
  const relay = (destinationTopic: string) => async (message: Message): Promise<void> => {
    const verdict = filter.apply(message.body)
    if (verdict.kind === 'drop') {
      log.warn(`dropping message ${message.id}: ${verdict.reason}`)
      return
    }
    if (verdict.kind === 'backoff') throw new Error(verdict.reason)
    const started = performance.now()
    const pick = pool.get()
    try {
      await producers.get(pick.host)!.publish(destinationTopic, verdict.body)
    } catch (err) {
      pick.done(false)
      throw new Error(`publish to ${pick.host}: ${(err as Error).message}`)
    }
    pick.done(true)
    aggregate.status(started)
    perAddress.get(pick.host)!.status(started)
  }

  const consumerConfig = { ...buildConsumerOptions('nsq_to_nsq', options, () => {}), logger: log }
  const consumers = options.topics.map((topic) => new Consumer(topic, options.channel, consumerConfig))
  const graceful = new GracefulStop()
  for (const consumer of consumers) {
    consumer.on('discard', (m) => { log.warn(`${consumer.topic}: message ${m.id} attempted ${m.attempts} times, giving up`) })
    // Each message waits in the handler for its publish, so the handlers must cover every message in flight.
    await consumer.handle(graceful.wrap(relay(options.destinationTopic === '' ? consumer.topic : options.destinationTopic)
    ), { concurrency: options.maxInFlight })
  }
  await stopped
  await graceful.stop(consumers)
  await Promise.all([...producers.values()].map((p) => p.close()))
  return 0
}
