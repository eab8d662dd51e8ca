#!/bin/sh
':' // ; export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"; cap=--max-semi-space-size=4; case "$NODE_OPTIONS" in *semi[-_]space*) cap=;; esac; exec node $cap "$0" "$@"
// Line 2 is for sh (then node runs this file) and a string and a comment for JavaScript. glibc gives each thread that
// allocates a malloc arena of its own and keeps what was freed there: nsqd's LevelDB, libuv and V8 threads held 4-7 MB
// more at the peak of NSQ's benchmark than with two arenas, at the same throughput (docs/performance.md). glibc reads
// the setting only from the environment at start, hence here; an operator's own value is kept. sh rather than
// `env -S`, which BusyBox's env (Alpine) does not have. V8's young generation is capped at 4 MiB semi-spaces (it grows
// to 16 MiB by default, and src/bin/heap.ts keeps 1 MiB when run without this bin): a reader's window of in-flight
// messages then dies young instead of being copied and promoted, for 15-20% more reads a second at 3-5 MB more peak
// RSS (docs/performance.md). V8 takes the cap only on node's command line; a semi-space size in NODE_OPTIONS wins.
import { launch } from '@nsqts/protocol/launch'

await launch('nsqd', new URL('../dist/bin/nsqd.js', import.meta.url))
