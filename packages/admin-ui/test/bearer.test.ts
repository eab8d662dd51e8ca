import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { NsqdHttpClient } from '@nsqts/client'
import { silentLogger } from '@nsqts/protocol'
import { startLookupd, startNsqd, waitFor } from '@nsqts/testkit'
import { NSQAdmin, type AdminInit } from '@nsqts/admin-ui'
import { parseCommandLine } from '../src/cli.js'

const closers: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
})

const TOKEN = 'admin-token'
const CLUSTER_TOKEN = 'cluster-token'

async function startAdmin (init: AdminInit): Promise<string> {
  const admin = new NSQAdmin({ httpAddress: '127.0.0.1:0', logger: silentLogger, ...init })
  closers.push(() => admin.close())
  await admin.start()
  return `http://127.0.0.1:${admin.httpAddress.port}`
}

/** A built dashboard stand-in: an index.html and one static asset. */
function webDir (): string {
  const dir = mkdtempSync(join(tmpdir(), 'nsqadmin-web-'))
  closers.push(() => { rmSync(dir, { recursive: true, force: true }) })
  mkdirSync(join(dir, 'static'))
  writeFileSync(join(dir, 'index.html'), '<html><head></head><body></body></html>')
  writeFileSync(join(dir, 'static', 'app.js'), 'void 0\n')
  return dir
}

const bearer = (token: string): { authorization: string } => ({ authorization: `Bearer ${token}` })

describe('nsqadmin --http-bearer-token (nsqts)', () => {
  it('closes /api and /config without the token, with nsqd\'s 401; the page, its assets and /ping stay open', async () => {
    const lookupd = await startLookupd()
    closers.push(() => lookupd.close())
    const base = await startAdmin({ lookupdHttpAddresses: [`127.0.0.1:${lookupd.http.port}`], httpBearerToken: TOKEN, webDir: webDir(), basePath: '/admin' })

    for (const [url, init] of [
      ['/admin/api/topics', {}],
      ['/admin/api/topics', { headers: bearer('admin-tokeX') }],
      ['/admin/api/topics', { headers: { authorization: TOKEN } }],
      ['/admin/api/topics', { method: 'POST', body: '{"topic":"t"}' }],
      ['/admin/api/nodes/x', { method: 'DELETE', body: '{"topic":"t"}' }],
      ['/admin/config/log_level', {}],
      ['/admin/config/log_level', { method: 'PUT', body: 'debug' }],
    ] as const) {
      const res = await fetch(`${base}${url}`, init)
      expect(res.status, `${init.method ?? 'GET'} ${url}`).toBe(401)
      expect(res.headers.get('www-authenticate')).toBe('Bearer')
      expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8')
      expect(res.headers.get('x-nsq-content-type')).toBe('nsq; version=1.0')
      expect(await res.text()).toBe('{"message":"UNAUTHORIZED"}')
    }
    expect(lookupd.lookupd.db.findRegistrations('topic', 't', '')).toHaveLength(0)

    const topics = await fetch(`${base}/admin/api/topics`, { headers: bearer(TOKEN) })
    expect(topics.status).toBe(200)
    expect(await topics.json()).toEqual({ topics: [], message: '' })
    expect((await fetch(`${base}/admin/config/log_level`, { headers: bearer(TOKEN) })).status).toBe(200)

    expect(await (await fetch(`${base}/admin/ping`)).text()).toBe('OK')
    const page = await fetch(`${base}/admin/topics/orders?token=${TOKEN}`)
    expect(page.status).toBe(200)
    expect(await page.text()).not.toContain(TOKEN)
    expect((await fetch(`${base}/admin/static/app.js`)).status).toBe(200)
  })

  it('never shows either token', async () => {
    const base = await startAdmin({ nsqdHttpAddresses: ['127.0.0.1:1'], httpBearerToken: TOKEN, upstreamHttpBearerToken: CLUSTER_TOKEN, webDir: webDir() })
    for (const opt of ['http_bearer_token', 'upstream_http_bearer_token']) {
      const res = await fetch(`${base}/config/${opt}`, { headers: bearer(TOKEN) })
      expect(res.status).toBe(400)
      expect(await res.text()).toBe('{"message":"INVALID_OPTION"}')
    }
    const page = await (await fetch(`${base}/`)).text()
    expect(page).not.toContain(TOKEN)
    expect(page).not.toContain(CLUSTER_TOKEN)
  })

  it('is off by default: curl keeps working', async () => {
    const base = await startAdmin({ nsqdHttpAddresses: ['127.0.0.1:1'] })
    expect((await fetch(`${base}/config/log_level`)).status).toBe(200)
  })

  it('takes both tokens as flags and config-file keys', () => {
    expect(parseCommandLine(['--nsqd-http-address=n:4151', `--http-bearer-token=${TOKEN}`, '--upstream-http-bearer-token', CLUSTER_TOKEN]))
      .toMatchObject({ action: 'run', options: { httpBearerToken: TOKEN, upstreamHttpBearerToken: CLUSTER_TOKEN } })
    const file = `http_bearer_token = "${TOKEN}"\nupstream_http_bearer_token = "${CLUSTER_TOKEN}"\n`
    expect(parseCommandLine(['--config=x.cfg'], () => file))
      .toMatchObject({ action: 'run', options: { httpBearerToken: TOKEN, upstreamHttpBearerToken: CLUSTER_TOKEN } })
  })
})

