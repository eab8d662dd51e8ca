#!/usr/bin/env node
import { launch } from '@nsqts/protocol/launch'

await launch('nsq_to_http', new URL('../dist/bin/nsq_to_http.js', import.meta.url))
