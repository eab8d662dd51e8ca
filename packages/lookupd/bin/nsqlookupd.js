#!/usr/bin/env node
import { launch } from '@nsqts/protocol/launch'

await launch('nsqlookupd', new URL('../dist/bin/nsqlookupd.js', import.meta.url))
