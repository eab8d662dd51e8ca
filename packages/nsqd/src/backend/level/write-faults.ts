import { readdir, stat, statfs } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from '@nsqts/protocol'
import type { NativeBatchWriter } from './native-batch.js'
import type { Db } from './write-pipeline.js'

/** Room for the new log, the new manifest and LevelDB's info log beyond the old logs' size. */
const REOPEN_SLACK_BYTES = 1024 * 1024

/** Whether the disk has room to reopen the database at `location`: as many bytes free as its logs hold, and some. */
async function roomToReopen (location: string): Promise<boolean> {
  try {
    const [disk, names] = await Promise.all([statfs(location), readdir(location)])
    let logs = 0
    for (const name of names) if (name.endsWith('.log')) logs += (await stat(join(location, name))).size
    return disk.bavail * disk.bsize >= logs + REOPEN_SLACK_BYTES
  } catch {
    // Cannot tell: try the reopen, as before.
    return true
  }
}

/**
 * What the write pipeline knows of failing writes: the last error until a write succeeds again (reported once per
 * distinct error, and on recovery), the backoff before the next attempt, and the reopen LevelDB needs before it
 * takes a write again. Also the drills' seams that make writes fail or slow.
 */
export class WriteFaults {
  /** The error of the last failed write, until one succeeds. */
  failing: Error | undefined
  private retryDelay = 0
  private injectedFault: Error | undefined
  private injectedDelay: (() => Promise<void>) | undefined

  constructor (
    private readonly db: Db,
    private readonly location: string,
    private readonly batch: NativeBatchWriter,
    private readonly logger: Logger,
    private readonly onHealth: (error: Error | undefined) => void,
  ) {}

  /** Before each write: a drill's delay or fault, then, after a failure, the reopen. Throws what the write would. */
  async beforeWrite (): Promise<void> {
    if (this.injectedDelay !== undefined) await this.injectedDelay()
    if (this.injectedFault !== undefined) throw this.injectedFault
    if (this.failing !== undefined) await this.reopen()
  }

  /** A write failed: says so when the error is new, and returns how long (ms) to wait before trying again. */
  failed (err: Error): number {
    const changed = this.failing?.message !== err.message
    this.failing = err
    if (changed) {
      this.logger.error(`store: failed to write to ${this.location} - ${err.message}`)
      this.onHealth(err)
    }
    this.retryDelay = Math.min(2000, this.retryDelay === 0 ? 50 : this.retryDelay * 2)
    return this.retryDelay
  }

  /** A write succeeded: after failures, says they are over. */
  succeeded (): void {
    if (this.failing === undefined) return
    this.failing = undefined
    this.retryDelay = 0
    this.logger.info(`store: writes to ${this.location} succeed again`)
    this.onHealth(undefined)
  }

  /** LevelDB refuses every write after one failed until the database is reopened. */
  private async reopen (): Promise<void> {
    // Reopening writes a new log and manifest and turns the old log into a table: on a full disk the open fails and
    // leaves the database closed, and every read with it (consumers could no longer drain what is stored). So, until
    // there is room for that, the database stays open for reads and the write fails again as it did.
    if (this.failing !== undefined && !(await roomToReopen(this.location))) throw this.failing
    this.batch.forget()
    await this.db.close()
    await this.db.open()
  }

  /** Test and drill seam: while set, every write fails with this error, as a full or broken disk would make it. */
  injectWriteFault (err: Error | undefined): void {
    this.injectedFault = err
  }

  /** Test and drill seam: while set, every write first waits for `delay()`, as a slow disk would make it. */
  injectWriteDelay (delay: (() => Promise<void>) | undefined): void {
    this.injectedDelay = delay
  }
}
