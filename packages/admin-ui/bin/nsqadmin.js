#!/usr/bin/env node
import { launch } from '@nsqts/protocol/launch'

await launch('nsqadmin', new URL('../dist/bin/nsqadmin.js', import.meta.url))
