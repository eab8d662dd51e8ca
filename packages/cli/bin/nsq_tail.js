#!/usr/bin/env node
import { launch } from '@nsqts/protocol/launch'

await launch('nsq_tail', new URL('../dist/bin/nsq_tail.js', import.meta.url))
