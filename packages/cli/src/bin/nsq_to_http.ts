#!/usr/bin/env node
import { runTool } from '../cli/run.js'
import { nsqToHttp } from '../tools/nsq_to_http.js'

await runTool(nsqToHttp, process.argv.slice(2))
