import { readFileSync } from 'node:fs'
import { describe, it, expect, beforeAll, afterAll, beforeEach } from 'vitest'
import { FrameType, commands, type Logger } from '@nsqts/protocol'
import { RawConn, startNsqd, type NsqdHandle } from '@nsqts/testkit'
import { makeCerts, startAuthServer, type AuthServer, type TestCerts } from './security-helpers.js'

const GRANT = { ttl: 3600, identity: 'bob', identity_url: '', authorizations: [{ topic: '.*', channels: ['.*'], permissions: ['publish'] }] }

let certs: TestCerts
/** A second CA, which did not sign the auth server's certificate. */
let otherCerts: TestCerts
let httpsAuth: AuthServer
let plainAuth: AuthServer
beforeAll(async () => {
  certs = makeCerts()
  otherCerts = makeCerts()
  const tls = { cert: readFileSync(certs.certFile), key: readFileSync(certs.keyFile) }
  httpsAuth = await startAuthServer(() => ({ body: GRANT }), tls)
  plainAuth = await startAuthServer(() => ({ body: GRANT }))
})
afterAll(async () => {
  await httpsAuth?.close()
  await plainAuth?.close()
  certs?.remove()
  otherCerts?.remove()
})
beforeEach(() => {
  httpsAuth.requests.length = 0
  plainAuth.requests.length = 0
})

/** nsqd with a logger whose warnings land in `warnings`. */
async function nsqd (init: Parameters<typeof startNsqd>[0], warnings: string[] = []): Promise<NsqdHandle> {
  const logger: Logger = { debug () {}, info () {}, warn: (m) => { warnings.push(m) }, error () {} }
  return await startNsqd({ ...init, logger })
}

/** Sends IDENTIFY and AUTH; the frame that answers the AUTH. */
async function auth (d: NsqdHandle): Promise<{ raw: RawConn, type: number, text: string }> {
  const raw = await RawConn.open(d.tcp)
  raw.write(commands.identify({ feature_negotiation: true }))
  await raw.expect(FrameType.Response)
  raw.write(commands.auth('s3cret'))
  const { type, data } = await raw.frame()
  return { raw, type, text: data.toString() }
}

describe('HTTPS auth servers are verified against --tls-root-ca-file', () => {
  it('AUTH succeeds with a server whose certificate that CA signed', async () => {
    const d = await nsqd({ authHttpAddresses: [`https://${httpsAuth.address}/auth`], tlsRootCaFile: certs.caFile })
    try {
      const { raw, type, text } = await auth(d)
      expect(type).toBe(FrameType.Response)
      expect(JSON.parse(text)).toEqual({ identity: 'bob', identity_url: '', permission_count: 1 })
      raw.close()
      expect(httpsAuth.requests.map((r) => r.params)).toEqual([{ common_name: '', remote_ip: '127.0.0.1', secret: 's3cret', tls: 'false' }])
    } finally {
      await d.close()
    }
  })

  it('AUTH fails, and the reason is logged, when another CA is the root', async () => {
    const warnings: string[] = []
    const d = await nsqd({ authHttpAddresses: [`https://${httpsAuth.address}/auth`], tlsRootCaFile: otherCerts.caFile }, warnings)
    try {
      const { raw, type, text } = await auth(d)
      expect([type, text]).toEqual([FrameType.Error, 'E_AUTH_FAILED AUTH failed'])
      await raw.waitClosed()
      expect(httpsAuth.requests).toHaveLength(0)
      expect(warnings.join('\n')).toMatch(/AUTH failed .*certificate/)
    } finally {
      await d.close()
    }
  })
})

describe.each(['get', 'post'] as const)('a 403 TLS_REQUIRED answer (--auth-http-request-method=%s)', (method) => {
  it('is asked again over https on its https_port', async () => {
    const httpsPort = Number(httpsAuth.address.split(':')[1])
    plainAuth.answer = () => ({ status: 403, body: { message: 'TLS_REQUIRED', https_port: httpsPort } })
    const d = await nsqd({
      authHttpAddresses: [plainAuth.address], authHttpRequestMethod: method, tlsRootCaFile: certs.caFile,
    })
    try {
      const { raw, type, text } = await auth(d)
      expect([type, JSON.parse(text)]).toEqual([FrameType.Response, { identity: 'bob', identity_url: '', permission_count: 1 }])
      raw.close()
      // The same request, path, query and body, went to both.
      expect(plainAuth.requests).toHaveLength(1)
      expect(httpsAuth.requests).toHaveLength(1)
      const [first, retried] = [plainAuth.requests[0], httpsAuth.requests[0]]
      expect({ ...retried }).toEqual({ ...first })
      expect(retried?.method).toBe(method.toUpperCase())
    } finally {
      await d.close()
    }
  })

  it('without an https_port is a failure, not a retry', async () => {
    plainAuth.answer = () => ({ status: 403, body: { message: 'FORBIDDEN' } })
    const warnings: string[] = []
    const d = await nsqd({
      authHttpAddresses: [plainAuth.address], authHttpRequestMethod: method, tlsRootCaFile: certs.caFile,
    }, warnings)
    try {
      const { raw, type, text } = await auth(d)
      expect([type, text]).toEqual([FrameType.Error, 'E_AUTH_FAILED AUTH failed'])
      await raw.waitClosed()
      expect(httpsAuth.requests).toHaveLength(0)
      expect(warnings.join('\n')).toContain('got response 403 {"message":"FORBIDDEN"}')
    } finally {
      await d.close()
    }
  })
})
