import { readFileSync } from 'node:fs'
import { it, expect } from 'vitest'
import { ERROR_CODES, isFatalCode } from '../src/index.js'

it('docs/errors.md lists every error code with its fatality', () => {
  const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8')
  const rows = [...doc.matchAll(/^\| `(E_[A-Z_]+)` \| (yes|no) \|/gm)].map((m) => [m[1], m[2] === 'yes'])
  expect(rows).toEqual(ERROR_CODES.map((code) => [code, isFatalCode(code)]))
})
