import { constants } from 'node:fs'
import { copyFile, link, mkdir, open, stat, unlink } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import os from 'node:os'
import { dirname, join, relative } from 'node:path'
import { promisify } from 'node:util'
import { gzip } from 'node:zlib'
import type { Logger } from '@nsqts/protocol'
import { CliError } from '../cli/program.js'
import { strftime } from './strftime.js'

const gzipAsync = promisify(gzip)

export interface FileLoggerOptions {
  channel: string
  outputDir: string
  workDir: string
  filenameFormat: string
  datetimeFormat: string
  hostIdentifier: string
  /** undefined: no compression. */
  gzipLevel: number | undefined
  /** Bytes (before compression); 0 = never. */
  rotateSize: number
  rotateIntervalMs: number
  skipEmptyFiles: boolean
  maxInFlight: number
}

/**
 * The file name pattern of one topic, as nsq_to_file builds it: <TOPIC>, <HOST> and <PID> substituted now, <DATETIME>
 * at each rotation, <REV> when the file is opened (as `-000000`, counting up while a name is taken). <REV> is required
 * whenever one time bucket may produce several files; otherwise it is dropped and an existing file is appended to.
 */
export function topicFilenameFormat (
  options: FileLoggerOptions, topic: string, hostname = os.hostname(), pid = process.pid,
): string {
  const short = hostname.split('.')[0]!
  const host = options.hostIdentifier === ''
    ? short
    : options.hostIdentifier.replaceAll('<SHORT_HOST>', short).replaceAll('<HOSTNAME>', hostname)
  let format = options.filenameFormat
  if (usesRevisions(options)) {
    if (!format.includes('<REV>')) throw new CliError('missing <REV> in --filename-format when gzip, rotation, or work dir enabled')
  } else {
    format = format.replaceAll('<REV>', '')
  }
  format = format.replaceAll('<TOPIC>', topic).replaceAll('<HOST>', host).replaceAll('<PID>', String(pid))
  if (options.gzipLevel !== undefined && !format.endsWith('.gz')) format += '.gz'
  return format
}

function usesRevisions (o: FileLoggerOptions): boolean {
  return o.gzipLevel !== undefined || o.rotateSize > 0 || o.rotateIntervalMs > 0 || o.workDir !== o.outputDir
}

/** Messages written since the last sync; settles (FIN or REQ for all of them) once they are on disk. */
class Batch {
  readonly buffers: Buffer[] = []
  count = 0
  readonly perNode = new Map<string, number>()
  readonly done: Promise<void>
  resolve!: () => void
  reject!: (err: Error) => void

  constructor () {
    this.done = new Promise((resolve, reject) => {
      this.resolve = resolve
      this.reject = reject
    })
  }
}

interface OpenFile {
  fh: FileHandle
  /** The name with <DATETIME> substituted and <REV> still in it. */
  name: string
  rev: number
  workPath: string
}

const NEWLINE = Buffer.from('\n')

/**
 * One topic's output, NSQ's nsq_to_file router: each message is appended to the current batch; a batch is written and
 * fsynced every --sync-interval, when it holds --max-in-flight messages, or when the consumer would otherwise starve,
 * and only then are its messages finished. Files rotate when the <DATETIME> bucket changes, after --rotate-interval,
 * or beyond --rotate-size, and move from --work-dir to --output-dir when closed.
 *
 * Decisions are taken synchronously as messages arrive; the file system work they imply runs in order on one chain
 * of promises, so a message is always written to the file that was current when it arrived.
 */
export class TopicFileLogger {
  private readonly format: string
  private batch = new Batch()
  private chain: Promise<void> = Promise.resolve()
  private failure: Error | undefined
  // What the router decided: a file is (being) opened, for which name, since when, and how big it has grown.
  private opened = false
  private filename = ''
  private openedAt = 0
  private size = 0
  // What the chain did: the open file and the last name and revision used.
  private file: OpenFile | undefined
  private lastName = ''
  private lastRev = -1

  /**
   * @param rdyShare how many messages nsqd may have in flight to us on one connection; a batch holding 85% of that
   *   for one connection is synced at once, as go-nsq's IsStarved() makes NSQ's tool do, since nsqd will not send
   *   more until they are finished.
   * @param onFatal a write, sync or move failed: NSQ's tool exits; so should the caller.
   */
  constructor (
    readonly topic: string,
    private readonly options: FileLoggerOptions,
    private readonly log: Logger,
    private readonly rdyShare: () => number,
    private readonly onFatal: (err: Error) => void
  ) {
    this.format = topicFilenameFormat(options, topic)
  }

  /** Appends one message body (and a newline); resolves when it is synced to disk. */
  write (body: Buffer, nsqdAddress: string): Promise<void> {
    let syncNow = false
    if (this.needsRotation()) {
      this.rotate()
      syncNow = true
    }
    const batch = this.batch
    batch.buffers.push(body, NEWLINE)
    batch.count++
    const onNode = (batch.perNode.get(nsqdAddress) ?? 0) + 1
    batch.perNode.set(nsqdAddress, onNode)
    this.size += body.length + 1
    if (syncNow || batch.count >= this.options.maxInFlight || onNode >= Math.ceil(0.85 * this.rdyShare())) this.sync()
    return batch.done
  }

