#!/usr/bin/env node
import { runTool } from '../cli/run.js'
import { nsqToNsq } from '../tools/nsq_to_nsq.js'

await runTool(nsqToNsq, process.argv.slice(2))
