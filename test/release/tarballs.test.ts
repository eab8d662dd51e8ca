/**
 * The packages as a user gets them: the tarballs `npm pack` makes (packed by pack.ts), installed into an empty folder
 * outside the repo, and installed globally with the README's `npm install -g @nsqts/...` line. Each install runs a
 * cluster through the bins by name (nsqlookupd, nsqd, nsqadmin, to_nsq, nsq_tail), and the folder install imports
 * @nsqts/client from plain ESM and type-checks a TypeScript file against it with tsc.
 *
 * Third-party dependencies come from the npm registry (or npm's cache). @nsqts/* are not published yet, so the
 * global install gets them from a registry on 127.0.0.1 that serves just these tarballs for the @nsqts scope.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { waitFor } from '@nsqts/testkit'
import type {} from './pack.js' // declares what inject('tarballDir') and inject('packed') give

const tarballDir = inject('tarballDir')
const packed = inject('packed')
const tarball = (name: string): string => join(tarballDir, packed.find((p) => p.name === name)!.filename)

const STEP_MS = 180_000
const started = new Set<ChildProcess>()
const temps: string[] = []

async function tempDir (prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  temps.push(dir)
  return dir
}

/**
 * A user's shell: none of the npm_* variables `npm test` sets (npm_config_local_prefix would point a child npm at
 * this repo) and none of this repo's node_modules/.bin folders on the PATH, so a bin found is one the install made.
 */
function userEnv (binDir?: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) if (!/^npm_/i.test(key)) env[key] = value
  const path = (process.env.PATH ?? '').split(delimiter).filter((p) => !p.includes('node_modules'))
  env.PATH = [...(binDir === undefined ? [] : [binDir]), ...path].join(delimiter)
  return env
}

interface Run { code: number | null, stdout: string, stderr: string }

/** Runs a command to its end in its own process group, so a timeout can end all it started. */
async function run (
  cmd: string, args: string[], opts: { cwd: string, env: NodeJS.ProcessEnv, input?: string },
): Promise<Run> {
  const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] })
  started.add(child)
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  child.stdin.end(opts.input ?? '')
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  started.delete(child)
  return { code, stdout, stderr }
}

function endGroup (child: ChildProcess, signal: NodeJS.Signals): void {
  try { process.kill(-child.pid!, signal) } catch { /* already gone */ }
}

interface Daemon { ports: Record<string, number>, stop: () => Promise<void> }

/** Starts a daemon and waits until it has logged the port of each listener in `listeners` (e.g. TCP, HTTP). */
async function startDaemon (
  cmd: string, args: string[], listeners: string[], opts: { cwd: string, env: NodeJS.ProcessEnv },
): Promise<Daemon> {
  const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  started.add(child)
  let log = ''
  let exited = false
  child.stdout.on('data', (d: Buffer) => { log += d.toString() })
  child.stderr.on('data', (d: Buffer) => { log += d.toString() })
  const closed = new Promise<void>((resolve) => child.on('close', () => { exited = true; resolve() }))
  const ports: Record<string, number> = {}
  try {
    await waitFor(() => {
      if (exited) throw new Error(`exited (${child.exitCode ?? child.signalCode})`)
      for (const name of listeners) {
        const m = new RegExp(`\\b${name}: listening on [^\\s]*:(\\d+)`).exec(log)
        if (m !== null) ports[name] = Number(m[1])
      }
      return listeners.every((name) => name in ports)
    }, 60_000, `${listeners.join(' and ')} listening`)
  } catch (err) {
    endGroup(child, 'SIGKILL')
    throw new Error(`${cmd} ${args.join(' ')}: ${(err as Error).message}; its output:\n${log}`)
  }
  return {
    ports,
    stop: async () => {
      endGroup(child, 'SIGTERM')
      await closed
      started.delete(child)
    },
  }
}

/** How a bin is started: by npx in the install folder, or by name from the PATH. */
type Bin = (name: string, args: string[]) => [string, string[]]

/**
 * nsqlookupd, nsqd registered with it and nsqadmin, on ports the system picks; to_nsq publishes two lines, nsq_tail
 * finds them through nsqlookupd and prints them, the dashboard page and its bundle load, and /api sees the topic.
 * `whileUp` runs more checks against nsqd before the cluster stops.
 */