  /** The --sync-interval tick: rotate if due (or only close, with --skip-empty-files), then sync. */
  tick (): void {
    if (this.needsRotation()) {
      if (this.options.skipEmptyFiles) this.closeFile()
      else this.rotate()
    }
    this.sync()
  }

  /** Syncs and closes the current file (SIGHUP, exit); the next message or tick opens a new one. */
  close (): Promise<void> {
    this.closeFile()
    return this.chain
  }

  private currentFilename (): string {
    return this.format.replaceAll('<DATETIME>', strftime(this.options.datetimeFormat, new Date()))
  }

  private needsRotation (): boolean {
    if (!this.opened) return true
    if (this.currentFilename() !== this.filename) return true
    if (this.options.rotateIntervalMs > 0 && Date.now() - this.openedAt > this.options.rotateIntervalMs) return true
    return this.options.rotateSize > 0 && this.size > this.options.rotateSize
  }

  private rotate (): void {
    this.closeFile()
    const name = this.currentFilename()
    this.opened = true
    this.filename = name
    this.openedAt = Date.now()
    this.size = 0
    this.enqueue(() => this.openFile(name))
  }

  private closeFile (): void {
    this.sync()
    if (!this.opened) return
    this.opened = false
    this.enqueue(() => this.finishFile())
  }

  private sync (): void {
    if (this.batch.count === 0) return
    const batch = this.batch
    this.batch = new Batch()
    this.enqueue(() => this.flush(batch), batch)
  }

  private enqueue (work: () => Promise<void>, batch?: Batch): void {
    this.chain = this.chain.then(async () => {
      if (this.failure !== undefined) {
        batch?.reject(this.failure)
        return
      }
      try {
        await work()
      } catch (err) {
        this.failure = err as Error
        batch?.reject(this.failure)
        this.log.error(`[${this.topic}/${this.options.channel}] ${(err as Error).message}`)
        this.onFatal(this.failure)
      }
    })
  }

  private async flush (batch: Batch): Promise<void> {
    const file = this.file
    if (file === undefined) throw new Error('internal: no file open for a batch')
    this.log.info(`[${this.topic}/${this.options.channel}] syncing ${batch.count} records to disk`)
    let data = Buffer.concat(batch.buffers)
    // Each sync ends a gzip member, so everything synced can be read back even if the process dies before the file
    // is closed; gunzip reads the concatenated members as one stream.
    if (this.options.gzipLevel !== undefined) data = await gzipAsync(data, { level: this.options.gzipLevel })
    for (let done = 0; done < data.length;) done += (await file.fh.write(data, done, data.length - done)).bytesWritten
    await file.fh.sync()
    batch.resolve()
  }

  private async openFile (name: string): Promise<void> {
    const { workDir, outputDir } = this.options
    let rev = name === this.lastName ? this.lastRev + 1 : 0
    const pattern = join(workDir, name)
    await mkdir(dirname(pattern), { recursive: true })
    // A fresh file per revision when revisions are in use; otherwise the bucket's file is appended to, as NSQ does.
    const flags = this.options.gzipLevel !== undefined || this.options.rotateIntervalMs > 0 ? 'wx' : 'a'
    for (;; rev++) {
      const workPath = withRev(pattern, rev)
      if (workDir !== outputDir) {
        const outPath = join(outputDir, relative(workDir, workPath))
        await mkdir(dirname(outPath), { recursive: true })
        if (await exists(outPath)) {
          this.log.warn(`[${this.topic}/${this.options.channel}] output file already exists: ${outPath}`)
          continue
        }
      }
      let fh: FileHandle
      try {
        fh = await open(workPath, flags)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
        this.log.warn(`[${this.topic}/${this.options.channel}] working file already exists: ${workPath}`)
        continue
      }
      this.log.info(`[${this.topic}/${this.options.channel}] opening ${workPath}`)
      this.size += (await fh.stat()).size
      this.file = { fh, name, rev, workPath }
      this.lastName = name
      this.lastRev = rev
      return
    }
  }

  private async finishFile (): Promise<void> {
    const file = this.file
    if (file === undefined) return
    this.file = undefined
    await file.fh.close()
    const { workDir, outputDir } = this.options
    if (workDir === outputDir) return
    // Never overwrite a finished file: when the name is taken, move to the next free revision.
    for (let rev = file.rev; ; rev++) {
      const dst = join(outputDir, relative(workDir, withRev(join(workDir, file.name), rev)))
      this.log.info(`[${this.topic}/${this.options.channel}] moving finished file ${file.workPath} to ${dst}`)
      if (await moveExclusive(file.workPath, dst)) return
      this.log.warn(`[${this.topic}/${this.options.channel}] destination file already exists: ${dst}`)
    }
  }
}

function withRev (path: string, rev: number): string {
  return path.replaceAll('<REV>', `-${String(rev).padStart(6, '0')}`)
}

async function exists (path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw err
  }
}

/** Renames without replacing an existing file (link + unlink); false when `dst` exists. */
async function moveExclusive (src: string, dst: string): Promise<boolean> {
  try {
    await link(src, dst)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EEXIST') return false
    if (code !== 'EXDEV') throw err
    // Work and output directories on different file systems: copy instead.
    try {
      await copyFile(src, dst, constants.COPYFILE_EXCL)
    } catch (copyErr) {
      if ((copyErr as NodeJS.ErrnoException).code === 'EEXIST') return false
      throw copyErr
    }
  }
  await unlink(src)
  return true
}
