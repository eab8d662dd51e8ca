import { describe, it, expect, beforeAll, afterAll, beforeEach } from 'vitest'
import { Consumer, Producer } from '@nsqts/client'
import { FrameType, commands } from '@nsqts/protocol'
import { RawConn, startNsqd, waitFor, type NsqdHandle } from '@nsqts/testkit'
import { makeCerts, startAuthServer, type AuthRequest, type AuthServer, type TestCerts } from './security-helpers.js'

/** What the auth server grants by default: publish to pub_*, subscribe to sub_* on channels ch*, for an hour. */
const GRANT = {
  ttl: 3600,
  identity: 'alice',
  identity_url: 'https://auth.example/alice',
  authorizations: [
    { topic: '^pub_', channels: ['.*'], permissions: ['publish'] },
    { topic: '^sub_', channels: ['^ch'], permissions: ['subscribe'] },
  ],
}

let auth: AuthServer
let certs: TestCerts
beforeAll(async () => {
  auth = await startAuthServer(() => ({ body: GRANT }))
  certs = makeCerts()
})
afterAll(async () => {
  await auth?.close()
  certs?.remove()
})
beforeEach(() => {
  auth.requests.length = 0
  auth.answer = () => ({ body: GRANT })
})

async function identified (h: NsqdHandle): Promise<RawConn> {
  const raw = await RawConn.open(h.tcp)
  raw.write(commands.identify({ feature_negotiation: true }))
  expect(JSON.parse(await raw.expect(FrameType.Response))).toMatchObject({ auth_required: true })
  return raw
}

async function authed (h: NsqdHandle, secret = 's3cret'): Promise<RawConn> {
  const raw = await identified(h)
  raw.write(commands.auth(secret))
  expect(JSON.parse(await raw.expect(FrameType.Response))).toEqual({ identity: 'alice', identity_url: 'https://auth.example/alice', permission_count: 2 })
  return raw
}

async function expectFatal (raw: RawConn, text: string): Promise<void> {
  expect(await raw.expect(FrameType.Error)).toBe(text)
  await raw.waitClosed()
}

describe.each(['get', 'post'] as const)('AUTH with --auth-http-request-method=%s', (method) => {
  let d: NsqdHandle
  beforeAll(async () => { d = await startNsqd({ authHttpAddresses: [auth.address], authHttpRequestMethod: method }) })
  afterAll(async () => { await d?.close() })

  it('asks the auth server with NSQ\'s exact parameters', async () => {
    const raw = await authed(d, 'a secret&more')
    raw.close()
    expect(auth.requests).toHaveLength(1)
    const r = auth.requests[0] as AuthRequest
    expect(r.accept).toBe('application/vnd.nsq; version=1.0')
    expect(r.params).toEqual({ common_name: '', remote_ip: '127.0.0.1', secret: 'a secret&more', tls: 'false' })
    if (method === 'get') {
      expect(r.method).toBe('GET')
      expect(r.url).toBe('/auth?common_name=&remote_ip=127.0.0.1&secret=a+secret%26more&tls=false')
    } else {
      expect(r.method).toBe('POST')
      expect(r.contentType).toBe('application/json')
      expect(r.rawBody).toBe('{"common_name":[""],"remote_ip":["127.0.0.1"],"secret":["a secret\\u0026more"],"tls":["false"]}')
    }
  })

  it('allows and refuses publishes (PUB, DPUB, MPUB) by topic', async () => {
    const raw = await authed(d)
    raw.write(commands.pub('pub_ok', 'x'))
    expect(await raw.expect(FrameType.Response)).toBe('OK')
    raw.write(commands.dpub('pub_ok', 10, 'x'))
    expect(await raw.expect(FrameType.Response)).toBe('OK')
    raw.write(commands.mpub('pub_ok', ['a', 'b']))
    expect(await raw.expect(FrameType.Response)).toBe('OK')
    raw.write(commands.pub('sub_x', 'x'))
    await expectFatal(raw, 'E_UNAUTHORIZED AUTH failed for PUB on "sub_x" ""')
    // MPUB is checked before its body is read: the line alone gets the answer.
    const m = await authed(d)
    m.write('MPUB other\n')
    await expectFatal(m, 'E_UNAUTHORIZED AUTH failed for MPUB on "other" ""')
  })

  it('allows and refuses subscriptions by topic and channel', async () => {
    const ok = await authed(d)
    ok.write(commands.sub('sub_a', 'ch1'))
    expect(await ok.expect(FrameType.Response)).toBe('OK')
    ok.close()
    const badChannel = await authed(d)
    badChannel.write(commands.sub('sub_a', 'other'))
    await expectFatal(badChannel, 'E_UNAUTHORIZED AUTH failed for SUB on "sub_a" "other"')
    const noSubscribe = await authed(d)
    noSubscribe.write(commands.sub('pub_a', 'ch'))
    await expectFatal(noSubscribe, 'E_UNAUTHORIZED AUTH failed for SUB on "pub_a" "ch"')
  })

  it('E_AUTH_FIRST, E_AUTH_FAILED, no authorizations, AUTH twice', async () => {
    for (const cmd of [commands.pub('pub_x', 'x'), commands.sub('sub_x', 'ch'), commands.mpub('pub_x', ['x']), commands.dpub('pub_x', 1, 'x')]) {
      const raw = await identified(d)
      raw.write(cmd)
      const name = cmd.toString('latin1').split(/[ \n]/)[0] as string
      await expectFatal(raw, `E_AUTH_FIRST AUTH required before ${name}`)
    }
    auth.answer = () => ({ status: 500, body: { message: 'boom' } })
    const failed = await identified(d)
    failed.write(commands.auth('x'))
    await expectFatal(failed, 'E_AUTH_FAILED AUTH failed')
    for (const body of [{ ttl: 0, authorizations: GRANT.authorizations }, { ttl: 10, authorizations: [{ topic: '.*', channels: ['.*'], permissions: ['admin'] }] }]) {
      auth.answer = () => ({ body })
      const invalid = await identified(d)
      invalid.write(commands.auth('x'))
      await expectFatal(invalid, 'E_AUTH_FAILED AUTH failed')
    }
    auth.answer = () => ({ body: { ttl: 10, authorizations: [] } })
    const none = await identified(d)
    none.write(commands.auth('x'))
    await expectFatal(none, 'E_UNAUTHORIZED AUTH no authorizations found')
    auth.answer = () => ({ body: GRANT })
    const twice = await authed(d)
    twice.write(commands.auth('again'))
    await expectFatal(twice, 'E_INVALID AUTH already set')
  })

  it('asks again once the ttl expired, holding the commands behind it', async () => {
    auth.answer = () => ({ body: { ...GRANT, ttl: 1 } })
    const raw = await authed(d)
    const authedAt = Date.now()
    raw.write(commands.pub('pub_ttl', 'cached'))
    expect(await raw.expect(FrameType.Response)).toBe('OK')
    expect(auth.requests).toHaveLength(1)
    await waitFor(() => Date.now() - authedAt > 1100, 3000, 'the ttl to pass')
    // Expired: the PUB waits for a fresh answer; the NOP and PUB pipelined behind it keep their order.
    raw.write(Buffer.concat([commands.pub('pub_ttl', 'requeried'), commands.nop(), commands.pub('pub_ttl', 'after')]))
    expect(await raw.expect(FrameType.Response)).toBe('OK')
    expect(await raw.expect(FrameType.Response)).toBe('OK')
    expect(auth.requests).toHaveLength(2)
    await waitFor(() => Date.now() - authedAt > 2200, 3000, 'the ttl to pass again')
    auth.answer = () => ({ body: { ...GRANT, ttl: 1, authorizations: [GRANT.authorizations[1]] } })
    raw.write(commands.pub('pub_ttl', 'revoked'))
    await expectFatal(raw, 'E_UNAUTHORIZED AUTH failed for PUB on "pub_ttl" ""')
    expect(auth.requests).toHaveLength(3)
  })
})

