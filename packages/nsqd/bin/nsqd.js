#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node
// glibc gives each thread that allocates its own malloc arena and keeps what was freed there: nsqd's LevelDB, libuv
// and V8 threads held 5-12 MB more at the peak of NSQ's benchmark than with two arenas, at the same throughput
// (docs/performance.md). glibc reads the setting only from the environment at start, hence here; an operator who
// wants another value starts dist/bin/nsqd.js with node and their own.
import { launch } from '@nsqts/protocol/launch'

await launch('nsqd', new URL('../dist/bin/nsqd.js', import.meta.url))
