import type { Socket } from 'node:net'
import {
  CommandParser, NsqError, encodeSizePrefixed, formatGoDuration, isValidChannelName, isValidTopicName, joinHostPort,
  type BodySpec, type CommandSink, type Logger,
} from '@nsqts/protocol'
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

/** One peer connection: the magic, then the shared V2-style command parser, and the peer's registrations. */
export class LookupClient implements CommandSink {
  private magic = ''
  private readonly parser: CommandParser
  private isClosed = false
  private peer: PeerInfo | null = null
  readonly id: string
  private readonly identifyBody: BodySpec
  /** Answers held while a push() runs; undefined outside one. */
  private replies: Buffer[] | undefined

  constructor (private readonly socket: Socket, private readonly ctx: TcpContext) {
    this.id = formatRemoteAddress(socket.remoteAddress, socket.remotePort)
    // nsqlookupd buffers a line without limit; past maxBodySize bytes the peer is dropped unanswered.
    this.parser = new CommandParser(this, ctx.maxBodySize + 1)
    this.identifyBody = {
      kind: 'sized',
      // NSQ allocates whatever is announced (and panics on a negative size); the bound is refused before buffering.
      checkSize: (size) => (size < 0 || size > ctx.maxBodySize ? new NsqError('E_BAD_BODY', `IDENTIFY invalid body size ${size}`) : null),
    }
    ctx.logger.info(`TCP: new client(${this.id})`)
  }

  push (chunk: Buffer): void {
    this.replies = []
    try {
      this.consume(chunk)
    } catch (err) {
      // A bug must cost this connection only, never the daemon.
      this.ctx.logger.error(`client(${this.id}) - internal error: ${(err as Error).stack ?? String(err)}`)
      this.isClosed = true
      this.replies = undefined
      this.parser.stop()
      this.socket.destroy()
    } finally {
      this.sendReplies()
    }
  }

  /** Answers of one push() leave together: an nsqd pipelines its registrations, one OK each. */
  private reply (data: Buffer): void {
    if (this.replies !== undefined) this.replies.push(data)
    else this.socket.write(data)
  }

  private sendReplies (): void {
    const replies = this.replies
    this.replies = undefined
    if (replies === undefined || replies.length === 0) return
    this.socket.write(replies.length === 1 ? replies[0]! : Buffer.concat(replies))
  }

  /** The peer closed its side. Like nsqlookupd, answer an IDENTIFY cut short, then close. */
  end (): void {
    const awaiting = this.parser.awaiting
    if (awaiting === 'size') this.fail('E_BAD_BODY IDENTIFY failed to read body size')
    else if (awaiting === 'body') this.fail('E_BAD_BODY IDENTIFY failed to read body')
    else this.close()
  }

  /** The connection is gone: the peer stops producing everything it registered; the keys stay. */
  closed (): void {
    this.isClosed = true
    this.parser.stop()
    const peer = this.peer
    if (peer === null) return
    this.peer = null
    const { db, logger } = this.ctx
    for (const registration of db.removePeer(peer.id)) {
      logger.info(`DB: client(${this.id}) UNREGISTER category:${registration.category} key:${registration.key} subkey:${registration.subKey}`)
    }
  }

  private consume (chunk: Buffer): void {
    if (this.isClosed) return
    if (this.magic.length < 4) {
      const need = 4 - this.magic.length
      this.magic += chunk.toString('latin1', 0, need)
      if (this.magic.length < 4) return
      this.onMagic(this.magic)
      chunk = chunk.subarray(need)
    }
    this.parser.push(chunk)
  }

  // ---- CommandSink ----

  line (params: readonly string[]): BodySpec | NsqError | null {
    // nsqlookupd trims the whole line (TrimSpace) before splitting it; the parser split it on single spaces already.
    return this.onLine(goTrimSpace(params.join(' ')).split(' '))
  }

  body (_params: readonly string[], body: Buffer): void {
    this.onIdentifyBody(body)
  }

  bodies (): void {}

  error (err: NsqError): void {
    this.fail(err.message)
  }

  overflow (): void {
    this.ctx.logger.error(`client(${this.id}) - command line longer than ${this.ctx.maxBodySize} bytes`)
    this.close()
  }

  private onMagic (magic: string): void {
    this.ctx.logger.info(`CLIENT(${this.id}): desired protocol magic '${magic}'`)
    if (magic === MAGIC_V1) return
    this.ctx.logger.error(`client(${this.id}) bad protocol magic '${magic}'`)
    this.respond('E_BAD_PROTOCOL')
    this.close()
  }

  private onLine (params: readonly string[]): BodySpec | null {
    const command = params[0] as string
    switch (command) {
      case 'PING':
        this.ping()
        return null
      case 'IDENTIFY':
        if (this.peer !== null) {
          this.fail('E_INVALID cannot IDENTIFY again')
          return null
        }
        return this.identifyBody
      case 'REGISTER':
        this.register(params)
        return null
      case 'UNREGISTER':
        this.unregister(params)
        return null
      default:
        this.fail(`E_INVALID invalid command ${command}`)
        return null
    }
  }

  private ping (): void {
    const peer = this.peer
    if (peer !== null) {
      const now = nowMs()
      this.ctx.logger.info(`CLIENT(${this.id}): pinged (last ping ${formatGoDuration((now - peer.lastUpdate) * 1e6)})`)
      peer.lastUpdate = now
    }
    this.reply(OK_RESPONSE)
  }

  private onIdentifyBody (body: Buffer): void {
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
    this.reply(this.ctx.identifyResponse)
  }

  /** Checks REGISTER/UNREGISTER params in nsqlookupd's order; undefined after a fatal answer. */
  private topicChannel (
    command: string, params: readonly string[],
  ): { peer: PeerInfo, topic: string, channel: string } | undefined {
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

  private register (params: readonly string[]): void {
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
    this.reply(OK_RESPONSE)
  }

  private unregister (params: readonly string[]): void {
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
    this.reply(OK_RESPONSE)
  }

  private respond (text: string): void {
    this.reply(encodeSizePrefixed(Buffer.from(text, 'latin1')))
  }

  /** Answers a fatal error and closes, as nsqlookupd does for every error. */
  private fail (text: string): void {
    this.ctx.logger.error(`[${this.id}] - ${text}`)
    this.respond(text)
    this.close()
  }

  /** Flushes what was written, then closes both directions (Go's conn.Close). */
  private close (): void {
    if (this.isClosed) return
    this.isClosed = true
    this.parser.stop()
    this.sendReplies()
    const socket = this.socket
    socket.end(() => socket.destroy())
  }
}

/** Go's net.Addr String() for a TCP peer: IPv4-mapped IPv6 shown as IPv4, IPv6 in brackets. */
export function formatRemoteAddress (address: string | undefined, port: number | undefined): string {
  let host = address ?? ''
  if (host.startsWith('::ffff:') && host.includes('.')) host = host.slice(7)
  return joinHostPort(host, port ?? 0)
}
