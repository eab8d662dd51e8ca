import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type RequestListener, type Server } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** PEM files made for one test run: a CA, a server certificate for 127.0.0.1/localhost, and two client certificates. */
export interface TestCerts {
  dir: string
  caFile: string
  certFile: string
  keyFile: string
  ca: Buffer
  /** Signed by the CA, subject CN=client-cn. */
  client: { cert: Buffer, key: Buffer }
  /** Self-signed, CN=rogue: any certificate, but not one the CA vouches for. */
  rogue: { cert: Buffer, key: Buffer }
  remove (): void
}

/**
 * Generates fresh certificates with openssl (node:crypto cannot issue X.509), valid for two days, so no checked-in
 * file ever expires. EC P-256 keys keep it fast.
 */
export function makeCerts (): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'nsqts-certs-'))
  const p = (name: string): string => join(dir, name)
  const ssl = (...args: string[]): void => { execFileSync('openssl', args, { stdio: 'ignore' }) }
  const key = (name: string): void => ssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', p(name))
  key('ca.key')
  ssl('req', '-x509', '-new', '-key', p('ca.key'), '-out', p('ca.pem'), '-days', '2', '-subj', '/CN=nsqts test CA')
  const issue = (name: string, cn: string, ext: string): void => {
    key(`${name}.key`)
    ssl('req', '-new', '-key', p(`${name}.key`), '-out', p(`${name}.csr`), '-subj', `/CN=${cn}`)
    writeFileSync(p(`${name}.ext`), ext)
    ssl('x509', '-req', '-in', p(`${name}.csr`), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial',
      '-out', p(`${name}.pem`), '-days', '2', '-extfile', p(`${name}.ext`))
  }
  issue('server', 'localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n')
  issue('client', 'client-cn', 'extendedKeyUsage=clientAuth\n')
  key('rogue.key')
  ssl('req', '-x509', '-new', '-key', p('rogue.key'), '-out', p('rogue.pem'), '-days', '2', '-subj', '/CN=rogue')
  return {
    dir,
    caFile: p('ca.pem'),
    certFile: p('server.pem'),
    keyFile: p('server.key'),
    ca: readFileSync(p('ca.pem')),
    client: { cert: readFileSync(p('client.pem')), key: readFileSync(p('client.key')) },
    rogue: { cert: readFileSync(p('rogue.pem')), key: readFileSync(p('rogue.key')) },
    remove: () => { rmSync(dir, { recursive: true, force: true }) },
  }
}

export interface AuthRequest {
  method: string
  url: string
  contentType: string | undefined
  accept: string | undefined
  /** The four parameters, from the query (GET) or the JSON body (POST, arrays of one). */
  params: Record<string, string>
  rawBody: string
}

export interface AuthReply { status?: number, body: unknown }

/**
 * A small auth server: `answer` decides each reply from the request (a promise holds the reply back until it settles);
 * every request is recorded.
 */
export interface AuthServer {
  address: string
  requests: AuthRequest[]
  answer: (req: AuthRequest) => AuthReply | Promise<AuthReply>
  close (): Promise<void>
}

/** With `tls` (a certificate and its key) the server speaks https. */
export async function startAuthServer (answer: AuthServer['answer'], tls?: { cert: Buffer, key: Buffer }): Promise<AuthServer> {
  const requests: AuthRequest[] = []
  const state = { answer }
  const listener: RequestListener = (req: IncomingMessage, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString()
      const url = new URL(req.url ?? '/', 'http://x')
      const params: Record<string, string> = {}
      if (req.method === 'POST') {
        for (const [k, v] of Object.entries(JSON.parse(rawBody) as Record<string, string[]>)) params[k] = v[0] as string
      } else {
        for (const [k, v] of url.searchParams) params[k] = v
      }
      const r: AuthRequest = { method: req.method ?? '', url: req.url ?? '', contentType: req.headers['content-type'], accept: req.headers.accept, params, rawBody }
      requests.push(r)
      void Promise.resolve(state.answer(r)).then(({ status = 200, body }) => {
        res.writeHead(status, { 'content-type': 'application/json' })
        res.end(typeof body === 'string' ? body : JSON.stringify(body))
      })
    })
  }
  const server: Server = tls === undefined ? createServer(listener) : createHttpsServer(tls, listener)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const a = server.address()
  if (a === null || typeof a === 'string') throw new Error('auth server is not listening')
  const handle: AuthServer = {
    address: `127.0.0.1:${a.port}`,
    requests,
    get answer () { return state.answer },
    set answer (fn) { state.answer = fn },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    }),
  }
  return handle
}
