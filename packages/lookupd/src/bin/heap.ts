import { setFlagsFromString } from 'node:v8'

/*
 * Imported first by the nsqlookupd bin, before anything else is loaded. nsqlookupd's live heap is small (about 30 MB
 * with 2,000 peers of 150 registrations each), but a registration storm and large answers (/nodes of 2,000 peers is
 * 1.5 MB) allocate fast, and on a machine with plenty of memory V8 then grows the young generation to 16 MiB
 * semi-spaces and lets the old generation grow to up to four times what was live at its last full collection: some
 * 70 MB of heap for 30 MB of data. Nearly all of the garbage dies young, so nsqlookupd keeps the 1 MiB semi-spaces
 * it starts with, and grows the old generation by half (a few more full collections of a small heap):
 * scripts/bench-lookupd.mjs's peak RSS falls from 165 MB to about 110 MB. --optimize-for-size saved as much but made
 * /nodes 1.5 times slower. Whoever sets the semi-space size or the heap's growth on node's command line or in
 * NODE_OPTIONS keeps their choice.
 */
const chosen = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].join(' ')
if (!/semi[-_]space/.test(chosen)) setFlagsFromString('--semi-space-growth-factor=1')
if (!/heap[-_]growing|optimize[-_]for[-_]size/.test(chosen)) setFlagsFromString('--heap-growing-percent=50')
