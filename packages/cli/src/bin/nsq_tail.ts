#!/usr/bin/env node
import { runTool } from '../cli/run.js'
import { nsqTail } from '../tools/nsq_tail.js'

await runTool(nsqTail, process.argv.slice(2))
