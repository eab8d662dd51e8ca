import { Option } from 'commander'
import { Consumer, LookupdHttpClient } from '@nsqts/client'
import { parseLogLevel } from '@nsqts/protocol'
import type { LogLevelName } from '@nsqts/protocol'
import { CliError, check, createProgram, durationOption, intOption, parse, repeatable } from '../cli/program.js'
import type { Tool, ToolContext } from '../cli/run.js'
import { addConsumerFlags, buildConsumerOptions, checkChannel, checkSources, checkTopic, readConsumerFlags, stderrWarn } from '../cli/sources.js'
import type { ConsumerFlags } from '../cli/sources.js'
import { TopicFileLogger, topicFilenameFormat } from '../file/file-logger.js'
import type { FileLoggerOptions } from '../file/file-logger.js'
import { GracefulStop } from '../cli/shutdown.js'

export interface NsqToFileOptions extends ConsumerFlags {
  topics: string[]
  topicPattern: RegExp | undefined
  topicRefreshMs: number
  syncIntervalMs: number
  requestTimeoutMs: number
  logLevel: LogLevelName
  logPrefix: string
  file: FileLoggerOptions
}

export const nsqToFile: Tool<NsqToFileOptions> = {
  name: 'nsq_to_file',
  parse (args) {
    const made = createProgram('nsq_to_file', 'Write the messages of topics to rotating files, finishing them once they are synced to disk')
    made.program
      .addOption(repeatable('--topic <topic>', 'nsq topic'))
      .addOption(new Option('--topic-pattern <regexp>', 'only log topics matching the following pattern').default(''))
      .addOption(durationOption('--topic-refresh <duration>', 'how frequently the topic list should be refreshed', 60_000, '1m'))
    addConsumerFlags(made.program, { channel: 'nsq_to_file', maxInFlight: 200 })
    made.program
      .addOption(new Option('--output-dir <dir>', 'directory to write output files to').default('/tmp'))
      .addOption(new Option('--work-dir <dir>', 'directory for in-progress files before moving to output-dir').default('', 'output-dir'))
      .addOption(new Option('--filename-format <format>', 'output filename format (<TOPIC>, <HOST>, <PID>, <DATETIME>, <REV> are replaced. <REV> is increased when file already exists)').default('<TOPIC>.<HOST><REV>.<DATETIME>.log'))
      .addOption(new Option('--datetime-format <format>', 'strftime compatible format for <DATETIME> in filename format').default('%Y-%m-%d_%H'))
      .addOption(new Option('--host-identifier <name>', 'value to output in log filename in place of hostname. <SHORT_HOST> and <HOSTNAME> are valid replacement tokens').default(''))
      .option('--gzip', 'gzip output files')
      .addOption(intOption('--gzip-level <n>', 'gzip compression level (1-9, 1=BestSpeed, 9=BestCompression)', 6, Number.MIN_SAFE_INTEGER))
      .addOption(intOption('--rotate-size <bytes>', 'rotate the file when it grows bigger than `rotate-size` bytes', 0))
      .addOption(durationOption('--rotate-interval <duration>', 'rotate the file every duration', 0, '0s'))
      .addOption(durationOption('--sync-interval <duration>', 'sync file to disk every duration', 30_000, '30s'))
      .option('--skip-empty-files', 'skip writing empty files')
      .addOption(durationOption('--http-client-connect-timeout <duration>', 'timeout for HTTP connect', 2000, '2s'))
      .addOption(durationOption('--http-client-request-timeout <duration>', 'timeout for HTTP request', 5000, '5s'))
      .addOption(new Option('--log-level <level>', 'set log verbosity: debug, info, warn, error, or fatal').default('info'))
      .addOption(new Option('--log-prefix <prefix>', 'log message prefix').default('[nsq_to_file] '))
    return parse('nsq_to_file', made, args, (o) => {
      const flags = readConsumerFlags(o)
      const topics = o.topic as string[]
      const pattern = o.topicPattern as string
      const gzipLevel = o.gzipLevel as number
      const logLevel = parseLogLevel(o.logLevel as string)
      check(
        [flags.channel === '', '--channel is required'],
        [(o.httpClientConnectTimeout as number) <= 0, '--http-client-connect-timeout should be positive'],
        [(o.httpClientRequestTimeout as number) <= 0, '--http-client-request-timeout should be positive']
      )
      checkSources(flags)
      check(
        [gzipLevel < 1 || gzipLevel > 9, 'invalid --gzip-level'],
        [topics.length === 0 && pattern === '', '--topic or --topic-pattern required'],
        [topics.length === 0 && flags.lookupdHttpAddresses.length === 0, '--lookupd-http-address must be specified when no --topic specified'],
        [(o.syncInterval as number) <= 0, '--sync-interval should be positive'],
        [(o.topicRefresh as number) <= 0, '--topic-refresh should be positive'],
        [logLevel === undefined, `invalid --log-level ${JSON.stringify(o.logLevel)}`]
      )
      for (const t of topics) checkTopic('--topic', t)
      checkChannel(flags.channel)
      let topicPattern: RegExp | undefined
      try {
        topicPattern = pattern === '' ? undefined : new RegExp(pattern)
      } catch (err) {
        throw new CliError(`--topic-pattern: ${(err as Error).message}`)
      }
      const outputDir = o.outputDir as string
      const options: NsqToFileOptions = {
        ...flags,
        topics,
        topicPattern,
        topicRefreshMs: o.topicRefresh as number,
        syncIntervalMs: o.syncInterval as number,
        requestTimeoutMs: Math.max(o.httpClientRequestTimeout as number, o.httpClientConnectTimeout as number),
        logLevel: logLevel!,
        logPrefix: o.logPrefix as string,
        file: {
          channel: flags.channel,
          outputDir,
          workDir: (o.workDir as string) === '' ? outputDir : o.workDir as string,
          filenameFormat: o.filenameFormat as string,
          datetimeFormat: o.datetimeFormat as string,
          hostIdentifier: o.hostIdentifier as string,
          gzipLevel: o.gzip === true ? gzipLevel : undefined,
          rotateSize: o.rotateSize as number,
          rotateIntervalMs: o.rotateInterval as number,
          skipEmptyFiles: o.skipEmptyFiles === true,
          maxInFlight: flags.maxInFlight,
        },
      }
      // Bad name patterns fail here rather than when the first topic shows up.
      topicFilenameFormat(options.file, 'topic')
      buildConsumerOptions('nsq_to_file', options, stderrWarn('nsq_to_file'))
      return options
    })
  },
  logSettings: (options) => ({ level: options.logLevel, prefix: options.logPrefix }),
  main: runNsqToFile,
}

