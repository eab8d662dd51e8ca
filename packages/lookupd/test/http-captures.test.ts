import { readdirSync, readFileSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import type { NSQLookupd } from '../src/index.js'
import { CAPTURES_DIR, header, loadHttpCapture, type HttpResponseBytes } from '@nsqts/testkit'
import { fakeNsqd, rawHttp, significantHeaders, startLookupd, stopAll, type V1Conn } from './helpers.js'

/** The nsqlookupd captures in the order they were taken (the state they saw builds up in this order). */
const manifest = readFileSync(CAPTURES_DIR + 'manifest.tsv', 'utf8').split('\n').slice(1)
  .map((line) => line.split('\t'))
  .filter((cols) => cols[0]?.startsWith('nsqlookupd_') === true)
  .map(([file, method, url]) => ({ file: file as string, method: method as string, target: (url as string).replace(/^[^/]*/, '') }))

/**
 * Values that necessarily differ between runs are replaced by their kind: the peer's remote port, timestamps.
 * Arrays whose order is Go map order are sorted (keeping /nodes' tombstones aligned with their topics).
 */
function canonical (body: string): unknown {
  const text = body
    .replace(/"(remote_address|id)":"127\.0\.0\.1:\d+"/g, '"$1":"127.0.0.1:<port>"')
    .replace(/"(last_update|tombstoned_at)":(\d+)/g, '"$1":"<unix nano>"')
  return sortMapOrder(JSON.parse(text))
}

function sortMapOrder (value: unknown): unknown {
  if (Array.isArray(value)) {
    const items = value.map(sortMapOrder)
    return items.every((v) => typeof v === 'string') ? [...items].sort() : items
  }
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>
    const sorted = Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, sortMapOrder(v)]))
    if (Array.isArray(obj.topics) && Array.isArray(obj.tombstones)) {
      const topics = obj.topics as string[]
      const tombstones = obj.tombstones as unknown[]
      const order = topics.map((_, i) => i).sort((a, b) => ((topics[a] as string) < (topics[b] as string) ? -1 : 1))
      return { ...sorted, tombstones: order.map((i) => tombstones[i]), topics: order.map((i) => topics[i]) }
    }
    return sorted
  }
  return value
}

/**
 * A fresh lookupd in the state the capture saw: the captured nsqd's registrations, in its order (orders with two
 * channels, empty_topic, then scratch and its channel, which it deleted again: lookupd keeps the keys), then every
 * request taken before this capture. Each test builds its own, so they pass alone and in any order.
 */
async function stateBefore (index: number): Promise<{ lookupd: NSQLookupd, nsqd: V1Conn }> {
  const lookupd = await startLookupd()
  const nsqd = await fakeNsqd(lookupd.tcpAddress.port)
  for (const line of ['REGISTER orders', 'REGISTER orders billing', 'REGISTER orders audit#ephemeral', 'REGISTER empty_topic',
    'REGISTER scratch', 'REGISTER scratch sc', 'UNREGISTER scratch sc', 'UNREGISTER scratch']) {
    expect(await nsqd.request(line + '\n')).toBe('OK')
  }
  for (const { method, target } of manifest.slice(0, index)) await rawHttp(lookupd.httpAddress.port, method, target)
  return { lookupd, nsqd }
}

describe('HTTP API against the captures of nsqlookupd 1.3.0', () => {
  afterEach(stopAll)

  it('compares every nsqlookupd_*.http capture', () => {
    const files = readdirSync(CAPTURES_DIR).filter((f) => f.startsWith('nsqlookupd_') && f.endsWith('.http')).sort()
    expect(manifest.map((m) => m.file).sort()).toEqual(files)
  })

  for (const [index, { file, method, target }] of manifest.entries()) {
    it(`${method} ${target} answers as ${file}`, async () => {
      const { lookupd, nsqd } = await stateBefore(index)
      const expected = loadHttpCapture(file)
      const actual = await rawHttp(lookupd.httpAddress.port, method, target)
      nsqd.destroy()

      expect(actual.statusLine).toBe(expected.statusLine)
      // Header names compared as sent (Go's canonical case), values too; Content-Length must fit our own body.
      const names = (e: HttpResponseBytes): string[] => significantHeaders(e.headers).map(([n]) => n)
      expect(names(actual)).toEqual(names(expected))
      for (const [name, value] of significantHeaders(expected.headers)) {
        if (name === 'Content-Length') expect(header(actual, name)).toBe(String(actual.body.length))
        else expect(header(actual, name)).toBe(value)
      }

      const expectedBody = expected.body.toString('utf8')
      const actualBody = actual.body.toString('utf8')
      if (header(expected, 'Content-Type')?.startsWith('application/json') === true) {
        expect(canonical(actualBody)).toEqual(canonical(expectedBody))
        // Key order and layout too, once run-dependent values are blanked.
        const blank = (s: string): string => JSON.stringify(canonical(s))
        expect(blank(actualBody)).toBe(blank(expectedBody))
      } else {
        expect(actualBody).toBe(expectedBody)
        expect(header(actual, 'Content-Length')).toBe(header(expected, 'Content-Length'))
      }
    })
  }
})
