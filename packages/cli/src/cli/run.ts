import { createLogger } from '@nsqts/protocol'
import type { Logger, LogLevelName } from '@nsqts/protocol'
import type { Parsed } from './program.js'

/** What a tool's main() gets besides its options. */
export interface ToolContext {
  readonly log: Logger
  /**
   * Resolves on the first SIGINT or SIGTERM. A tool stops taking new work then, answers or requeues what it holds,
   * and returns; a second signal exits at once (nsqd requeues whatever was still in flight when its timeout expires).
   */
  readonly stopped: Promise<string>
  /** Whether `stopped` has resolved, for loops that check between steps. */
  readonly stopping: () => boolean
}

export interface Tool<T> {
  readonly name: string
  parse (args: readonly string[]): Parsed<T>
  /** Runs until done or stopped; resolves with the exit code. */
  main (options: T, context: ToolContext): Promise<number>
  /** --log-level and --log-prefix, for the tools that have them. */
  logSettings? (options: T): { level: LogLevelName, prefix: string }
}

/**
 * The whole life of a tool process: parse the command line, run, exit with the code main() returned. A bad flag or
 * any error is one line on stderr and exit code 1, never a stack trace.
 */
export async function runTool<T> (tool: Tool<T>, args: readonly string[]): Promise<never> {
  const fail = (err: unknown): never => {
    process.stderr.write(`${tool.name}: ${err instanceof Error ? err.message : String(err)}\n`)
    return exit(1)
  }
  let options: T
  try {
    const parsed = tool.parse(args)
    if (parsed.action === 'exit') {
      (parsed.code === 0 ? process.stdout : process.stderr).write(parsed.output)
      return await exitAfterFlush(parsed.code)
    }
    options = parsed.options
  } catch (err) {
    return fail(err)
  }
  const { level, prefix } = tool.logSettings?.(options) ?? { level: 'info', prefix: `[${tool.name}] ` }
  const log = createLogger(prefix, () => level, (line) => { process.stderr.write(line) })
  // A listener for a signal replaces Node's default (exit), so nothing is lost on the first one.
  let signals = 0
  const stopped = new Promise<string>((resolve) => {
    const onSignal = (signal: string): void => {
      if (++signals > 1) {
        log.warn(`${signal} again: exiting without waiting`)
        exit(1)
      }
      log.info(`${signal}: stopping`)
      resolve(signal)
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
    // `nsq_tail ... | head`: once the reader is gone there is no one to print for; stop as on a signal, so what was
    // taken and not printed goes back to nsqd.
    let brokenPipe = false
    process.stdout.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') fail(err)
      else if (!brokenPipe) onSignal('EPIPE')
      brokenPipe = true
    })
  })
  try {
    const code = await tool.main(options, { log, stopped, stopping: () => signals > 0 })
    return await exitAfterFlush(code)
  } catch (err) {
    return fail(err)
  }
}

function exit (code: number): never {
  process.exit(code)
}

/** process.exit() drops what a piped stdout has not written yet; wait for it first. */
async function exitAfterFlush (code: number): Promise<never> {
  await new Promise<void>((resolve) => {
    if (process.stdout.writableLength === 0) resolve()
    else process.stdout.write('', () => { resolve() })
  })
  return exit(code)
}