interface TopicWork {
  consumer: Consumer
  logger: TopicFileLogger
  timer: NodeJS.Timeout
}

async function runNsqToFile (options: NsqToFileOptions, { log, stopped }: ToolContext): Promise<number> {
  const consumerConfig = { ...buildConsumerOptions('nsq_to_file', options, () => {}), logger: log }
  const topics = new Map<string, TopicWork>()
  const graceful = new GracefulStop()
  let failed = false
  let fail: () => void = () => {}
  const failure = new Promise<void>((resolve) => { fail = resolve })
  let stopping = false

  const start = async (topic: string): Promise<void> => {
    if (stopping || topics.has(topic)) return
    if (options.topicPattern !== undefined && !options.topicPattern.test(topic)) {
      log.warn(`skipping topic ${topic} (doesn't match pattern ${options.topicPattern.source})`)
      return
    }
    const consumer = new Consumer(topic, options.channel, consumerConfig)
    const rdyShare = (): number =>
      Math.max(1, Math.floor(options.maxInFlight / Math.max(1, consumer.stats().connections)))
    const logger = new TopicFileLogger(topic, options.file, log, rdyShare, () => {
      failed = true
      fail()
    })
    const timer = setInterval(() => { logger.tick() }, options.syncIntervalMs)
    topics.set(topic, { consumer, logger, timer })
    consumer.on('discard', (m) => { log.warn(`[${topic}/${options.channel}] message ${m.id} attempted ${m.attempts} times, giving up`) })
    // Every message waits in the handler until its batch is synced, so the handlers must cover all of maxInFlight.
    const handler = graceful.wrap((m) => logger.write(m.body, m.nsqdAddress))
    await consumer.handle(handler, { concurrency: options.maxInFlight })
  }

  let refresh: NodeJS.Timeout | undefined
  if (options.topics.length > 0) {
    for (const topic of options.topics) await start(topic)
  } else {
    const http = { timeoutMs: options.requestTimeoutMs, bearerToken: options.httpBearerToken }
    const lookupds = options.lookupdHttpAddresses.map((a) => new LookupdHttpClient(a, http))
    const discover = async (): Promise<void> => {
      const results = await Promise.allSettled(lookupds.map((l) => l.topics()))
      for (const r of results) {
        if (r.status === 'rejected') log.warn(`failed to get topics from lookupd: ${(r.reason as Error).message}`)
        else for (const topic of r.value) await start(topic)
      }
    }
    await discover()
    const rediscover = (): void => { discover().catch((err: Error) => { log.error(err.message) }) }
    refresh = setInterval(rediscover, options.topicRefreshMs)
  }

  // SIGHUP: close the files (synced), as NSQ's tool does for external log rotation; new ones open as data arrives.
  const onHup = (): void => { for (const t of topics.values()) t.logger.close().catch(() => {}) }
  process.on('SIGHUP', onHup)

  await Promise.race([stopped, failure])
  stopping = true
  clearInterval(refresh)
  process.off('SIGHUP', onHup)
  for (const { timer } of topics.values()) clearInterval(timer)
  const work = [...topics.values()]
  // The last batches are synced once delivery has stopped, which lets the handlers waiting on them finish.
  await graceful.stop(work.map((t) => t.consumer), async () => { await Promise.all(work.map((t) => t.logger.close())) })
  return failed ? 1 : 0
}
