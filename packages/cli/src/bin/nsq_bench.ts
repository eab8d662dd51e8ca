#!/usr/bin/env node
import { runTool } from '../cli/run.js'
import { nsqBench } from '../tools/nsq_bench.js'

await runTool(nsqBench, process.argv.slice(2))
