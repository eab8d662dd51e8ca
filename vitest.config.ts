import { readdirSync, existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

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

export default defineConfig({
  resolve: { alias: [...internalAlias, ...alias] },
  test: {
    projects: [
      ...packages.map((name) => ({
        extends: true as const,
        test: { name, root: `packages/${name}`, include: ['test/**/*.test.ts'] },
      })),
      { extends: true as const, test: { name: 'e2e', root: 'test', include: ['**/*.test.ts'], testTimeout: 60_000, hookTimeout: 60_000 } },
    ],
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
})
