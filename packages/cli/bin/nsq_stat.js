#!/usr/bin/env node
import { launch } from '@nsqts/protocol/launch'

await launch('nsq_stat', new URL('../dist/bin/nsq_stat.js', import.meta.url))
