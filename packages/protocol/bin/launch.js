// The bins of every nsqts package are small committed files that load their build through this. npm links a
// package's bins when it is installed, and only those whose file exists then; in a clone, dist/ is made later by
// `npm run build`, so a bin that pointed into dist/ would never be linked and `npx nsqd` would not find it.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** Runs the built bin at `built` (a file: URL), or says how to build it when it is not there. */
export async function launch (name, built) {
  if (!existsSync(built)) {
    process.stderr.write(`${name}: ${fileURLToPath(built)} is not built; run npm run build first\n`)
    process.exit(1)
  }
  await import(built.href)
}
