#!/bin/sh
':' // ; export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"; exec node "$0" "$@"
// Line 2 is for sh (then node runs this file) and a string and a comment for JavaScript. glibc gives each thread that
// allocates a malloc arena of its own and keeps what was freed there: nsqd's LevelDB, libuv and V8 threads held 4-7 MB
// more at the peak of NSQ's benchmark than with two arenas, at the same throughput (docs/performance.md). glibc reads
// the setting only from the environment at start, hence here; an operator's own value is kept. sh rather than
// `env -S`, which BusyBox's env (Alpine) does not have.
import { launch } from '@nsqts/protocol/launch'

await launch('nsqd', new URL('../dist/bin/nsqd.js', import.meta.url))