async function exerciseCluster (
  bin: Bin, cwd: string, env: NodeJS.ProcessEnv, whileUp?: (nsqd: Daemon) => Promise<void>,
): Promise<void> {
  const dataPath = await tempDir('nsqts-tarball-data-')
  const start = async (name: string, args: string[], listeners: string[]): Promise<Daemon> =>
    await startDaemon(...bin(name, args), listeners, { cwd, env })
  const lookupd = await start('nsqlookupd', ['--tcp-address=127.0.0.1:0', '--http-address=127.0.0.1:0', '--broadcast-address=127.0.0.1'], ['TCP', 'HTTP'])
  const daemons = [lookupd]
  try {
    const nsqd = await start('nsqd', ['--tcp-address=127.0.0.1:0', '--http-address=127.0.0.1:0', '--https-address=127.0.0.1:0',
      '--broadcast-address=127.0.0.1', `--data-path=${dataPath}`, `--lookupd-tcp-address=127.0.0.1:${lookupd.ports.TCP}`], ['TCP', 'HTTP'])
    daemons.push(nsqd)
    const admin = await start('nsqadmin', ['--http-address=127.0.0.1:0', `--lookupd-http-address=127.0.0.1:${lookupd.ports.HTTP}`], ['HTTP'])
    daemons.push(admin)

    const topic = `tarball_${process.pid}`
    const pub = await run(...bin('to_nsq', [`--topic=${topic}`, `--nsqd-tcp-address=127.0.0.1:${nsqd.ports.TCP}`]), { cwd, env, input: 'first\nsecond\n' })
    expect(pub, pub.stderr).toMatchObject({ code: 0 })
    const lookupdHttp = `127.0.0.1:${lookupd.ports.HTTP}`
    // nsqd registers the new topic with nsqlookupd on its own time; nsq_tail's first lookup must find it.
    await waitFor(async () => {
      const res = await fetch(`http://${lookupdHttp}/lookup?topic=${topic}`)
      return res.status === 200 && ((await res.json()) as { producers: unknown[] }).producers.length === 1
    }, 20_000, `${topic} registered with nsqlookupd`)
    const tail = await run(...bin('nsq_tail', [`--topic=${topic}`, `--lookupd-http-address=${lookupdHttp}`, '-n', '2']), { cwd, env })
    expect(tail, tail.stderr).toMatchObject({ code: 0, stdout: 'first\nsecond\n' })

    const base = `http://127.0.0.1:${admin.ports.HTTP}`
    const page = await fetch(`${base}/topics/${topic}`)
    expect(page.status).toBe(200)
    const html = await page.text()
    const bundle = /<script[^>]*src="([^"]+\.js)"/.exec(html)?.[1]
    expect(bundle, html).toMatch(/^\/static\//)
    const js = await fetch(new URL(bundle!, base))
    expect(js.status).toBe(200)
    expect(js.headers.get('content-type')).toMatch(/javascript/)
    expect((await js.text()).length).toBeGreaterThan(10_000)
    const topics = await (await fetch(`${base}/api/topics`)).json() as { topics: string[] }
    expect(topics.topics).toContain(topic)

    await whileUp?.(nsqd)
  } finally {
    for (const d of daemons.reverse()) await d.stop()
  }
}

afterAll(async () => {
  for (const child of started) endGroup(child, 'SIGKILL')
  for (const dir of temps) await rm(dir, { recursive: true, force: true })
})

describe('the packed packages', () => {
  it('hold only the build, the bins, README and LICENSE', () => {
    expect(packed.map((p) => p.name).sort()).toEqual(
      ['@nsqts/admin-ui', '@nsqts/cli', '@nsqts/client', '@nsqts/lookupd', '@nsqts/nsqd', '@nsqts/protocol'])
    for (const { name, files } of packed) {
      expect(files.filter((f) => !/^(package\.json|README\.md|LICENSE|dist\/.+\.(js|d\.ts)|bin\/.+\.js)$/.test(f) &&
        !(name === '@nsqts/admin-ui' && f.startsWith('dist/web/'))), name).toEqual([])
      expect(files, name).toEqual(expect.arrayContaining(['README.md', 'LICENSE', 'dist/index.js', 'dist/index.d.ts']))
    }
    const admin = packed.find((p) => p.name === '@nsqts/admin-ui')!.files
    expect(admin).toContain('dist/web/index.html')
    expect(admin.some((f) => /^dist\/web\/static\/.+\.js$/.test(f))).toBe(true)
  })
})

// Both installs at once: each is mostly waiting on npm's cache and the registry.
let dir: string
let prefix: string
let registry: Server | undefined

beforeAll(async () => {
  registry = await serveScope()
  ;[dir, prefix] = await Promise.all([installInFolder(), installGlobally(registry)])
}, STEP_MS)

afterAll(async () => { await new Promise((resolve) => registry?.close(resolve)) })

async function installInFolder (): Promise<string> {
  const dir = await tempDir('nsqts-install-')
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'tarball-user', private: true, type: 'module' }))
  const install = await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline',
    ...packed.map((p) => join(tarballDir, p.filename)), 'typescript@5.9', '@types/node@^20.19'], { cwd: dir, env: userEnv() })
  expect(install, install.stderr).toMatchObject({ code: 0 })
  return dir
}

