import { readdirSync, existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { configDefaults, defineConfig } from 'vitest/config'
import { CAPTURES_AVAILABLE, CAPTURES_DIR } from './packages/testkit/src/captures.js'

const root = fileURLToPath(new URL('.', import.meta.url))
const packages = readdirSync(new URL('packages/', import.meta.url)).filter((name) =>
  existsSync(new URL(`packages/${name}/src/index.ts`, import.meta.url)))

// Tests import sibling packages from source, so `vitest` needs no build first.
const alias = packages.map((name) => ({
  find: new RegExp(`^@nsqts/${name}$`),
  replacement: `${root}packages/${name}/src/index.ts`,
}))
const internalAlias = packages.map((name) => ({
  find: new RegExp(`^@nsqts/${name}/internal$`),
  replacement: `${root}packages/${name}/src/internal.ts`,
}))

// The files that replay NSQ's captures are named *captures.test.ts; a clone without the reference folder beside it
// runs everything else (the few capture cases in other files skip through CAPTURES_AVAILABLE).
const exclude = CAPTURES_AVAILABLE ? configDefaults.exclude : [...configDefaults.exclude, '**/*captures.test.ts']
// Vitest reads this file more than once per run; the notice is for the person reading the run, once.
if (!CAPTURES_AVAILABLE && process.env.NSQTS_CAPTURES_NOTICE === undefined) {
  process.env.NSQTS_CAPTURES_NOTICE = 'shown'
  console.log(`Skipping the capture-replaying tests (*captures.test.ts and a few cases elsewhere): they need NSQ 1.3.0's captures at ${CAPTURES_DIR}, the reference folder ../shared beside this clone.`)
}

// Files that load the whole machine for minutes (soak, chaos) or bound a latency (the reconnect storm's /ping) run
// one at a time after everything else, so they neither slow the other files past their timeouts nor measure them.
const alone = ['test/soak.test.ts', 'test/chaos.test.ts', 'packages/nsqd/test/reconnect-storm.test.ts']
const within = (dir: string): string[] => alone.filter((f) => f.startsWith(`${dir}/`)).map((f) => f.slice(dir.length + 1))

export default defineConfig({
  resolve: { alias: [...internalAlias, ...alias] },
  test: {
    projects: [
      ...packages.map((name) => ({
        extends: true as const,
        test: {
          name,
          root: `packages/${name}`,
          include: ['test/**/*.test.ts'],
          exclude: [...exclude, ...within(`packages/${name}`)],
        },
      })),
      {
        extends: true as const,
        test: {
          name: 'e2e',
          root: 'test',
          include: ['**/*.test.ts'],
          exclude: [...exclude, 'release/**', ...within('test')],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      // The packed tarballs installed and run as a user would (needs `npm run build` first; `npm test` does it).
      {
        extends: true as const,
        test: {
          name: 'release',
          root: 'test/release',
          include: ['*.test.ts'],
          globalSetup: ['pack.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
      {
        extends: true as const,
        test: {
          name: 'alone',
          include: alone,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
    // Two files at a time: most wait on sockets and child processes rather than on this process's CPU, and vitest's
    // default on a 2-core machine (one file at a time) left the suite at 9 minutes in CI.
    maxWorkers: 2,
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
})
