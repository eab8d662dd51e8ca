import { readdirSync, readFileSync, existsSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

/**
 * No package's src may import itself in a circle through value imports: a circle makes module evaluation order
 * decide whether a binding exists yet, and it ties the files of a circle into one room. `import type` and
 * `export type` are erased, so they do not count; `import { type A }` does, since verbatimModuleSyntax keeps it as
 * an import of the module.
 */

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')

function sourceFiles (dir: string): string[] {
  const out: string[] = []
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path))
    else if (/\.tsx?$/.test(name) && !name.endsWith('.d.ts')) out.push(path)
  }
  return out
}

const IMPORT_FROM = /\bimport\s+(type\s+)?(?:[\w$]+\s*,\s*)?(?:\{[^}]*\}|\*\s+as\s+[\w$]+|[\w$]+)\s+from\s+['"]([^'"]+)['"]/g
const EXPORT_FROM = /\bexport\s+(type\s+)?(?:\{[^}]*\}|\*(?:\s+as\s+[\w$]+)?)\s+from\s+['"]([^'"]+)['"]/g
const BARE_IMPORT = /\bimport\s+['"]([^'"]+)['"]/g

/** The relative modules a file imports for their values (what runs when the file is loaded). */
export function valueImports (source: string): string[] {
  // Comments may quote imports; strings holding `//` (URLs) are left alone by only stripping whole-line comments.
  const text = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '')
  const out: string[] = []
  for (const re of [IMPORT_FROM, EXPORT_FROM]) {
    for (const m of text.matchAll(re)) if (m[1] === undefined) out.push(m[2] as string)
  }
  for (const m of text.matchAll(BARE_IMPORT)) out.push(m[1] as string)
  return out.filter((s) => s.startsWith('.'))
}

function resolveImport (from: string, spec: string): string | undefined {
  const base = resolve(dirname(from), spec).replace(/\.js$/, '')
  for (const candidate of [`${base}.ts`, `${base}.tsx`, join(base, 'index.ts'), join(base, 'index.tsx')]) {
    if (existsSync(candidate)) return candidate
  }
  return undefined
}

/** Every circle of the graph, one per strongly connected component, as the path that closes it. */
export function findCycles (graph: Map<string, string[]>): string[][] {
  let counter = 0
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const components: string[][] = []
  const connect = (v: string): void => {
    index.set(v, counter)
    low.set(v, counter++)
    stack.push(v)
    onStack.add(v)
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        connect(w)
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number))
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) as number, index.get(w) as number))
      }
    }
    if (low.get(v) !== index.get(v)) return
    const component: string[] = []
    let w: string
    do {
      w = stack.pop() as string
      onStack.delete(w)
      component.push(w)
    } while (w !== v)
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) components.push(component)
  }
  for (const v of graph.keys()) if (!index.has(v)) connect(v)
  return components.map((component) => {
    const path = closePath(graph, new Set(component))
    // The shortest circle names the files to look at; the count says how many more it ties together.
    return component.length > path.length - 1 ? [...path, `(${component.length} files in all)`] : path
  })
}

/** A shortest circle through the component's first file, found by breadth-first search inside the component. */
function closePath (graph: Map<string, string[]>, component: Set<string>): string[] {
  const start = [...component].sort()[0] as string
  const parent = new Map<string, string>()
  const queue = [start]
  for (let i = 0; i < queue.length; i++) {
    const v = queue[i] as string
    for (const w of graph.get(v) ?? []) {
      if (!component.has(w)) continue
      if (w === start) {
        const path = [start]
        for (let at = v; at !== start; at = parent.get(at) as string) path.splice(1, 0, at)
        return [...path, start]
      }
      if (!parent.has(w)) {
        parent.set(w, v)
        queue.push(w)
      }
    }
  }
  return [start, start]
}

describe('import circles', () => {
  it('finds a circle and leaves type-only imports out', () => {
    expect(valueImports([
      "import type { A } from './a.js'",
      "import { type B } from './b.js'",
      "export type { C } from './c.js'",
      "export * from './d.js'",
      "import e, { f } from './e.js'",
      "import './g.js'",
      "// import { h } from './h.js'",
      "import { i } from 'node:fs'",
    ].join('\n'))).toEqual(['./b.js', './e.js', './d.js', './g.js'])
    const graph = new Map([['a', ['b']], ['b', ['c']], ['c', ['a', 'd']], ['d', []], ['e', ['e']]])
    expect(findCycles(graph)).toEqual([['a', 'b', 'c', 'a'], ['e', 'e']])
  })

  // Each package's src, and a web app's src beside it (admin-ui/web/src).
  const roots = readdirSync(join(root, 'packages')).flatMap((p) => ['src', 'web/src'].map((s) => `${p}/${s}`))
    .filter((dir) => existsSync(join(root, 'packages', dir)))
  it.each(roots)('none inside packages/%s', (dir) => {
    const src = join(root, 'packages', dir)
    const graph = new Map<string, string[]>()
    for (const file of sourceFiles(src)) {
      const targets = valueImports(readFileSync(file, 'utf8')).map((spec) => resolveImport(file, spec))
      graph.set(file, targets.filter((t): t is string => t !== undefined && t.startsWith(src)))
    }
    const cycles = findCycles(graph).map((cycle) => cycle.map((f) => f.startsWith('(') ? f : relative(src, f)).join(' -> '))
    expect(cycles).toEqual([])
  })
})
