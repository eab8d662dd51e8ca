import type { Socket } from 'node:net'
import { encodeSizePrefixed, formatGoDuration, isValidChannelName, isValidTopicName, type Logger } from '@nsqts/protocol'
import { nowMs } from './clock.js'
import { goTrimSpace } from './go-text.js'
import { decodeIdentifyBody } from './peer-info.js'
import type { PeerInfo, RegistrationDB } from './registration-db.js'

/**
 * nsqlookupd's TCP protocol V1, as nsqd speaks it to register its topics and channels:
 *
 *   client → "  V1"                                   4-byte magic, once
 *   client → COMMAND[ SP param]*\n                    TrimSpace'd, then split on single spaces
 *            IDENTIFY\n[4-byte BE int32 size][JSON]   the only command with a body
 *   server → [4-byte BE size][data]                   every answer, errors included: no frame type (unlike nsqd)
 *
 * Every error is fatal: it is answered, then the connection is closed.
 */

export interface TcpContext {
  readonly db: RegistrationDB
  readonly logger: Logger
  /** Bounds the IDENTIFY body and a command line. */
  readonly maxBodySize: number
  /** The size-prefixed answer to a successful IDENTIFY (it describes this lookupd and never changes). */
  readonly identifyResponse: Buffer
}

const MAGIC_V1 = '  V1'
const OK_RESPONSE = encodeSizePrefixed('OK')
const NEWLINE = 0x0a

const enum ReadState {
  Magic,
  Line,
  IdentifySize,
  IdentifyBody,
  Closed,
}

/** One peer connection: a push parser fed socket chunks, and the peer's registrations. */
export class LookupClient {
  private state = ReadState.Magic
  /** Gathers the magic, then each IDENTIFY body size, when they are split across chunks. */
  private readonly word = Buffer.alloc(4)
  private wordFill = 0
  private lineParts: Buffer[] = []
  private lineLength = 0
  private body: Buffer | null = null
  private bodyFill = 0
  private peer: PeerInfo | null = null
  readonly id: string

  constructor (private readonly socket: Socket, private readonly ctx: TcpContext) {
    this.id = formatRemoteAddress(socket.remoteAddress, socket.remotePort)
    ctx.logger.info(`TCP: new client(${this.id})`)
  }

  push (chunk: Buffer): void {
    this.socket.cork()
    try {
      this.consume(chunk)
    } catch (err) {
      // A bug must cost this connection only, never the daemon.
      this.ctx.logger.error(`client(${this.id}) - internal error: ${(err as Error).stack ?? String(err)}`)
      this.state = ReadState.Closed
      this.socket.destroy()
    } finally {
      this.socket.uncork()
    }
  }

  /** The peer closed its side. Like nsqlookupd, answer an IDENTIFY cut short, then close. */
  end (): void {
    if (this.state === ReadState.IdentifySize) this.fail('E_BAD_BODY IDENTIFY failed to read body size')
    else if (this.state === ReadState.IdentifyBody) this.fail('E_BAD_BODY IDENTIFY failed to read body')
    else this.close()
  }

  /** The connection is gone: the peer stops producing everything it registered; the keys stay. */
  closed (): void {
    this.state = ReadState.Closed
    this.lineParts = []
    this.body = null
    const peer = this.peer
    if (peer === null) return
    this.peer = null
    const { db, logger } = this.ctx
    for (const registration of db.lookupRegistrations(peer.id)) {
      if (db.removeProducer(registration, peer.id).removed) {
        logger.info(`DB: client(${this.id}) UNREGISTER category:${registration.category} key:${registration.key} subkey:${registration.subKey}`)
      }
    }
  }

