/**
 * What the browser tests share: the web bundle (webBundle()), a real nsqlookupd + nsqd + nsqadmin on port 0, and
 * Debian's chromium driven by playwright-core. `close()` is bounded: a step that does not finish in time is given up
 * (chromium is killed), so an afterAll cannot hang; a server that would not close fails the file, naming it.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { NsqdHttpClient } from '@nsqts/client'
import { silentLogger } from '@nsqts/protocol'
import { startLookupd, startNsqd, type LookupdHandle, type NsqdHandle } from '@nsqts/testkit'
import { NSQAdmin, type AdminInit } from '@nsqts/admin-ui'
import { webBundle } from './web-bundle.js'

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']

/** How long each step of close() may take before it is given up. */
const CLOSE_STEP_MS = 10_000
/** For the afterAll that calls close(): its bounded steps, and a margin. */
export const CLOSE_TIMEOUT_MS = 3 * CLOSE_STEP_MS + 5_000
/** For the beforeAll that calls startDashboard(): a bundle build and a chromium start on a loaded machine. */
export const START_TIMEOUT_MS = 90_000

export interface Dashboard {
  lookupd: LookupdHandle
  nsqd: NsqdHandle
  nsqdClient: NsqdHttpClient
  /** nsqadmin on the cluster, and its http://127.0.0.1:port */
  admin: NSQAdmin
  base: string
  context: BrowserContext
  page: Page
  /** Console errors and uncaught exceptions of `page`, with the page's address. */
  consoleErrors: string[]
  /** Another nsqadmin on the same bundle (and, unless told otherwise, the same lookupd); close() closes it too. */
  startAdmin (init?: AdminInit): Promise<NSQAdmin>
  close (): Promise<void>
}

/** Resolves true when `p` settles in time, false when it does not (`p` is then left to itself). */
async function within (p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), ms) })
  try {
    return await Promise.race([p.then(() => true, () => true), late])
  } finally {
    clearTimeout(timer)
  }
}

/** The processes whose command line names `path` (chromium's and its helpers', by their profile directory). */
function processesNaming (path: string): number[] {
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'latin1').includes(path)) pids.push(Number(entry))
    } catch {
      // The process ended meanwhile.
    }
  }
  return pids
}

export async function startDashboard (opts: { nsqd?: Parameters<typeof startNsqd>[0] } = {}): Promise<Dashboard> {
  const profile = mkdtempSync(join(tmpdir(), 'nsqadmin-chromium-'))
  const admins: NSQAdmin[] = []
  const started: { lookupd?: LookupdHandle, nsqd?: NsqdHandle, context?: BrowserContext } = {}

  const close = async (): Promise<void> => {
    const hung: string[] = []
    if (started.context !== undefined && !await within(started.context.close(), CLOSE_STEP_MS)) {
      // Only the processes of this profile directory: this harness's own chromium.
      for (const pid of processesNaming(profile)) {
        try { process.kill(pid, 'SIGKILL') } catch { /* already gone */ }
      }
    }
    const servers: Array<[string, () => Promise<void>]> = admins.map((a, i) => [`nsqadmin ${i}`, () => a.close()])
    const nsqd = started.nsqd
    if (nsqd !== undefined) servers.push(['nsqd', () => nsqd.close()])
    const closed = await Promise.all(servers.map(async ([name, fn]) => [name, await within(fn(), CLOSE_STEP_MS)]))
    for (const [name, ok] of closed) if (ok !== true) hung.push(String(name))
    if (started.lookupd !== undefined && !await within(started.lookupd.close(), CLOSE_STEP_MS)) hung.push('nsqlookupd')
    rmSync(profile, { recursive: true, force: true, maxRetries: 3 })
    if (hung.length > 0) throw new Error(`did not close within ${CLOSE_STEP_MS} ms: ${hung.join(', ')}`)
  }

  try {
    const webDir = await webBundle()
    const lookupd = started.lookupd = await startLookupd()
    const nsqd = started.nsqd = await startNsqd({
      nsqlookupdTcpAddresses: [`127.0.0.1:${lookupd.tcp.port}`],
      ...opts.nsqd,
    })
    const startAdmin = async (init: AdminInit = {}): Promise<NSQAdmin> => {
      const admin = new NSQAdmin({
        httpAddress: '127.0.0.1:0',
        lookupdHttpAddresses: [`127.0.0.1:${lookupd.http.port}`],
        logger: silentLogger,
        webDir,
        ...init,
      })
      admins.push(admin)
      await admin.start()
      return admin
    }
    const admin = await startAdmin({ historyIntervalMs: 250, historyWindowMs: 120_000 })
    // A persistent context on a fresh directory is playwright's way to give chromium its own --user-data-dir.
    const context = started.context = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 800 },
    })
    const page = await context.newPage()
    const consoleErrors: string[] = []
    page.on('console', (msg) => { if (msg.type() === 'error') consoleErrors.push(`${page.url()}: ${msg.text()}`) })
    page.on('pageerror', (err) => { consoleErrors.push(`${page.url()}: ${err.message}`) })
    return {
      lookupd,
      nsqd,
      nsqdClient: new NsqdHttpClient(nsqd.httpUrl),
      admin,
      base: `http://127.0.0.1:${admin.httpAddress.port}`,
      context,
      page,
      consoleErrors,
      startAdmin,
      close,
    }
  } catch (err) {
    await close().catch(() => {})
    throw err
  }
}