describe('nsqadmin --upstream-http-bearer-token (nsqts)', () => {
  it('works against an nsqd and nsqlookupd that require the token, and nsqd finds lookupd\'s channels with it', async () => {
    const lookupd = await startLookupd({ httpBearerToken: CLUSTER_TOKEN })
    closers.push(() => lookupd.close())
    const nsqd = await startNsqd({ nsqlookupdTcpAddresses: [`127.0.0.1:${lookupd.tcp.port}`], httpBearerToken: CLUSTER_TOKEN, lookupdHttpBearerToken: CLUSTER_TOKEN })
    closers.push(() => nsqd.close())
    const lookupdAddress = `127.0.0.1:${lookupd.http.port}`
    const base = await startAdmin({
      lookupdHttpAddresses: [lookupdAddress],
      httpBearerToken: TOKEN,
      upstreamHttpBearerToken: CLUSTER_TOKEN,
    })
    const api = async (method: string, path: string, body?: unknown): Promise<{ status: number, body: any }> => {
      const res = await fetch(`${base}/api/${path}`, { method, headers: bearer(TOKEN), body: body === undefined ? undefined : JSON.stringify(body) })
      return { status: res.status, body: await res.json() }
    }

    // Through lookupd: a topic and channel created by nsqadmin exist on lookupd, and nsqd pre-creates the channel.
    expect((await api('POST', 'topics', { topic: 'secured', channel: 'billing' })).status).toBe(200)
    await waitFor(async () => (await api('GET', 'nodes')).body.nodes?.length === 1, 5000, 'nsqd in /api/nodes')
    const client = new NsqdHttpClient(`127.0.0.1:${nsqd.http.port}`, { bearerToken: CLUSTER_TOKEN })
    await client.publish('secured', 'x')
    await waitFor(async () => (await api('GET', 'topics/secured/billing')).body.depth === 1, 5000, 'channel depth 1 through nsqd')

    // An action goes to nsqd with the token.
    expect((await api('POST', 'topics/secured/billing', { action: 'pause' })).status).toBe(200)
    expect((await client.stats({ topic: 'secured' })).topics?.[0]?.channels[0]?.paused).toBe(true)

    // Without the upstream token, nsqadmin reaches nothing: lookupd's 401 is its upstream error.
    const blind = await startAdmin({ lookupdHttpAddresses: [lookupdAddress] })
    const refused = await fetch(`${blind}/api/topics`)
    expect(refused.status).toBe(502)
    expect((await refused.json() as { message: string }).message).toMatch(/got response 401 Unauthorized/)
  })

  it('all three daemons answer the same 401', async () => {
    const lookupd = await startLookupd({ httpBearerToken: CLUSTER_TOKEN })
    closers.push(() => lookupd.close())
    const nsqd = await startNsqd({ httpBearerToken: CLUSTER_TOKEN })
    closers.push(() => nsqd.close())
    const admin = await startAdmin({ nsqdHttpAddresses: [`127.0.0.1:${nsqd.http.port}`], httpBearerToken: TOKEN })
    const answer = async (url: string): Promise<unknown> => {
      const res = await fetch(url)
      const headers = Object.fromEntries(['www-authenticate', 'content-type', 'x-nsq-content-type'].map((h) => [h, res.headers.get(h)]))
      return { status: res.status, headers, body: await res.text() }
    }
    const expected = await answer(`${nsqd.httpUrl}/stats`)
    expect(expected).toMatchObject({ status: 401, body: '{"message":"UNAUTHORIZED"}' })
    expect(await answer(`${lookupd.httpUrl}/nodes`)).toEqual(expected)
    expect(await answer(`${admin}/api/nodes`)).toEqual(expected)
  })
})
