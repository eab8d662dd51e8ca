import { setFlagsFromString } from 'node:v8'

/*
 * Imported first by the nsqd bin, before anything else is loaded. V8 grows the young generation up to 16 MiB
 * semi-spaces (32 MiB of RSS, more while it copies) once a process allocates fast, and a busy nsqd does: a parsed
 * command, a message object, its id. Most of it dies within a turn, so the larger spaces buy little (nsqd's peak RSS
 * over NSQ's benchmark was some 30 MB lower at 1 MiB). The packaged bin (bin/nsqd.js) caps them at 4 MiB on node's
 * command line, the one place V8 takes a cap, so that a reader's in-flight window dies young too; run without it,
 * nsqd keeps the 1 MiB it starts with. Whoever sets the semi-space size on node's command line or in NODE_OPTIONS
 * keeps their choice.
 */
const chosen = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].join(' ')
if (!/semi[-_]space/.test(chosen)) setFlagsFromString('--semi-space-growth-factor=1')
/*
 * After a full collection V8 lets the old generation grow to a multiple of what survived before the next one, up to 4x
 * for a heap it collects quickly, as nsqd's is. What a busy nsqd promotes is mostly messages and records that die
 * soon after (delivered, finished), so that room fills with garbage, and with it the pool slabs of their bytes, which
 * V8 frees with them: a growth of 25% held nsqd's peak RSS over NSQ's benchmark some 30 MB lower, for more frequent
 * (incremental, mostly concurrent) full collections. An operator's own --heap-growing-percent wins.
 */
if (!/heap[-_]growing[-_]percent/.test(chosen)) setFlagsFromString('--heap-growing-percent=25')