  private consume (chunk: Buffer): void {
    let pos = 0
    const len = chunk.length
    while (pos < len) {
      switch (this.state) {
        case ReadState.Closed:
          return
        case ReadState.Magic:
        case ReadState.IdentifySize: {
          const take = Math.min(4 - this.wordFill, len - pos)
          chunk.copy(this.word, this.wordFill, pos, pos + take)
          this.wordFill += take
          pos += take
          if (this.wordFill < 4) return
          this.wordFill = 0
          if (this.state === ReadState.Magic) this.onMagic(this.word.toString('latin1'))
          else this.onIdentifySize(this.word.readInt32BE(0))
          break
        }
        case ReadState.Line: {
          const nl = chunk.indexOf(NEWLINE, pos)
          const end = nl === -1 ? len : nl
          this.lineLength += end - pos
          if (this.lineLength > this.ctx.maxBodySize) {
            // nsqlookupd buffers a line without limit; past the bound the peer is dropped unanswered.
            this.ctx.logger.error(`client(${this.id}) - command line longer than ${this.ctx.maxBodySize} bytes`)
            this.close()
            return
          }
          if (nl === -1) {
            this.lineParts.push(chunk.subarray(pos))
            return
          }
          let line = chunk.subarray(pos, nl)
          if (this.lineParts.length > 0) {
            this.lineParts.push(line)
            line = Buffer.concat(this.lineParts)
            this.lineParts = []
          }
          this.lineLength = 0
          pos = nl + 1
          this.onLine(line.toString('latin1'))
          break
        }
        case ReadState.IdentifyBody: {
          const body = this.body as Buffer
          if (this.bodyFill === 0 && len - pos >= body.length) {
            // The whole body is in this chunk: decode it in place.
            const view = chunk.subarray(pos, pos + body.length)
            pos += body.length
            this.body = null
            this.onIdentifyBody(view)
            break
          }
          const take = Math.min(body.length - this.bodyFill, len - pos)
          chunk.copy(body, this.bodyFill, pos, pos + take)
          this.bodyFill += take
          pos += take
          if (this.bodyFill === body.length) {
            this.body = null
            this.onIdentifyBody(body)
          }
          break
        }
      }
    }
  }

  private onMagic (magic: string): void {
    this.ctx.logger.info(`CLIENT(${this.id}): desired protocol magic '${magic}'`)
    if (magic === MAGIC_V1) {
      this.state = ReadState.Line
      return
    }
    this.ctx.logger.error(`client(${this.id}) bad protocol magic '${magic}'`)
    this.respond('E_BAD_PROTOCOL')
    this.close()
  }

  private onLine (line: string): void {
    const params = goTrimSpace(line).split(' ')
    const command = params[0] as string
    switch (command) {
      case 'PING':
        this.ping()
        return
      case 'IDENTIFY':
        if (this.peer !== null) {
          this.fail('E_INVALID cannot IDENTIFY again')
          return
        }
        this.state = ReadState.IdentifySize
        return
      case 'REGISTER':
        this.register(params)
        return
      case 'UNREGISTER':
        this.unregister(params)
        return
      default:
        this.fail(`E_INVALID invalid command ${command}`)
    }
  }

  private ping (): void {
    const peer = this.peer
    if (peer !== null) {
      const now = nowMs()
      this.ctx.logger.info(`CLIENT(${this.id}): pinged (last ping ${formatGoDuration((now - peer.lastUpdate) * 1e6)})`)
      peer.lastUpdate = now
    }
    this.socket.write(OK_RESPONSE)
  }

  private onIdentifySize (size: number): void {
    // NSQ allocates whatever is announced (and panics on a negative size); the bound is refused before buffering.
    if (size < 0 || size > this.ctx.maxBodySize) {
      this.fail(`E_BAD_BODY IDENTIFY invalid body size ${size}`)
      return
    }
    this.state = ReadState.IdentifyBody
    if (size === 0) {
      this.onIdentifyBody(Buffer.alloc(0))
      return
    }
    this.body = Buffer.allocUnsafe(size)
    this.bodyFill = 0
  }

  private onIdentifyBody (body: Buffer): void {
    this.state = ReadState.Line
    const fields = decodeIdentifyBody(body)
    if (fields === undefined) {
      this.fail('E_BAD_BODY IDENTIFY failed to decode JSON body')
      return
    }
    if (fields.broadcastAddress === '' || fields.tcpPort === 0n || fields.httpPort === 0n || fields.version === '') {
      this.fail('E_BAD_BODY IDENTIFY missing fields')
      return
    }
    const peer: PeerInfo = { id: this.id, remoteAddress: this.id, ...fields, lastUpdate: nowMs() }
    this.peer = peer
    const { db, logger } = this.ctx
    logger.info(`CLIENT(${this.id}): IDENTIFY Address:${peer.broadcastAddress} TCP:${peer.tcpPort} HTTP:${peer.httpPort} Version:${peer.version}`)
    if (db.addProducer('client', '', '', peer)) logger.info(`DB: client(${this.id}) REGISTER category:client key: subkey:`)
    this.socket.write(this.ctx.identifyResponse)
  }

