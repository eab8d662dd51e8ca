import { EventEmitter } from 'node:events'
import { NsqError, commands } from '@nsqts/protocol'
import { formatAddress, parseAddress } from './address.js'
import type { Address, AddressLike } from './address.js'
import { checkBody, checkTopic, toBuffer } from './body.js'
import type { MessageBody } from './body.js'
import { Connection } from './connection.js'
import { ClosedError, ConnectionError } from './errors.js'
import { resolveConnectionOptions } from './options.js'
import type { ConnectionOptions, ResolvedConnectionOptions } from './options.js'

/** Producer options: those of every connection. */
export interface ProducerOptions extends ConnectionOptions {}

export interface ProducerEvents {
  /** A connection to `address` is ready (IDENTIFY, upgrades and AUTH done). */
  connected: [address: string]
  /** The connection to `address` closed; `error` says why, unless close() was called. */
  disconnected: [address: string, error: Error | undefined]
}

interface Queued {
  bytes: Buffer
  resolve: () => void
  reject: (err: Error) => void
}

const ignore = (): void => {}

/**
 * Publishes to nsqd over one TCP connection. Every call returns a promise that settles when nsqd answers: commands
 * are pipelined and nsqd answers them in order. The connection opens on first use (or connect()); when it is lost,
 * the publishes waiting for an answer reject with a ConnectionClosedError and the next publish reconnects.
 *
 * Given several nsqd addresses the producer uses one at a time, starting with the first, and fails over to the next
 * one that accepts a connection when its node is down. It stays on the node that works; after a disconnect it tries
 * that node first again.
 */
export class Producer extends EventEmitter<ProducerEvents> {
  private readonly addresses: Address[]
  private readonly options: ResolvedConnectionOptions
  private current = 0
  private conn: Connection | undefined
  private connecting: Promise<Connection> | undefined
  /** Publishes made while the connection was being opened, written once it is. */
  private queue: Queued[] = []
  private closing: Promise<void> | undefined

  constructor (nsqd: AddressLike | readonly AddressLike[], options: ProducerOptions = {}) {
    super()
    const list = Array.isArray(nsqd) ? nsqd as readonly AddressLike[] : [nsqd as AddressLike]
    if (list.length === 0) throw new TypeError('Producer needs at least one nsqd address')
    this.addresses = list.map(parseAddress)
    this.options = resolveConnectionOptions(options)
  }

  /** The nsqd in use (host:port), or undefined while not connected. */
  get address (): string | undefined {
    return this.conn?.isOpen === true ? this.conn.name : undefined
  }

  /** Opens the connection now instead of on the first publish. Rejects if no nsqd accepts it. */
  async connect (): Promise<void> {
    if (this.closing !== undefined) throw new ClosedError('Producer')
    await this.connection()
  }

  /** PUB: resolves when nsqd has queued the message. */
  publish (topic: string, body: MessageBody): Promise<void> {
    try {
      checkTopic('PUB', topic)
      const buf = toBuffer(body)
      checkBody('PUB', buf)
      return this.execute(commands.pub(topic, buf))
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /** MPUB: several messages in one command; nsqd queues all of them or none. */
  publishMany (topic: string, bodies: readonly MessageBody[]): Promise<void> {
    try {
      checkTopic('MPUB', topic)
      if (bodies.length === 0) throw new NsqError('E_BAD_BODY', 'MPUB invalid message count 0')
      const bufs = bodies.map(toBuffer)
      for (const buf of bufs) checkBody('MPUB', buf)
      return this.execute(commands.mpub(topic, bufs))
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /**
   * DPUB: the message becomes visible to consumers after `delayMs`. nsqd refuses delays above its --max-req-timeout
   * (default one hour) with a fatal error that also closes the connection.
   */
  publishDeferred (topic: string, body: MessageBody, delayMs: number): Promise<void> {
    try {
      checkTopic('DPUB', topic)
      if (!Number.isSafeInteger(delayMs) || delayMs < 0) throw new NsqError('E_INVALID', `DPUB could not parse timeout ${delayMs}`)
      const buf = toBuffer(body)
      checkBody('DPUB', buf)
      return this.execute(commands.dpub(topic, delayMs, buf))
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /** Waits for every publish already made to be answered, then closes the connection. Later publishes reject. */
  close (): Promise<void> {
    this.closing ??= (async () => {
      await this.connecting?.catch(ignore)
      const conn = this.conn
      if (conn === undefined) return
      await conn.whenIdle()
      conn.close()
    })()
    return this.closing
  }

  private execute (bytes: Buffer): Promise<void> {
    if (this.closing !== undefined) return Promise.reject(new ClosedError('Producer'))
    const conn = this.conn
    if (conn?.isOpen === true) return conn.commandOk(bytes)
    return new Promise((resolve, reject) => {
      this.queue.push({ bytes, resolve, reject })
      this.connection().catch(ignore)
    })
  }

  /** The open connection, opening one (with failover) if needed. Queued publishes are written or failed here. */
  private connection (): Promise<Connection> {
    if (this.conn?.isOpen === true) return Promise.resolve(this.conn)
    this.connecting ??= this.openAny().then(
      (conn) => {
        this.connecting = undefined
        for (const q of this.queue.splice(0)) conn.commandOk(q.bytes).then(q.resolve, q.reject)
        return conn
      },
      (err: unknown) => {
        this.connecting = undefined
        for (const q of this.queue.splice(0)) q.reject(err as Error)
        throw err
      }
    )
    return this.connecting
  }

  private async openAny (): Promise<Connection> {
    const errors: Error[] = []
    for (let i = 0; i < this.addresses.length; i++) {
      const index = (this.current + i) % this.addresses.length
      const address = this.addresses[index]!
      const conn = new Connection(address, this.options, {
        onClose: (err) => { this.onClose(conn, err) },
      })
      try {
        await conn.connect()
      } catch (err) {
        this.options.logger.warn(`producer: ${(err as Error).message}`)
        errors.push(err as Error)
        // nsqd refusing IDENTIFY or AUTH would refuse again: failing over would only hide the misconfiguration.
        if (err instanceof NsqError) throw err
        continue
      }
      this.current = index
      this.conn = conn
      this.emit('connected', conn.name)
      return conn
    }
    const [only] = errors
    if (errors.length === 1 && only !== undefined) throw only
    throw new ConnectionError(this.addresses.map(formatAddress).join(','), 'no nsqd accepted a connection',
      { cause: new AggregateError(errors) })
  }

  private onClose (conn: Connection, err: Error | undefined): void {
    if (this.conn === conn) this.conn = undefined
    if (err !== undefined) this.options.logger.warn(`producer: ${conn.name} disconnected: ${err.message}`)
    this.emit('disconnected', conn.name, err)
  }
}
