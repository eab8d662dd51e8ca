#!/usr/bin/env node
import { launch } from '@nsqts/protocol/launch'

await launch('nsq_to_nsq', new URL('../dist/bin/nsq_to_nsq.js', import.meta.url))
