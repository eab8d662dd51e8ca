#!/usr/bin/env node
import { runCli } from '../cli.js'

runCli(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`nsqd: ${String(err)}\n`)
  process.exit(1)
})
