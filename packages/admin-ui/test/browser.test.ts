/**
 * The dashboard in Debian's chromium (playwright-core), against a real nsqlookupd + nsqd started here
 * (browser-harness.ts, which builds the web bundle first, so `npm test` on a fresh clone tests what it serves).
 * Screenshots go to packages/admin-ui/screenshots/.
 */
import { mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { BrowserContext, Page } from 'playwright-core'
import type { NsqdHttpClient } from '@nsqts/client'
import { waitFor, type NsqdHandle } from '@nsqts/testkit'
import { DEFAULT_WEB_DIR, type NSQAdmin } from '@nsqts/admin-ui'
import { CLOSE_TIMEOUT_MS, START_TIMEOUT_MS, startDashboard, type Dashboard } from './browser-harness.js'

const SHOTS = fileURLToPath(new URL('../screenshots/', import.meta.url))
// Functions given to page.evaluate / waitForFunction run in the page. The tests' type-check has no DOM lib (its fetch
// types clash with Node's), so the few page globals those functions use are declared here.
declare const document: {
  querySelector (selector: string): { getAttribute (name: string): string | null } | null
  documentElement: { scrollWidth: number }
}
declare const window: { innerWidth: number }

describe('dashboard in a browser', () => {
  let dash: Dashboard | undefined
  let nsqd: NsqdHandle
  let deadAdmin: NSQAdmin
  let context: BrowserContext
  let page: Page
  let base: string
  let nsqdClient: NsqdHttpClient
  let consoleErrors: string[]

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true })
    dash = await startDashboard()
    ;({ nsqd, context, page, base, nsqdClient, consoleErrors } = dash)
    // Nothing listens on port 1: the dashboard must say so instead of showing an empty cluster.
    deadAdmin = await dash.startAdmin({ lookupdHttpAddresses: ['127.0.0.1:1'] })
  }, START_TIMEOUT_MS)

  afterAll(async () => { await dash?.close() }, CLOSE_TIMEOUT_MS)

  const nsqdChannel = async (): Promise<{ paused: boolean, depth: number } | undefined> =>
    (await nsqdClient.stats({ topic: 'orders', channel: 'billing' })).topics?.[0]?.channels[0]

  it('serves the shell with its config and the bundle it references', async () => {
    const html = await (await fetch(`${base}/topics/orders`)).text()
    expect(html).toContain('window.NSQADMIN=')
    const asset = /src="(\/static\/[^"]+\.js)"/.exec(html)?.[1]
    expect(asset).toBeDefined()
    const res = await fetch(`${base}${asset}`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/javascript/)
    expect(DEFAULT_WEB_DIR).toMatch(/dist[/\\]web[/\\]$/)
  })

  it('shows a clear empty state when the cluster has no topics', async () => {
    await page.goto(`${base}/`)
    await page.getByText('This cluster has no topics yet.').waitFor({ timeout: 10_000 })
    await page.screenshot({ path: `${SHOTS}topics-empty.png` })
  })

  it('shows a clear error when lookupd is unreachable', async () => {
    const other = await context.newPage()
    await other.goto(`http://127.0.0.1:${deadAdmin.httpAddress.port}/`)
    await other.getByText(/Cannot reach the cluster: UPSTREAM_ERROR: failed to query any nsqlookupd/)
      .waitFor({ timeout: 10_000 })
    await other.screenshot({ path: `${SHOTS}lookupd-unreachable.png` })
    await other.close()
  })

  it('the topics page lists a topic that was just published to', async () => {
    await nsqdClient.createTopic('orders')
    await nsqdClient.createChannel('orders', 'billing')
    await nsqdClient.publishMany('orders', Array.from({ length: 7 }, (_v, i) => `order ${i}`))
    await page.goto(`${base}/`)
    await page.locator('tr[data-topic="orders"]').waitFor({ timeout: 10_000 })
    await page.locator('tr[data-topic="orders"] [data-testid="depth"]', { hasText: /^7$/ }).waitFor({ timeout: 10_000 })
    await page.screenshot({ path: `${SHOTS}topics.png` })
  })

  it('the channel page shows its depth', async () => {
    await page.locator('tr[data-topic="orders"] a').click()
    await page.locator('tr[data-channel="billing"] a').click()
    await page.locator('[data-testid="channel-depth"]', { hasText: /^7$/ }).waitFor({ timeout: 10_000 })
    expect(new URL(page.url()).pathname).toBe('/topics/orders/billing')
    await page.screenshot({ path: `${SHOTS}channel.png` })
  })

  it('pausing the channel from the page pauses it in nsqd', async () => {
    await page.getByRole('button', { name: 'Pause' }).click()
    await page.getByRole('dialog').getByText('Pause channel billing?').waitFor()
    await page.getByTestId('confirm').click()
    await page.getByTestId('action-result').filter({ hasText: 'Channel billing paused' }).waitFor()
    expect((await nsqdChannel())?.paused).toBe(true)
    await page.getByRole('button', { name: 'Unpause' }).waitFor()
    await page.screenshot({ path: `${SHOTS}channel-paused.png` })
  })

  it('emptying the channel from the page empties it in nsqd', async () => {
    await page.getByRole('button', { name: 'Empty' }).click()
    await page.getByTestId('confirm').click()
    await page.getByTestId('action-result').filter({ hasText: 'Channel billing emptied' }).waitFor()
    expect((await nsqdChannel())?.depth).toBe(0)
    await page.locator('[data-testid="channel-depth"]', { hasText: /^0$/ }).waitFor()
  })

  it('the topic page chart shows a non-zero rate while a writer runs', async () => {
    const writing = { on: true }
    const writer = (async () => {
      let n = 0
      while (writing.on) await nsqdClient.publishMany('orders', Array.from({ length: 20 }, () => `w${n++}`))
    })()
    try {
      await page.goto(`${base}/topics/orders`)
      // Runs in the page.
      const rising = (): boolean =>
        Number(document.querySelector('[data-testid="chart-rate"]')?.getAttribute('data-latest') ?? 0) > 0
      await page.waitForFunction(rising, undefined, { timeout: 15_000 })
      await page.screenshot({ path: `${SHOTS}topic-live-rate.png` })
    } finally {
      writing.on = false
      await writer
    }
  })

  it('the other pages render, on a laptop and on a phone, without console errors', async () => {
    const node = `127.0.0.1:${nsqd.http.port}`
    await page.goto(`${base}/nodes`)
    await page.locator('table[data-testid="nodes"] td', { hasText: '1.3.0' }).first().waitFor()
    await page.screenshot({ path: `${SHOTS}nodes.png` })
    await page.goto(`${base}/nodes/${node}`)
    await page.getByRole('link', { name: 'orders' }).first().waitFor()
    await page.screenshot({ path: `${SHOTS}node.png` })
    await page.goto(`${base}/counter`)
    const counted = async (): Promise<number> =>
      Number((await page.getByTestId('counter').textContent())?.replace(/,/g, ''))
    await waitFor(async () => await counted() > 0, 10_000, 'counter above zero')
    await page.screenshot({ path: `${SHOTS}counter.png` })
    await page.goto(`${base}/lookup`)
    await page.getByPlaceholder('topic').fill('planned')
    await page.getByPlaceholder('channel (optional)').fill('later')
    await page.getByRole('button', { name: 'Create' }).click()
    await page.locator('table[data-testid="inactive"] td', { hasText: 'planned' }).waitFor()
    await page.screenshot({ path: `${SHOTS}lookup.png` })

    await page.setViewportSize({ width: 390, height: 844 })
    await page.goto(`${base}/topics/orders/billing`)
    await page.locator('[data-testid="channel-depth"]').waitFor()
    await page.screenshot({ path: `${SHOTS}phone-channel.png`, fullPage: true })
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
    expect(overflow).toBeLessThanOrEqual(0)
    await page.goto(`${base}/`)
    await page.locator('tr[data-topic="orders"]').waitFor()
    await page.screenshot({ path: `${SHOTS}phone-topics.png`, fullPage: true })

    expect(consoleErrors).toEqual([])
  })

  it('with --http-bearer-token, a ?token= given once lasts for the tab; other tabs say how to give it', async () => {
    const secured = await (dash as Dashboard).startAdmin({ httpBearerToken: 'browser-token' })
    const at = `http://127.0.0.1:${secured.httpAddress.port}`
    const tab = await context.newPage()
    const stranger = await context.newPage()
    try {
      await tab.goto(`${at}/nodes?token=browser-token`)
      await tab.locator('table[data-testid="nodes"] td', { hasText: '1.3.0' }).first().waitFor({ timeout: 10_000 })
      // Out of the address bar (and so of history and shared links) at once.
      expect(tab.url()).toBe(`${at}/nodes`)
      await tab.reload()
      await tab.locator('table[data-testid="nodes"] td', { hasText: '1.3.0' }).first().waitFor({ timeout: 10_000 })

      await stranger.goto(`${at}/nodes`)
      await stranger.getByText('nsqadmin needs its token: open this page as /nodes?token=<token>')
        .waitFor({ timeout: 10_000 })
      await stranger.screenshot({ path: `${SHOTS}token-needed.png` })
    } finally {
      await stranger.close()
      await tab.close()
    }
  })
})
