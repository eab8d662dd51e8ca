import { once } from 'node:events'
import { Consumer } from '@nsqts/client'
import type { Message } from '@nsqts/client'
import { createProgram, intOption, parse, repeatable, check } from '../cli/program.js'
import type { Tool, ToolContext } from '../cli/run.js'
import { addConsumerFlags, buildConsumerOptions, checkChannel, checkSources, checkTopic, readConsumerFlags, stderrWarn } from '../cli/sources.js'
import type { ConsumerFlags } from '../cli/sources.js'
import { GracefulStop } from '../cli/shutdown.js'

export interface NsqTailOptions extends ConsumerFlags {
  topics: string[]
  /** Exit after this many messages; 0 = never. */
  total: number
  printTopic: boolean
}

export const nsqTail: Tool<NsqTailOptions> = {
  name: 'nsq_tail',
  parse (args) {
    const made = createProgram('nsq_tail', 'Print the messages of one or more topics to stdout')
    made.program.addOption(repeatable('--topic <topic>', 'NSQ topic'))
    addConsumerFlags(made.program, { maxInFlight: 200 })
    made.program
      .addOption(intOption('-n <n>', 'total messages to show (will wait if starved)', 0))
      .option('--print-topic', 'print topic name where message was received')
    return parse('nsq_tail', made, args, (o) => {
      const options: NsqTailOptions = {
        ...readConsumerFlags(o),
        topics: o.topic as string[],
        total: o.n as number,
        printTopic: o.printTopic === true,
      }
      // NSQ's default: a random ephemeral channel, so a tail never leaves a channel (and its backlog) behind.
      if (options.channel === '') options.channel = `tail${String(Math.floor(Math.random() * 999_999)).padStart(6, '0')}#ephemeral`
      checkSources(options)
      check([options.topics.length === 0, '--topic required'])
      for (const t of options.topics) checkTopic('--topic', t)
      checkChannel(options.channel)
      // Don't ask for more messages than will be shown.
      if (options.total > 0 && options.total < options.maxInFlight) options.maxInFlight = options.total
      buildConsumerOptions('nsq_tail', options, stderrWarn('nsq_tail'))
      return options
    })
  },
  main: runNsqTail,
}

async function runNsqTail (options: NsqTailOptions, { log, stopped }: ToolContext): Promise<number> {
  const clientOptions = { ...buildConsumerOptions('nsq_tail', options, () => {}), logger: log }
  const consumers = options.topics.map((topic) => new Consumer(topic, options.channel, clientOptions))
  let shown = 0
  let done: () => void = () => {}
  const reachedTotal = new Promise<void>((resolve) => { done = resolve })

  const handle = (topic: Buffer) => (message: Message): Promise<void> | undefined => {
    if (options.total > 0 && shown >= options.total) {
      // Another topic's consumer got here first: give the message back for the next reader.
      message.requeue(0, { backoff: false })
      return undefined
    }
    shown++
    const line = options.printTopic
      ? Buffer.concat([topic, message.body, NEWLINE])
      : Buffer.concat([message.body, NEWLINE])
    const flushed = process.stdout.write(line)
    if (options.total > 0 && shown === options.total) done()
    // A slow reader of our stdout slows consumption down instead of growing memory.
    return flushed ? undefined : once(process.stdout, 'drain').then(() => {})
  }
  const graceful = new GracefulStop()
  for (const consumer of consumers) {
    consumer.on('discard', (m) => { log.warn(`${consumer.topic}: message ${m.id} attempted ${m.attempts} times, giving up`) })
    await consumer.handle(graceful.wrap(handle(Buffer.from(`${consumer.topic} | `))))
  }
  await Promise.race([stopped, reachedTotal])
  await graceful.stop(consumers)
  return 0
}

const NEWLINE = Buffer.from('\n')
