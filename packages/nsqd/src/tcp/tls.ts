import { readFileSync } from 'node:fs'
import tls from 'node:tls'
import type { Socket } from 'node:net'
import type { Logger } from '@nsqts/protocol'
import type { NsqdOptions } from '../options.js'

/** --tls-required, as NSQ numbers it (GET /config/tls_required shows the number). */
export const TlsRequired = { No: 0, ExceptHttp: 1, Yes: 2 } as const

const VERSIONS: ReadonlyMap<number, tls.SecureVersion> = new Map([
  [0x0301, 'TLSv1'], [0x0302, 'TLSv1.1'], [0x0303, 'TLSv1.2'], [0x0304, 'TLSv1.3'],
])

/** --tls-required: `tcp-https` (TLS for TCP only), or a Go boolean. */
export function parseTlsRequired (text: string): number {
  const t = text.toLowerCase()
  if (t === 'tcp-https') return TlsRequired.ExceptHttp
  if (['1', 't', 'true'].includes(t)) return TlsRequired.Yes
  if (['0', 'f', 'false'].includes(t)) return TlsRequired.No
  throw new Error(`invalid value "${text}" for flag --tls-required`)
}

/** --tls-min-version: tls1.0 .. tls1.3, as the TLS version number Go uses (0x0301 ..). */
export function parseTlsMinVersion (text: string): number {
  const i = ['tls1.0', 'tls1.1', 'tls1.2', 'tls1.3'].indexOf(text.toLowerCase())
  if (i === -1) throw new Error(`unknown tlsVersionOption "${text}"`)
  return 0x0301 + i
}

/**
 * The server side of TLS, shared by the TCP upgrade and the HTTPS listener; undefined when --tls-cert and --tls-key
 * are both unset (TLS off). Files are read once, at construction, so a bad path fails start-up, not a client.
 */
export function tlsServerOptions (o: NsqdOptions): tls.TlsOptions | undefined {
  if (o.tlsCert === '' && o.tlsKey === '') return undefined
  const minVersion = VERSIONS.get(o.tlsMinVersion)
  if (minVersion === undefined) throw new Error(`invalid --tls-min-version ${o.tlsMinVersion}`)
  const policy = o.tlsClientAuthPolicy
  if (policy !== '' && policy !== 'require' && policy !== 'require-verify') {
    throw new Error(`invalid --tls-client-auth-policy "${policy}" (require or require-verify)`)
  }
  const options: tls.TlsOptions = {
    cert: readFileSync(o.tlsCert),
    key: readFileSync(o.tlsKey),
    minVersion,
    // NSQ asks for a client certificate only under a policy; `require` takes any certificate, `require-verify` one
    // that chains to --tls-root-ca-file (else the system roots).
    requestCert: policy !== '',
    rejectUnauthorized: policy === 'require-verify',
  }
  if (o.tlsRootCaFile !== '') options.ca = readFileSync(o.tlsRootCaFile)
  return options
}

/** What a connection learns from its TLS handshake, for /stats and the auth server. */
export interface TlsState {
  socket: tls.TLSSocket
  version: string
  cipherSuite: string
  /** The subject CN of the client's certificate, '' without one. */
  commonName: string
}

/**
 * Upgrades accepted TCP sockets to TLS after IDENTIFY. One tls.Server that never listens does the handshakes, so
 * Node applies the verification policy and the 5 s handshake deadline (NSQ's) itself; sockets are matched back to
 * their connection by remote address.
 */
export class TlsUpgrader {
  private readonly server: tls.Server
  private readonly pending = new Map<string, (state: TlsState) => void>()

  constructor (options: tls.TlsOptions, private readonly requireCert: boolean, private readonly logger: Logger) {
    this.server = tls.createServer({ ...options, handshakeTimeout: 5000 })
    this.server.on('secureConnection', (socket) => { this.onSecure(socket) })
    this.server.on('tlsClientError', (err, socket) => {
      this.logger.error(`client(${peerKey(socket)}) - TLS handshake failed - ${err.message}`)
      this.pending.delete(peerKey(socket))
      socket.destroy()
    })
  }

  /**
   * Starts the handshake on `raw`, whose reading is paused; `early` holds bytes already read past the IDENTIFY
   * body (the start of the client's handshake). `onSecure` runs once the handshake passed; a failed one destroys the
   * socket, which the connection sees as a close.
   */
  upgrade (raw: Socket, early: Buffer, onSecure: (state: TlsState) => void): void {
    const key = peerKey(raw)
    this.pending.set(key, onSecure)
    raw.once('close', () => this.pending.delete(key))
    if (early.length > 0) raw.unshift(early)
    this.server.emit('connection', raw)
  }

  private onSecure (socket: tls.TLSSocket): void {
    const key = peerKey(socket)
    const done = this.pending.get(key)
    this.pending.delete(key)
    if (done === undefined) {
      socket.destroy()
      return
    }
    const cert = socket.getPeerCertificate()
    const commonName = typeof cert.subject?.CN === 'string' ? cert.subject.CN : ''
    if (this.requireCert && Object.keys(cert).length === 0) {
      this.logger.error(`client(${key}) - TLS handshake failed - no client certificate`)
      socket.destroy()
      return
    }
    const protocol = socket.getProtocol() ?? ''
    done({
      socket,
      // Go names versions TLS1.2, Node TLSv1.2.
      version: protocol.replace(/^TLSv/, 'TLS').replace(/^TLS1$/, 'TLS1.0'),
      cipherSuite: socket.getCipher().standardName,
      commonName,
    })
  }
}

function peerKey (socket: Socket): string {
  return `${socket.remoteAddress ?? ''}:${socket.remotePort ?? 0}`
}
