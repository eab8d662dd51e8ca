import { spawn, type ChildProcess } from 'node:child_process'

/** Helpers for tests that run one of scripts/*.mjs (they start the built daemons themselves) and read its verdict. */

const running = new Set<ChildProcess>()

/** SIGTERM to every script still running: each ends the processes it started. For afterEach. */
export function stopScripts (): void {
  for (const child of running) child.kill('SIGTERM')
  running.clear()
}

/** Runs scripts/<name> with `args` to its end: its exit code, everything it printed, and its `RESULT {json}` line. */
export async function runScript<T> (
  name: string, args: string[],
): Promise<{ code: number | null, out: string, result: T | undefined }> {
  const child = spawn(process.execPath, [new URL(`../scripts/${name}`, import.meta.url).pathname, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  running.add(child)
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { out += chunk.toString() })
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  running.delete(child)
  const line = /^RESULT (.*)$/m.exec(out)?.[1]
  return { code, out, result: line === undefined ? undefined : JSON.parse(line) as T }
}
