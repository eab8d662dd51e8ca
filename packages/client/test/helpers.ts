import { afterEach } from 'vitest'
import { startLookupd, startNsqd } from '@nsqts/testkit'
import type { LookupdHandle, NsqdHandle } from '@nsqts/testkit'

type Closer = () => Promise<unknown> | unknown
const closers: Closer[] = []

/** Runs `close` after the current test, last registered first. */
export function cleanup (close: Closer): void {
  closers.push(close)
}

afterEach(async () => {
  for (let c = closers.pop(); c !== undefined; c = closers.pop()) await c()
})

/** A real nsqd on 127.0.0.1 port 0, closed after the test. */
export async function nsqd (init: Parameters<typeof startNsqd>[0] = {}): Promise<NsqdHandle> {
  const handle = await startNsqd(init)
  cleanup(() => handle.close())
  return handle
}

/** A real nsqlookupd on 127.0.0.1 port 0, closed after the test. */
export async function lookupd (options: Parameters<typeof startLookupd>[0] = {}): Promise<LookupdHandle> {
  const handle = await startLookupd(options)
  cleanup(() => handle.close())
  return handle
}

/** A topic name unique to this run, so tests never see each other's messages. */
let counter = 0
export function topicName (prefix = 't'): string {
  return `${prefix}_${process.pid}_${Date.now() % 100000}_${counter++}`
}

/** A promise with its resolve function, for waiting on events. */
export function deferred<T = void> (): { promise: Promise<T>, resolve: (value: T) => void } {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((_resolve) => { resolve = _resolve })
  return { promise, resolve }
}