  /** Checks REGISTER/UNREGISTER params in nsqlookupd's order; undefined after a fatal answer. */
  private topicChannel (command: string, params: string[]): { peer: PeerInfo, topic: string, channel: string } | undefined {
    if (this.peer === null) {
      this.fail('E_INVALID client must IDENTIFY')
      return undefined
    }
    const topic = params[1]
    if (topic === undefined) {
      this.fail(`E_INVALID ${command} insufficient number of params`)
      return undefined
    }
    const channel = params[2] ?? ''
    if (!isValidTopicName(topic)) {
      this.fail(`E_BAD_TOPIC ${command} topic name '${topic}' is not valid`)
      return undefined
    }
    if (channel !== '' && !isValidChannelName(channel)) {
      this.fail(`E_BAD_CHANNEL ${command} channel name '${channel}' is not valid`)
      return undefined
    }
    return { peer: this.peer, topic, channel }
  }

  private register (params: string[]): void {
    const args = this.topicChannel('REGISTER', params)
    if (args === undefined) return
    const { peer, topic, channel } = args
    const { db, logger } = this.ctx
    // A channel registration registers its topic too.
    if (channel !== '' && db.addProducer('channel', topic, channel, peer)) {
      logger.info(`DB: client(${this.id}) REGISTER category:channel key:${topic} subkey:${channel}`)
    }
    if (db.addProducer('topic', topic, '', peer)) {
      logger.info(`DB: client(${this.id}) REGISTER category:topic key:${topic} subkey:`)
    }
    this.socket.write(OK_RESPONSE)
  }

  private unregister (params: string[]): void {
    const args = this.topicChannel('UNREGISTER', params)
    if (args === undefined) return
    const { peer, topic, channel } = args
    const { db, logger } = this.ctx
    if (channel !== '') {
      const registration = db.get('channel', topic, channel)
      if (registration !== undefined && db.removeProducer(registration, peer.id).removed) {
        logger.info(`DB: client(${this.id}) UNREGISTER category:channel key:${topic} subkey:${channel}`)
      }
    } else {
      // A topic UNREGISTER also withdraws the peer from the topic's channels (nsqd unregisters those first).
      for (const registration of db.findRegistrations('channel', topic, '*')) {
        if (db.removeProducer(registration, peer.id).removed) {
          logger.warn(`client(${this.id}) unexpected UNREGISTER category:channel key:${topic} subkey:${registration.subKey}`)
        }
      }
      const registration = db.get('topic', topic, '')
      if (registration !== undefined && db.removeProducer(registration, peer.id).removed) {
        logger.info(`DB: client(${this.id}) UNREGISTER category:topic key:${topic} subkey:`)
      }
    }
    this.socket.write(OK_RESPONSE)
  }

  private respond (text: string): void {
    this.socket.write(encodeSizePrefixed(Buffer.from(text, 'latin1')))
  }

  /** Answers a fatal error and closes, as nsqlookupd does for every error. */
  private fail (text: string): void {
    this.ctx.logger.error(`[${this.id}] - ${text}`)
    this.respond(text)
    this.close()
  }

  /** Flushes what was written, then closes both directions (Go's conn.Close). */
  private close (): void {
    if (this.state === ReadState.Closed) return
    this.state = ReadState.Closed
    this.lineParts = []
    this.body = null
    const socket = this.socket
    socket.end(() => socket.destroy())
  }
}

/** Go's net.Addr String() for a TCP peer: IPv4-mapped IPv6 shown as IPv4, IPv6 in brackets. */
export function formatRemoteAddress (address: string | undefined, port: number | undefined): string {
  let host = address ?? ''
  if (host.startsWith('::ffff:') && host.includes('.')) host = host.slice(7)
  return host.includes(':') ? `[${host}]:${port ?? 0}` : `${host}:${port ?? 0}`
}
