import { describe, it, expect } from 'vitest'
import { startNsqd } from '@nsqts/testkit'

describe('--http-bearer-token (nsqts; NSQ leaves its HTTP API open)', () => {
  it('answers 401 without the token, serves with it, and leaves /ping open', async () => {
    const d = await startNsqd({ httpBearerToken: 's3cret-token' })
    try {
      const without = await fetch(`${d.httpUrl}/stats?format=json`)
      expect(without.status).toBe(401)
      expect(without.headers.get('www-authenticate')).toBe('Bearer')
      expect(await without.text()).toBe('{"message":"UNAUTHORIZED"}')
      const wrong = await fetch(`${d.httpUrl}/pub?topic=t`, { method: 'POST', body: 'x', headers: { authorization: 'Bearer s3cret-tokeX' } })
      expect(wrong.status).toBe(401)
      const right = await fetch(`${d.httpUrl}/pub?topic=t`, { method: 'POST', body: 'x', headers: { authorization: 'Bearer s3cret-token' } })
      expect(right.status).toBe(200)
      expect(await right.text()).toBe('OK')
      expect((await fetch(`${d.httpUrl}/ping`)).status).toBe(200)
      // The token is not one of the options GET /config shows.
      const config = await fetch(`${d.httpUrl}/config/http_bearer_token`, { headers: { authorization: 'Bearer s3cret-token' } })
      expect(config.status).toBe(400)
    } finally {
      await d.close()
    }
  })

  it('is off by default: curl keeps working', async () => {
    const d = await startNsqd()
    try {
      expect((await fetch(`${d.httpUrl}/stats?format=json`)).status).toBe(200)
    } finally {
      await d.close()
    }
  })
})
