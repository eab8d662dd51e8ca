import type { Socket } from 'node:net'

/**
 * Where every plain connection's reads land: one buffer for the whole daemon, since each read is handled (parsed, and
 * whatever must outlive it copied) before the next read starts on this thread. 64 KiB is what Node allocates per read.
 */
const shared = Buffer.allocUnsafe(64 * 1024)

interface UserBufferHandle { useUserBuffer (buffer: Uint8Array): void }

/**
 * Reads `socket` into the shared buffer and hands `onData` a view of each read, valid until it returns, instead of
 * Node allocating a 64 KiB buffer per read (reported to V8 as external memory, which brings collections forward) and
 * passing it through the readable stream's machinery (a push, a 'data' event and a deferred read-more per read). That
 * is what `net.Socket`'s `onread` option does; Node 20 takes that option only for sockets its caller creates
 * (net.connect, new Socket), not for those a server accepts, so it is switched on here through the fields it sets.
 * pause() and resume() keep working (Node stops and starts the handle's reads for such sockets); 'end', 'error' and
 * 'close' are emitted as before once the socket flows. Returns false, changing nothing, where this Node lacks those
 * fields: the caller then listens for 'data'.
 */
export function readIntoSharedBuffer (socket: Socket, onData: (chunk: Buffer) => void): boolean {
  const handle = (socket as unknown as { _handle?: Partial<UserBufferHandle> | null })._handle
  if (typeof handle?.useUserBuffer !== 'function') return false
  const fields = Object.getOwnPropertySymbols(socket)
  const bufferField = fields.find((s) => s.description === 'kBuffer')
  const callbackField = fields.find((s) => s.description === 'kBufferCb')
  if (bufferField === undefined || callbackField === undefined) return false
  const slots = socket as unknown as Record<symbol, unknown>
  slots[bufferField] = shared
  slots[callbackField] = (nread: number): void => { onData(shared.subarray(0, nread)) }
  handle.useUserBuffer(shared)
  return true
}
