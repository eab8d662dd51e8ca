import { Deque } from '../deque.js'
import type { BackendQueue, BackendFactory } from './types.js'

/** An unbounded in-memory backend: the overflow store until a disk backend is configured. */
export class MemoryBackend implements BackendQueue {
  private readonly records = new Deque<Buffer>()
  onReadable: (() => void) | undefined

  get depth (): number {
    return this.records.length
  }

  put (record: Buffer): void {
    this.records.push(record)
    if (this.records.length === 1) this.onReadable?.()
  }

  read (): Buffer | undefined {
    return this.records.shift()
  }

  async empty (): Promise<void> {
    this.records.clear()
  }

  async close (): Promise<void> {}

  async delete (): Promise<void> {
    this.records.clear()
  }
}

/** What ephemeral topics and channels use: like NSQ, what overflows their memory queue is dropped. */
export class DiscardBackend implements BackendQueue {
  readonly depth = 0
  onReadable: (() => void) | undefined
  put (): void {}
  read (): undefined {
    return undefined
  }

  async empty (): Promise<void> {}
  async close (): Promise<void> {}
  async delete (): Promise<void> {}
}

export const memoryBackendFactory: BackendFactory = () => new MemoryBackend()
