import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { NsqdHttpClient } from '@nsqts/client'
import type { ChannelStats } from '@nsqts/client'
import { waitFor } from '@nsqts/testkit'

const DIST = fileURLToPath(new URL('../dist/bin/', import.meta.url))

/** The built bin of a tool; the end-to-end tests run what users run. `npm test` builds it first. */
export function binPath (tool: string): string {
  const path = `${DIST}${tool}.js`
  if (!existsSync(path)) throw new Error(`${path} is missing: build first (npm test does, or npx tsc -b packages/cli)`)
  return path
}

export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
}

/** A tool running as a child process, with its output collected. */
export class ToolProcess {
  stdout = ''
  stderr = ''
  readonly exited: Promise<Exit>
  private readonly listeners = new Set<() => void>()

  constructor (readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8').on('data', (s: string) => { this.stdout += s; this.notify() })
    child.stderr!.setEncoding('utf8').on('data', (s: string) => { this.stderr += s; this.notify() })
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => { resolve({ code, signal }) })
    })
  }

  private notify (): void {
    for (const l of this.listeners) l()
  }

  /** Resolves when stderr (or stdout) matches `pattern`; fails after `timeoutMs` with the output so far. */
  waitForOutput (pattern: RegExp, stream: 'stdout' | 'stderr' = 'stderr', timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!pattern.test(this[stream])) return
        cleanup()
        resolve()
      }
      const timer = setTimeout(() => {
        cleanup()
        reject(new Error(`timed out waiting for ${pattern} on ${stream}; stderr:\n${this.stderr}`))
      }, timeoutMs)
      const cleanup = (): void => {
        clearTimeout(timer)
        this.listeners.delete(check)
      }
      this.listeners.add(check)
      check()
    })
  }

  /** Waits for the exit, failing after `timeoutMs` (the process is killed then). */
  async exit (timeoutMs = 15_000): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        this.child.kill('SIGKILL')
        reject(new Error(`process did not exit within ${timeoutMs} ms; stderr:\n${this.stderr}`))
      }, timeoutMs)
    })
    try {
      return await Promise.race([this.exited, timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  /** Sends `signal` and waits for the exit. */
  async stop (signal: NodeJS.Signals = 'SIGTERM'): Promise<Exit> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal)
    return await this.exit()
  }
}

const running = new Set<ToolProcess>()

/** Starts `node <bin> ...args`; kill leftovers with killAll() in afterEach. */
export function runTool (tool: string, args: readonly string[], options: { stdin?: boolean } = {}): ToolProcess {
  const child = spawn(process.execPath, [binPath(tool), ...args], {
    stdio: [options.stdin === true ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  })
  const proc = new ToolProcess(child)
  running.add(proc)
  proc.exited.then(() => { running.delete(proc) }, () => {})
  return proc
}

/** Kills the tool processes this test file started that are still running. */
export async function killAll (): Promise<void> {
  await Promise.all([...running].map(async (p) => {
    p.child.kill('SIGKILL')
    await p.exited
  }))
}

/** How often a wait that asks over HTTP (stats) asks: gentler than testkit's default. */
export const HTTP_POLL_MS = 20

/** One channel's stats on an nsqd, or undefined while it does not exist. */
export async function channelStats (nsqdHttpUrl: string, topic: string,
  channel: string): Promise<ChannelStats | undefined> {
  const stats = await new NsqdHttpClient(nsqdHttpUrl).stats({ topic, channel, includeMem: false })
  return stats.topics?.find((t) => t.topic_name === topic)?.channels.find((c) => c.channel_name === channel)
}

/** Waits until the channel's stats satisfy `predicate`. */
export async function waitForChannel (nsqdHttpUrl: string, topic: string, channel: string,
  predicate: (c: ChannelStats) => boolean, what: string, timeoutMs = 15_000): Promise<ChannelStats> {
  let last: ChannelStats | undefined
  await waitFor(async () => {
    last = await channelStats(nsqdHttpUrl, topic, channel)
    return last !== undefined && predicate(last)
  }, timeoutMs, () => `${topic}/${channel}: ${what} (last: ${JSON.stringify(last && { depth: last.depth, in_flight: last.in_flight_count, messages: last.message_count, requeued: last.requeue_count, clients: last.client_count })})`, HTTP_POLL_MS)
  return last!
}