describe('AUTH end to end', () => {
  it('our client AUTHs (over TLS, sending its certificate CN), publishes and consumes; /stats shows the identity', async () => {
    const d = await startNsqd({
      authHttpAddresses: [`http://${auth.address}/auth`],
      tlsCert: `${certs.dir}/server.pem`,
      tlsKey: `${certs.dir}/server.key`,
      // As in NSQ, a client certificate is only asked for under a policy.
      tlsClientAuthPolicy: 'require-verify',
      tlsRootCaFile: certs.caFile,
      // TCP only, so that /stats can be read over plain HTTP here.
      tlsRequired: 1,
      httpsAddress: '127.0.0.1:0',
    })
    try {
      const options = { authSecret: 'token-1', tls: { ca: certs.ca, ...certs.client } }
      const address = `127.0.0.1:${d.tcp.port}`
      const producer = new Producer(address, options)
      const consumer = new Consumer('sub_e2e', 'ch', { ...options, nsqdTcpAddresses: address, maxInFlight: 100 })
      const seen = new Set<string>()
      await consumer.handle((m) => { seen.add(m.text()) })
      // The consumer's topic is not publishable with this grant; a second grant allows it.
      auth.answer = () => ({ body: { ...GRANT, authorizations: [...GRANT.authorizations, { topic: '^sub_e2e$', channels: [''], permissions: ['publish'] }] } })
      await producer.publishMany('sub_e2e', Array.from({ length: 1000 }, (_, i) => `m${i}`))
      await waitFor(() => seen.size === 1000, 20_000, 'every message')
      const stats = await (await fetch(`${d.httpUrl}/stats?format=json`)).json() as { producers: Array<Record<string, unknown>> }
      expect(stats.producers[0]).toMatchObject({ authed: true, auth_identity: 'alice', auth_identity_url: 'https://auth.example/alice', tls: true })
      expect(auth.requests.map((r) => r.params)).toContainEqual({ common_name: 'client-cn', remote_ip: '127.0.0.1', secret: 'token-1', tls: 'true' })
      await consumer.close()
      await producer.close()
    } finally {
      await d.close()
    }
  })

  it('without --auth-http-address AUTH is E_AUTH_DISABLED and IDENTIFY says auth_required false', async () => {
    const d = await startNsqd()
    try {
      const raw = await RawConn.open(d.tcp)
      raw.write(commands.identify({ feature_negotiation: true }))
      expect(JSON.parse(await raw.expect(FrameType.Response))).toMatchObject({ auth_required: false })
      raw.write(commands.auth('x'))
      await expectFatal(raw, 'E_AUTH_DISABLED AUTH disabled')
    } finally {
      await d.close()
    }
  })
})
