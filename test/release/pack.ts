/**
 * Packs every published package once, before any test file runs: the browser test rebuilds the dashboard into
 * packages/admin-ui/dist/web while it runs, so packing later could catch that folder half written. The tarballs go
 * to a temp folder outside the repo, handed to the tests as `tarballDir`; `packed` lists what each one holds.
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { TestProject } from 'vitest/node'

export const PUBLISHED = ['protocol', 'nsqd', 'lookupd', 'client', 'cli', 'admin-ui']

export interface PackedTarball { name: string, filename: string, files: string[] }

declare module 'vitest' {
  export interface ProvidedContext {
    tarballDir: string
    packed: PackedTarball[]
  }
}

const root = fileURLToPath(new URL('../../', import.meta.url))

export default async function setup (project: TestProject): Promise<() => Promise<void>> {
  // What the packages need built: every package's dist/ and the dashboard (npm test runs `npm run build` first).
  const needed = [...PUBLISHED.map((dir) => `packages/${dir}/dist/index.js`), 'packages/admin-ui/dist/web/index.html']
  const missing = needed.filter((file) => !existsSync(join(root, file)))
  if (missing.length > 0) throw new Error(`the tarball test packs the build; run npm run build first (missing ${missing.join(', ')})`)

  const dir = await mkdtemp(join(tmpdir(), 'nsqts-tarballs-'))
  // Scripts are skipped: prepack would rebuild what was just checked, and the dashboard build is the slow part.
  const args = ['pack', '--json', '--ignore-scripts', '--pack-destination', dir, ...PUBLISHED.map((p) => `--workspace=packages/${p}`)]
  const { stdout } = await promisify(execFile)('npm', args, { cwd: root, maxBuffer: 64 * 1024 * 1024 })
  const packed = (JSON.parse(stdout) as Array<{ name: string, filename: string, files: Array<{ path: string }> }>)
    .map((p) => ({ name: p.name, filename: p.filename, files: p.files.map((f) => f.path) }))
  project.provide('tarballDir', dir)
  project.provide('packed', packed)
  return async () => { await rm(dir, { recursive: true, force: true }) }
}
