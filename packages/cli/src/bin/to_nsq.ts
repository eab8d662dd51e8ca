#!/usr/bin/env node
import { runTool } from '../cli/run.js'
import { toNsq } from '../tools/to_nsq.js'

await runTool(toNsq, process.argv.slice(2))
