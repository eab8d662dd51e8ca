import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

/**
 * A source file holds one idea, and past about 400 lines it is usually two (docs/architecture.md): every file under
 * a package's src (and the dashboard's web/src) stays within that, so a file that grows past it is split, not let go.
 */

const MAX_LINES = 400
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')

function sourceFiles (dir: string): string[] {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return []
  }
  const out: string[] = []
  for (const name of names) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path))
    else if (/\.tsx?$/.test(name) && !name.endsWith('.d.ts')) out.push(path)
  }
  return out
}

describe('source files', () => {
  it(`are at most ${MAX_LINES} lines`, () => {
    const files = readdirSync(join(root, 'packages'))
      .flatMap((p) => ['src', 'web/src'].flatMap((s) => sourceFiles(join(root, 'packages', p, s))))
    expect(files.length).toBeGreaterThan(100)
    const lines = (path: string): number => readFileSync(path, 'utf8').replace(/\n$/, '').split('\n').length
    const over = files.filter((f) => lines(f) > MAX_LINES).map((f) => `${relative(root, f)} (${lines(f)})`)
    expect(over).toEqual([])
  })
})
