#!/usr/bin/env node
import { launch } from '@nsqts/protocol/launch'

await launch('nsq_bench', new URL('../dist/bin/nsq_bench.js', import.meta.url))
