import { Deque } from '../deque.js'
import type { BackendQueue, BackendFactory, KeptRecord, StoredPolicy } from './types.js'

/**
 * An unbounded in-memory backend, for tests and embedders that want no disk. It remembers kept records and the
 * paused flag only for as long as the object lives, which is the lifetime of its topic or channel.
 */
export class MemoryBackend implements BackendQueue {
  private readonly records = new Deque<Buffer>()
  readonly durable = false
  paused = false
  policy: StoredPolicy | undefined
  onReadable: (() => void) | undefined

  get depth (): number {
    return this.records.length
  }

  async peek (n: number): Promise<Buffer[]> {
    const out: Buffer[] = []
    for (let i = 0; i < n && i < this.records.length; i++) out.push(this.records.at(i) as Buffer)
    return out
  }

  put (record: Buffer): void {
    this.records.push(record)
    if (this.records.length === 1) this.onReadable?.()
  }

  read (): Buffer | undefined {
    return this.records.shift()
  }

  head (): Buffer | undefined {
    return this.records.peek()
  }

  keep (): void {}
  ack (): void {}
  takeKept (): KeptRecord[] {
    return []
  }

  setPaused (paused: boolean): void {
    this.paused = paused
  }

  setPolicy (policy: StoredPolicy | undefined): void {
    this.policy = policy
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
  readonly durable = false
  readonly paused = false
  readonly policy = undefined
  onReadable: (() => void) | undefined
  put (): void {}
  read (): undefined {
    return undefined
  }

  head (): undefined {
    return undefined
  }

  keep (): void {}
  ack (): void {}
  takeKept (): KeptRecord[] {
    return []
  }

  setPaused (): void {}
  setPolicy (): void {}
  async peek (): Promise<Buffer[]> {
    return []
  }

  async empty (): Promise<void> {}
  async close (): Promise<void> {}
  async delete (): Promise<void> {}
}

export const memoryBackendFactory: BackendFactory = () => new MemoryBackend()
