import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseCommandLine } from '../src/cli.js'
import type { NSQLookupd } from '../src/index.js'
import { rawHttp, significantHeaders, startLookupd, stopAll } from './helpers.js'

const TOKEN = 's3cret-token'

describe('--http-bearer-token (nsqts; NSQ leaves its HTTP API open)', () => {
  let closed: NSQLookupd
  let open: NSQLookupd
  beforeAll(async () => {
    closed = await startLookupd({ httpBearerToken: TOKEN })
    open = await startLookupd()
  })
  afterAll(stopAll)

  const request = async (lookupd: NSQLookupd, method: string, target: string,
    authorization?: string): Promise<{ status: string, headers: Array<[string, string]>, body: string }> => {
    const head = authorization === undefined ? '' : `Authorization: ${authorization}\r\n`
    const { statusLine, headers, body } = await rawHttp(lookupd.httpAddress.port, method, target, head)
    return { status: statusLine, headers: significantHeaders(headers), body: body.toString('latin1') }
  }

  it('answers nsqd\'s 401 without the token or with a wrong one, on routes and non-routes alike', async () => {
    const unauthorized = {
      status: 'HTTP/1.1 401 Unauthorized',
      headers: [
        ['Content-Length', '26'],
        ['Content-Type', 'application/json; charset=utf-8'],
        ['Www-Authenticate', 'Bearer'],
        ['X-Nsq-Content-Type', 'nsq; version=1.0'],
      ],
      body: '{"message":"UNAUTHORIZED"}',
    }
    expect(await request(closed, 'GET', '/nodes')).toEqual(unauthorized)
    expect(await request(closed, 'POST', '/topic/create?topic=refused', `Bearer ${TOKEN.slice(0, -1)}X`)).toEqual(unauthorized)
    expect(await request(closed, 'GET', '/lookup?topic=t', `Bearer ${TOKEN}x`)).toEqual(unauthorized)
    expect(await request(closed, 'GET', '/lookup?topic=t', TOKEN)).toEqual(unauthorized)
    // No redirect, 404 or 405 tells an outsider which paths exist.
    expect(await request(closed, 'GET', '/NODES')).toEqual(unauthorized)
    expect(await request(closed, 'GET', '/no-such-route')).toEqual(unauthorized)
    expect(closed.db.findRegistrations('topic', 'refused', '')).toHaveLength(0)
  })

  it('serves every route with the token', async () => {
    const created = await request(closed, 'POST', '/topic/create?topic=t', `Bearer ${TOKEN}`)
    expect(created.status).toBe('HTTP/1.1 200 OK')
    const channels = await request(closed, 'GET', '/channels?topic=t', `Bearer ${TOKEN}`)
    expect(channels.body).toBe('{"channels":[]}')
    expect((await request(closed, 'GET', '/NODES', `Bearer ${TOKEN}`)).status).toBe('HTTP/1.1 301 Moved Permanently')
  })

  it('leaves /ping open, and never shows the token', async () => {
    expect(await request(closed, 'GET', '/ping')).toMatchObject({ status: 'HTTP/1.1 200 OK', body: 'OK' })
    for (const target of ['/info', '/debug', '/metrics']) {
      expect((await request(closed, 'GET', target, `Bearer ${TOKEN}`)).body).not.toContain(TOKEN)
    }
  })

  it('is off by default: curl keeps working', async () => {
    expect((await request(open, 'GET', '/nodes')).status).toBe('HTTP/1.1 200 OK')
  })

  it('is a flag and a config-file key', () => {
    expect(parseCommandLine(['--http-bearer-token', TOKEN], () => '')).toEqual({ action: 'run', options: { httpBearerToken: TOKEN } })
    expect(parseCommandLine(['--config', 'f'], () => `http_bearer_token = "${TOKEN}"\n`)).toEqual({ action: 'run', options: { httpBearerToken: TOKEN } })
  })
})
