#!/usr/bin/env node
import { launch } from '@nsqts/protocol/launch'

await launch('to_nsq', new URL('../dist/bin/to_nsq.js', import.meta.url))
