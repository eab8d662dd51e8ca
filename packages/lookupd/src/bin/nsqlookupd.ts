#!/usr/bin/env node
// First: V8's heap sizing must be set before the rest of nsqlookupd loads (heap.ts).
import './heap.js'
import { runCli } from '../cli.js'

runCli(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`nsqlookupd: ${String(err)}\n`)
  process.exit(1)
})
