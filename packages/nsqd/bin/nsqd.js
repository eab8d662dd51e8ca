#!/usr/bin/env node
import { launch } from '@nsqts/protocol/launch'

await launch('nsqd', new URL('../dist/bin/nsqd.js', import.meta.url))
