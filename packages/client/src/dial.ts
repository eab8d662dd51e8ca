import net from 'node:net'
import type { OnReadOpts } from 'node:net'
import type { Address } from './address.js'
import { ConnectionError } from './errors.js'

export interface DialOptions {
  name: string
  timeoutMs: number
  /** Read into this one buffer, reused for every read, instead of the stream's 'data' events (see net.connect). */
  onread?: OnReadOpts
  /** Why the dial was aborted, when it was (destroy() during the dial). */
  abortCause: () => Error | undefined
}

/**
 * Opens a TCP connection with Nagle off. The socket is returned at once, so that the caller can abort the dial by
 * destroying it; `connected` rejects with a ConnectionError on a failure, a timeout or an abort.
 */
export function dial (address: Address, options: DialOptions): { socket: net.Socket, connected: Promise<void> } {
  const socket = net.connect({ host: address.host, port: address.port, onread: options.onread })
  const connected = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy(new Error(`dial timed out after ${options.timeoutMs} ms`))
    }, options.timeoutMs)
    let failure: Error | undefined
    const onError = (err: Error): void => { failure = err }
    // 'close' follows 'error', and also comes alone when destroy() aborts the dial.
    const onClose = (): void => {
      clearTimeout(timer)
      const cause = failure ?? options.abortCause()
      reject(new ConnectionError(options.name, `cannot connect: ${cause?.message ?? 'aborted'}`, { cause }))
    }
    socket.once('error', onError)
    socket.once('close', onClose)
    socket.once('connect', () => {
      clearTimeout(timer)
      socket.off('error', onError)
      socket.off('close', onClose)
      socket.setNoDelay(true)
      resolve()
    })
  })
  return { socket, connected }
}
