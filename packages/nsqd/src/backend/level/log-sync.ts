import { open, readdir } from 'node:fs/promises'
import { join } from 'node:path'

/** LevelDB's write-ahead logs in its directory: `<number>.log`. */
const LOG_FILE = /^\d+\.log$/

/**
 * Syncs LevelDB's write-ahead logs from beside LevelDB: fdatasync of each log file by a descriptor of our own.
 *
 * Why not a synced LevelDB write: LevelDB holds its writer while it syncs the log, so the write after it waits, and
 * the write pipeline writes one batch at a time. At NSQ's --sync-every of 2500 every large write was synced, and
 * under batched publishes the syncs (median 1.6 ms each here) kept the pipeline waiting.
 *
 * Why it is as durable: an unsynced LevelDB write has handed every byte of its log record to the kernel (write(2))
 * before it returns, and an fdatasync by any descriptor flushes the file's data. So what was written before a sync
 * starts is on the disk when it ends. Writes made while it runs are the next sync's. The logs are the current one
 * and, while its memtable is being written out as a table, the one before it; LevelDB syncs that table before it
 * deletes the old log, so a log gone by the time it is opened holds nothing the disk lacks.
 */
export class LogSync {
  constructor (private readonly location: string) {}

  /** Syncs every log file there is now and returns their names; none found means nothing was synced. */
  async sync (): Promise<string[]> {
    const names = (await readdir(this.location)).filter((name) => LOG_FILE.test(name))
    const synced: string[] = []
    for (const name of names) {
      let file
      try {
        // Opened for writing though nothing is written: Windows flushes a file only through a handle that may write.
        file = await open(join(this.location, name), 'r+')
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue
        throw err
      }
      try {
        await file.datasync()
      } finally {
        await file.close()
      }
      synced.push(name)
    }
    return synced
  }
}
