#!/usr/bin/env node
// npm start: a local cluster in one terminal. nsqlookupd on 4160/4161, nsqd on 4150/4151 (data under ./data),
// nsqadmin on 4171; --nsqd-nodes N adds nodes on 4250/4251, 4350/4351, ... Ctrl-C stops them all cleanly.
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { parseArgs } from 'node:util'

const { values: args } = parseArgs({
  options: {
    'nsqd-nodes': { type: 'string', default: '1' },
    'data-dir': { type: 'string', default: 'data' },
    durable: { type: 'boolean', default: false },
  },
})
const root = new URL('../', import.meta.url)
// Each daemon runs through its package's bin, as it does by name from the PATH or npx (a bin may set its
// environment first, as nsqd's does); `built` is what the bin loads.
const bin = (pkg, name) => new URL(`packages/${pkg}/bin/${name}.js`, root).pathname
const built = (pkg, name) => new URL(`packages/${pkg}/dist/bin/${name}.js`, root).pathname
const colors = [36, 33, 32, 35, 34, 31]

const procs = [{ name: 'nsqlookupd', bin: bin('lookupd', 'nsqlookupd'), built: built('lookupd', 'nsqlookupd'), args: ['--tcp-address=0.0.0.0:4160', '--http-address=0.0.0.0:4161', '--broadcast-address=127.0.0.1'] }]
const nodes = Math.max(1, Number(args['nsqd-nodes']))
for (let i = 0; i < nodes; i++) {
  const dataPath = i === 0 ? args['data-dir'] : `${args['data-dir']}/nsqd${i + 1}`
  mkdirSync(dataPath, { recursive: true })
  procs.push({
    name: i === 0 ? 'nsqd' : `nsqd${i + 1}`,
    bin: bin('nsqd', 'nsqd'),
    built: built('nsqd', 'nsqd'),
    args: [`--tcp-address=0.0.0.0:${4150 + 100 * i}`, `--http-address=0.0.0.0:${4151 + 100 * i}`, `--https-address=0.0.0.0:${4152 + 100 * i}`,
      '--broadcast-address=127.0.0.1', '--lookupd-tcp-address=127.0.0.1:4160', `--data-path=${dataPath}`,
      ...(args.durable ? ['--durable'] : [])],
  })
}
procs.push({ name: 'nsqadmin', bin: bin('admin-ui', 'nsqadmin'), built: built('admin-ui', 'nsqadmin'), args: ['--http-address=0.0.0.0:4171', '--lookupd-http-address=127.0.0.1:4161'] })

const width = Math.max(...procs.map((p) => p.name.length))
const children = []
let stopping = false

function prefixLines (name, color, stream, out) {
  let rest = ''
  stream.on('data', (chunk) => {
    const lines = (rest + chunk).split('\n')
    rest = lines.pop()
    for (const line of lines) out.write(`\x1b[${color}m${name.padEnd(width)} |\x1b[0m ${line}\n`)
  })
}

for (const [i, p] of procs.entries()) {
  if (!existsSync(p.built)) {
    console.log(`${p.name.padEnd(width)} | not built in this checkout (${p.built}); skipped`)
    continue
  }
  const child = spawn(p.bin, p.args, { stdio: ['ignore', 'pipe', 'pipe'] })
  prefixLines(p.name, colors[i % colors.length], child.stdout, process.stdout)
  prefixLines(p.name, colors[i % colors.length], child.stderr, process.stdout)
  child.on('exit', (code, signal) => {
    console.log(`${p.name.padEnd(width)} | exited (${signal ?? code})`)
    children.splice(children.indexOf(child), 1)
    if (!stopping) stop(code === 0 ? 0 : 1)
    if (children.length === 0) process.exit(process.exitCode ?? 0)
  })
  children.push(child)
}

console.log('\nnsqlookupd http://127.0.0.1:4161  nsqd http://127.0.0.1:4151 (tcp 4150)  nsqadmin http://127.0.0.1:4171')
console.log("try: curl -d hello 'http://127.0.0.1:4151/pub?topic=test' && curl 'http://127.0.0.1:4161/lookup?topic=test'\n")

function stop (code) {
  stopping = true
  process.exitCode = code
  for (const child of children) child.kill('SIGTERM')
  if (children.length === 0) process.exit(code)
}
process.on('SIGINT', () => stop(0))
process.on('SIGTERM', () => stop(0))
