/**
 * Delivery policies from nsqadmin's channel page in Debian's chromium (browser-harness.ts), against a real nsqlookupd
 * + nsqd: set a policy with the form, peek without taking, let a raw V2 consumer REQ messages into the dead-letter
 * topic, and redrive them from the dead-letter channel's page. Every check is against nsqd itself (/stats, GET
 * /channel/policy), and every wait is for a condition.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import type { ChannelStats, TopicStats } from '@nsqts/protocol'
import { commands, FrameType } from '@nsqts/protocol'
import { RawConn, waitFor } from '@nsqts/testkit'
import { CLOSE_TIMEOUT_MS, START_TIMEOUT_MS, startDashboard, type Dashboard } from './browser-harness.js'

const TOPIC = 'orders'
const CHANNEL = 'billing'
const DEAD = 'orders.dead'
const DEAD_CHANNEL = 'ops'
const BODIES = ['order 1', 'order 2', 'order 3']
const MAX_ATTEMPTS = 2

describe('delivery policies in a browser', () => {
  let dash: Dashboard | undefined
  let page: Page

  beforeAll(async () => {
    dash = await startDashboard()
    page = dash.page
  }, START_TIMEOUT_MS)

  afterAll(async () => { await dash?.close() }, CLOSE_TIMEOUT_MS)

  const d = (): Dashboard => dash as Dashboard
  const topicStats = async (topic: string): Promise<TopicStats | undefined> =>
    (await d().nsqdClient.stats({ topic })).topics?.find((t) => t.topic_name === topic)
  const channelStats = async (topic: string, channel: string): Promise<ChannelStats | undefined> =>
    (await topicStats(topic))?.channels.find((c) => c.channel_name === channel)
  /** Waits until nsqd's /stats for the channel matches `want`, naming what it last saw. */
  const channelReaches = async (topic: string, channel: string, want: Partial<ChannelStats>): Promise<void> => {
    let seen: ChannelStats | undefined
    await waitFor(async () => {
      seen = await channelStats(topic, channel)
      return seen !== undefined &&
        Object.entries(want).every(([k, v]) => (seen as unknown as Record<string, unknown>)[k] === v)
    }, 10_000, () => `${topic}/${channel} to reach ${JSON.stringify(want)}, last ${JSON.stringify(seen)}`, 25)
  }
  /** Clicks an ActionButton, checks its question, confirms and waits for the notice. */
  const act = async (button: string, question: string, result: string): Promise<void> => {
    await page.getByRole('button', { name: button, exact: true }).click()
    await page.getByRole('dialog').getByText(question).waitFor()
    await page.getByTestId('confirm').click()
    await page.getByTestId('action-result').filter({ hasText: result }).waitFor({ timeout: 10_000 })
  }
  const peekedBodies = async (count: number): Promise<string[]> => {
    await page.getByRole('button', { name: 'Peek', exact: true }).click()
    const bodies = page.getByTestId('peek').getByTestId('peek-body')
    await waitFor(async () => await bodies.count() === count, 10_000, `${count} peeked messages`, 25)
    return await bodies.allTextContents()
  }

  it('sets max_attempts and ttl from the channel page: nsqd has them', async () => {
    await d().nsqdClient.createTopic(TOPIC)
    await d().nsqdClient.createChannel(TOPIC, CHANNEL)
    await page.goto(`${d().base}/topics/${TOPIC}/${CHANNEL}`)
    const form = page.getByTestId('policy-form')
    await form.waitFor({ timeout: 10_000 })
    await form.getByLabel('Max attempts').fill(String(MAX_ATTEMPTS))
    await form.getByLabel('TTL', { exact: true }).fill('1h')
    await act('Save policy',
      `Set max_attempts=${MAX_ATTEMPTS}, ttl=1h on channel ${CHANNEL} on every node that has it?`,
      `Delivery policy of channel ${CHANNEL} set`)
    const policy = await d().nsqdClient.getChannelPolicy(TOPIC, CHANNEL)
    expect(policy).toMatchObject({ max_attempts: MAX_ATTEMPTS, ttl: '1h0m0s', dead_letter_topic: DEAD })
    // The page shows what nsqd now has.
    const shown = page.getByTestId('policy')
    await shown.locator('td[data-field="max_attempts"]', { hasText: /^2$/ }).waitFor({ timeout: 10_000 })
    await shown.locator('td[data-field="ttl"]', { hasText: /^1h0m0s$/ }).waitFor()
  })

  it('peek lists the queued messages in order; nsqd\'s depth, attempts and in-flight stay as they were', async () => {
    await d().nsqdClient.publishMany(TOPIC, BODIES)
    await channelReaches(TOPIC, CHANNEL, { depth: 3, in_flight_count: 0 })
    const before = await channelStats(TOPIC, CHANNEL)
    expect(await peekedBodies(BODIES.length)).toEqual(BODIES)
    const attempts = await page.getByTestId('peek').locator('tbody td.num').allTextContents()
    expect(attempts).toEqual(['0', '0', '0'])
    const after = await channelStats(TOPIC, CHANNEL)
    for (const k of ['depth', 'in_flight_count', 'deferred_count', 'requeue_count', 'message_count'] as const) {
      expect(after?.[k], k).toBe(before?.[k])
    }
  })

  it(`a consumer REQing each message ${MAX_ATTEMPTS} times sends them to ${DEAD}; the page counts them`, async () => {
    // The dead-letter topic's channel, made first so that the page has it to show.
    await d().nsqdClient.createTopic(DEAD)
    await d().nsqdClient.createChannel(DEAD, DEAD_CHANNEL)
    const conn = await RawConn.open(d().nsqd.tcp)
    try {
      conn.write(commands.sub(TOPIC, CHANNEL))
      expect(await conn.expect(FrameType.Response)).toBe('OK')
      conn.write(commands.rdy(10))
      // Each message comes MAX_ATTEMPTS times and is REQ'd each time; the last REQ dead-letters it.
      for (let delivered = 0; delivered < BODIES.length * MAX_ATTEMPTS;) {
        const f = await conn.frame(10_000)
        if (f.type === FrameType.Response && f.data.toString() === '_heartbeat_') conn.write(commands.NOP)
        if (f.type !== FrameType.Message) continue
        delivered++
        conn.write(commands.req(f.data.toString('latin1', 10, 26), 0))
      }
      await channelReaches(TOPIC, CHANNEL, { dead_lettered_count: 3, depth: 0, in_flight_count: 0, deferred_count: 0 })
    } finally {
      conn.close()
    }
    await channelReaches(TOPIC, CHANNEL, { client_count: 0 })
    await channelReaches(DEAD, DEAD_CHANNEL, { depth: 3, message_count: 3 })
    await page.getByTestId('dead-lettered-count').filter({ hasText: /^3$/ }).waitFor({ timeout: 10_000 })
  })

  it(`redrive on ${DEAD}/${DEAD_CHANNEL}'s page puts each message back on ${TOPIC} once`, async () => {
    const topicBefore = await topicStats(TOPIC)
    expect(topicBefore?.message_count).toBe(3)
    await page.goto(`${d().base}/topics/${DEAD}/${DEAD_CHANNEL}`)
    await page.locator('[data-testid="channel-depth"]', { hasText: /^3$/ }).waitFor({ timeout: 10_000 })
    expect(await peekedBodies(BODIES.length)).toEqual(BODIES)
    // A dead-letter topic's messages go back to the topic it is named after, unless told otherwise.
    expect(await page.getByLabel('target topic').inputValue()).toBe(TOPIC)
    await act('Redrive', `Move all queued messages of ${DEAD}/${DEAD_CHANNEL} to topic ${TOPIC}?`,
      `Moved 3 messages of ${DEAD}/${DEAD_CHANNEL} to ${TOPIC}`)
    // The redrive answered once done: what nsqd counts now is final.
    expect(await channelStats(DEAD, DEAD_CHANNEL)).toMatchObject({ depth: 0, in_flight_count: 0, message_count: 3 })
    expect((await topicStats(TOPIC))?.message_count).toBe(3 + BODIES.length)
    await channelReaches(TOPIC, CHANNEL, { depth: 3, message_count: 3 + BODIES.length })
    await page.locator('[data-testid="channel-depth"]', { hasText: /^0$/ }).waitFor({ timeout: 10_000 })
    // What the peek showed is gone, not left on the page as though still queued.
    await page.getByTestId('peek').waitFor({ state: 'detached' })
    await page.getByRole('button', { name: 'Peek', exact: true }).click()
    await page.getByText('No message is queued on this channel.').waitFor()

    await page.goto(`${d().base}/topics/${TOPIC}/${CHANNEL}`)
    await page.getByTestId('policy-form').waitFor({ timeout: 10_000 })
    const bodies = await peekedBodies(BODIES.length)
    expect(bodies).toEqual(BODIES)
    expect(d().consoleErrors).toEqual([])
  })
})
