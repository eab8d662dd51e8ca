/**
 * The dashboard's web bundle for the browser tests, built from the sources as they are, so that `npm test` on a fresh
 * clone tests what it serves. Built once per version of the sources: into node_modules/.cache/nsqadmin-web-test/<hash
 * of web/ and package-lock.json>, under a lock, so that test files running at once neither build it twice (a build
 * takes seconds of both cores) nor delete each other's assets, as two builds into dist/web would.
 */
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'vite'
import { waitFor } from '@nsqts/testkit'

const WEB = fileURLToPath(new URL('../web/', import.meta.url))
const LOCKFILE = fileURLToPath(new URL('../../../package-lock.json', import.meta.url))
const CACHE = fileURLToPath(new URL('../../../node_modules/.cache/nsqadmin-web-test/', import.meta.url))
const BUILD_TIMEOUT_MS = 120_000

function files (dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name)).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)])
}

/** The web app's sources (its imports from outside web/ are types only) and the locked dependency versions. */
function sourceHash (): string {
  const h = createHash('sha256')
  for (const f of [...files(WEB), LOCKFILE]) h.update(f.slice(WEB.length)).update('\0').update(readFileSync(f))
  return h.digest('hex').slice(0, 16)
}

/** Whether the process that wrote `lock` is still there. */
function lockHeld (lock: string): boolean {
  let pid: number
  try {
    pid = Number(readFileSync(lock, 'utf8'))
  } catch {
    return false
  }
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** The directory of the built bundle (index.html + static/), for NSQAdmin's `webDir`. */
export async function webBundle (): Promise<string> {
  const dir = join(CACHE, sourceHash())
  const lock = `${dir}.lock`
  mkdirSync(CACHE, { recursive: true })
  for (;;) {
    if (existsSync(join(dir, 'index.html'))) return dir
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' })
    } catch {
      // Another test file builds it: wait for its result, or for its lock to go (it failed, or its process died).
      await waitFor(() => existsSync(join(dir, 'index.html')) || !lockHeld(lock), BUILD_TIMEOUT_MS,
        `the web bundle built by the process in ${lock}`, 100)
      if (!existsSync(join(dir, 'index.html'))) rmSync(lock, { force: true })
      continue
    }
    try {
      const tmp = `${dir}.${process.pid}`
      await build({
        configFile: join(WEB, 'vite.config.ts'),
        logLevel: 'error',
        build: { outDir: tmp, emptyOutDir: true },
      })
      // Bundles of other versions are of sources that are gone; this one appears whole, by a rename.
      const hash = dir.slice(CACHE.length)
      for (const old of readdirSync(CACHE)) {
        if (!old.startsWith(hash)) rmSync(join(CACHE, old), { recursive: true, force: true })
      }
      renameSync(tmp, dir)
      return dir
    } finally {
      rmSync(lock, { force: true })
    }
  }
}
