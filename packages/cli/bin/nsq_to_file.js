#!/usr/bin/env node
import { launch } from '@nsqts/protocol/launch'

await launch('nsq_to_file', new URL('../dist/bin/nsq_to_file.js', import.meta.url))
