#!/usr/bin/env node
import { runTool } from '../cli/run.js'
import { nsqToFile } from '../tools/nsq_to_file.js'

await runTool(nsqToFile, process.argv.slice(2))
