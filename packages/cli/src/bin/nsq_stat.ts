#!/usr/bin/env node
import { runTool } from '../cli/run.js'
import { nsqStat } from '../tools/nsq_stat.js'

await runTool(nsqStat, process.argv.slice(2))
