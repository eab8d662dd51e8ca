import net from 'node:net'
import tls from 'node:tls'
import type { Address } from './address.js'
import { ConnectionError } from './errors.js'

/**
 * Wraps the connected plain socket in TLS, after nsqd agreed to tls_v1 in IDENTIFY. Resolves with the TLS socket once
 * its handshake is done; the plain socket's own 'data' listeners are removed first, as TLS reads it from now on.
 */
export function startTls (
  socket: net.Socket, address: Address, name: string, options: tls.ConnectionOptions,
): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    socket.removeAllListeners('data')
    const secure = tls.connect({
      host: address.host,
      servername: net.isIP(address.host) === 0 ? address.host : undefined,
      ...options,
      socket,
    })
    const onError = (err: Error): void => {
      reject(new ConnectionError(name, `TLS handshake failed: ${err.message}`, { cause: err }))
    }
    secure.once('error', onError)
    secure.once('secureConnect', () => {
      secure.off('error', onError)
      resolve(secure)
    })
  })
}