/** The README's `npm install -g` line, with @nsqts/* from the scope registry and the rest from npm's. */
async function installGlobally (registry: Server): Promise<string> {
  const { port } = registry.address() as AddressInfo
  const prefix = await tempDir('nsqts-global-')
  const install = await run('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', '--prefer-offline',
    `--@nsqts:registry=http://127.0.0.1:${port}/`, '@nsqts/nsqd', '@nsqts/lookupd', '@nsqts/cli', '@nsqts/admin-ui'],
  { cwd: prefix, env: userEnv() })
  expect(install, install.stderr).toMatchObject({ code: 0 })
  return prefix
}

describe('npm install ./*.tgz into an empty folder', () => {
  const env = userEnv()
  const npx: Bin = (name, args) => ['npx', ['--no-install', name, ...args]]

  it('runs a cluster through npx, imports @nsqts/client from ESM and publishes with it', async () => {
    await writeFile(join(dir, 'publish.mjs'), [
      "import { NsqdHttpClient, Producer } from '@nsqts/client'",
      'const [tcp, http] = process.argv.slice(2)',
      "const producer = new Producer('127.0.0.1:' + tcp)",
      "await producer.publish('from_esm', 'hello')",
      'await producer.close()',
      "const stats = await new NsqdHttpClient('http://127.0.0.1:' + http).stats({ topic: 'from_esm' })",
      'console.log(stats.topics[0].message_count)',
    ].join('\n'))
    await exerciseCluster(npx, dir, env, async (nsqd) => {
      const esm = await run('node', ['publish.mjs', String(nsqd.ports.TCP), String(nsqd.ports.HTTP)], { cwd: dir, env })
      expect(esm, esm.stderr).toMatchObject({ code: 0, stdout: '1\n' })
    })
  }, STEP_MS)

  it('type-checks a TypeScript file against @nsqts/client with tsc', async () => {
    await writeFile(join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2023', strict: true, noEmit: true, types: ['node'] },
      files: ['use-client.ts'],
    }))
    await writeFile(join(dir, 'use-client.ts'), [
      "import { Consumer, Producer, type Message, type NsqdStats } from '@nsqts/client'",
      '',
      "export const producer = new Producer('127.0.0.1:4150')",
      "export const sent: Promise<void> = producer.publish('orders', 'body')",
      '// @ts-expect-error a topic is a string: this line fails to compile only if the types are there',
      "void producer.publish(42, 'body')",
      "export const consumer = new Consumer('orders', 'audit')",
      'export const text = (m: Message): string => m.body.toString()',
      'export const depth = (s: NsqdStats): number => (s.topics ?? []).reduce((n, t) => n + t.depth, 0)',
    ].join('\n'))
    const tsc = await run('npx', ['--no-install', 'tsc', '-p', '.'], { cwd: dir, env })
    expect(tsc, tsc.stdout).toMatchObject({ code: 0 })
  }, STEP_MS)
})

describe('npm install -g --prefix <tmp> @nsqts/nsqd @nsqts/lookupd @nsqts/cli @nsqts/admin-ui', () => {
  it('runs a cluster through the bins on the PATH', async () => {
    const work = await tempDir('nsqts-global-cwd-')
    await exerciseCluster((name, args) => [name, args], work, userEnv(join(prefix, 'bin')))
  }, STEP_MS)
})

/**
 * A registry for the @nsqts scope only: each package's document lists its one version with the tarball's
 * integrity, and the tarball itself, as npm fetches them.
 */
async function serveScope (): Promise<Server> {
  const server = createServer((req, res) => {
    const { port } = server.address() as AddressInfo
    const path = decodeURIComponent(req.url ?? '')
    const tgz = packed.find((p) => path === `/tarballs/${p.filename}`)
    if (tgz !== undefined) {
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(readFileSync(join(tarballDir, tgz.filename)))
      return
    }
    const pkg = packed.find((p) => path === `/${p.name}`)
    if (pkg === undefined) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}')
      return
    }
    const bytes = readFileSync(tarball(pkg.name))
    const manifest = JSON.parse(readFileSync(new URL(`../../packages/${pkg.name.slice('@nsqts/'.length)}/package.json`, import.meta.url), 'utf8')) as { version: string }
    const version = {
      ...manifest,
      dist: {
        tarball: `http://127.0.0.1:${port}/tarballs/${pkg.filename}`,
        integrity: `sha512-${createHash('sha512').update(bytes).digest('base64')}`,
        shasum: createHash('sha1').update(bytes).digest('hex'),
      },
    }
    res.writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ name: pkg.name, 'dist-tags': { latest: manifest.version }, versions: { [manifest.version]: version } }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return server
}
