import type {
  ChannelPolicy, NsqdInfo, NsqdStats, PeekResponse, RedriveResponse, TopicPolicy,
} from '@nsqts/protocol'
import { toBuffer } from '../body.js'
import type { MessageBody } from '../body.js'
import { HttpTransport, baseUrl } from './request.js'
import type { HttpClientOptions, Query } from './request.js'

export interface StatsQuery {
  /** Only this topic (topics is null if it does not exist). */
  topic?: string
  /** Only this channel (of every topic, unless topic is given too). */
  channel?: string
  /** Include the clients of each channel and the producers list. Default true on nsqd. */
  includeClients?: boolean
  /** Include Go memory statistics. Default true on nsqd. */
  includeMem?: boolean
}

/**
 * nsqd's HTTP API. Every method rejects with an HttpError carrying the status and NSQ's message (TOPIC_NOT_FOUND,
 * INVALID_TOPIC, MSG_TOO_BIG, ...).
 */
export class NsqdHttpClient {
  readonly url: URL
  private readonly http: HttpTransport

  /** @param address `host:port` of the nsqd HTTP listener, or a URL. */
  constructor (address: string, options?: HttpClientOptions) {
    this.url = baseUrl(address)
    this.http = new HttpTransport(options)
  }

  private path (path: string): URL {
    return new URL(path, this.url)
  }

  private async post (path: string, query: Query, body?: Buffer | string): Promise<void> {
    await this.http.text({ method: 'POST', url: this.path(path), query, body })
  }

  /** GET /ping: resolves when nsqd is healthy; nsqd answers 500 "NOK - ..." after a disk write failed. */
  async ping (): Promise<void> {
    await this.http.text({ method: 'GET', url: this.path('ping') })
  }

  info (): Promise<NsqdInfo> {
    return this.http.json({ method: 'GET', url: this.path('info') })
  }

  stats (query: StatsQuery = {}): Promise<NsqdStats> {
    return this.http.json({
      method: 'GET',
      url: this.path('stats'),
      query: {
        format: 'json',
        topic: query.topic,
        channel: query.channel,
        include_clients: query.includeClients,
        include_mem: query.includeMem,
      },
    })
  }

  /** POST /pub; `deferMs` delays delivery (at most nsqd's --max-req-timeout). Creates the topic. */
  publish (topic: string, body: MessageBody, options: { deferMs?: number } = {}): Promise<void> {
    return this.post('pub', { topic, defer: options.deferMs }, toBuffer(body))
  }

  /**
   * POST /mpub in binary mode, so bodies may contain newlines:
   *
   *   [ 4-byte BE count ][ 4-byte BE size ][ body ] ...
   */
  publishMany (topic: string, bodies: readonly MessageBody[]): Promise<void> {
    const bufs = bodies.map(toBuffer)
    let size = 4
    for (const b of bufs) size += 4 + b.length
    const payload = Buffer.allocUnsafe(size)
    payload.writeUInt32BE(bufs.length, 0)
    let pos = 4
    for (const b of bufs) {
      payload.writeUInt32BE(b.length, pos)
      b.copy(payload, pos + 4)
      pos += 4 + b.length
    }
    return this.post('mpub', { topic, binary: 'true' }, payload)
  }

  createTopic (topic: string): Promise<void> {
    return this.post('topic/create', { topic })
  }

  /** Deletes the topic, its channels and their data. */
  deleteTopic (topic: string): Promise<void> {
    return this.post('topic/delete', { topic })
  }

  /** Drops the topic's queued messages (channels keep theirs). */
  emptyTopic (topic: string): Promise<void> {
    return this.post('topic/empty', { topic })
  }

  pauseTopic (topic: string): Promise<void> {
    return this.post('topic/pause', { topic })
  }

  unpauseTopic (topic: string): Promise<void> {
    return this.post('topic/unpause', { topic })
  }

  /** The topic must exist already (404 TOPIC_NOT_FOUND otherwise). */
  createChannel (topic: string, channel: string): Promise<void> {
    return this.post('channel/create', { topic, channel })
  }

  deleteChannel (topic: string, channel: string): Promise<void> {
    return this.post('channel/delete', { topic, channel })
  }

  /** Drops the channel's queued, in-flight and deferred messages. */
  emptyChannel (topic: string, channel: string): Promise<void> {
    return this.post('channel/empty', { topic, channel })
  }

  pauseChannel (topic: string, channel: string): Promise<void> {
    return this.post('channel/pause', { topic, channel })
  }

  unpauseChannel (topic: string, channel: string): Promise<void> {
    return this.post('channel/unpause', { topic, channel })
  }

  /** GET /topic/policy (nsqts): the topic's own queue policy in force. 404 TOPIC_NOT_FOUND if there is no topic. */
  getTopicPolicy (topic: string): Promise<TopicPolicy> {
    return this.http.json({ method: 'GET', url: this.path('topic/policy'), query: { topic } })
  }

  /**
   * POST /topic/policy (nsqts): changes the fields given and resolves with the policy in force afterwards. A field
   * left out is unchanged; `0` or `''` clears it. A bad value rejects with 400 and a named message (INVALID_TTL,
   * INVALID_MAX_DEPTH, INVALID_OVERFLOW) and changes nothing.
   */
  setTopicPolicy (topic: string, change: Partial<TopicPolicy>): Promise<TopicPolicy> {
    return this.http.json({ method: 'POST', url: this.path('topic/policy'), query: { ...change, topic } })
  }

  /**
   * GET /channel/policy (nsqts): the channel's policy in force, its own settings or else nsqd's flags.
   * 404 TOPIC_NOT_FOUND or CHANNEL_NOT_FOUND.
   */
  getChannelPolicy (topic: string, channel: string): Promise<ChannelPolicy> {
    return this.http.json({ method: 'GET', url: this.path('channel/policy'), query: { topic, channel } })
  }

  /**
   * POST /channel/policy (nsqts): changes the fields given and resolves with the policy in force afterwards. A field
   * left out is unchanged; `0` or `''` clears it (back to nsqd's flag default). A bad value rejects with 400 and a
   * named message (INVALID_MAX_ATTEMPTS, INVALID_TTL, ...) and changes nothing.
   */
  setChannelPolicy (topic: string, channel: string, change: Partial<ChannelPolicy>): Promise<ChannelPolicy> {
    return this.http.json({ method: 'POST', url: this.path('channel/policy'), query: { ...change, topic, channel } })
  }

  /**
   * GET /channel/peek (nsqts): the next `n` queued messages (nsqd's default 10, at most 1000) without changing the
   * channel's depth, attempts or in-flight state. Bodies come as text when they are UTF-8, else base64
   * (`body_encoding`).
   */
  peekChannel (topic: string, channel: string, options: { n?: number } = {}): Promise<PeekResponse> {
    return this.http.json({ method: 'GET', url: this.path('channel/peek'), query: { topic, channel, n: options.n } })
  }

  /**
   * POST /channel/redrive (nsqts): moves up to `n` (default all) queued messages of the channel to topic `to`, each
   * once, bodies unchanged; typically from a dead-letter topic's channel back to the topic the messages came from.
   */
  redriveChannel (topic: string, channel: string, to: string, options: { n?: number } = {}): Promise<RedriveResponse> {
    return this.http.json({
      method: 'POST',
      url: this.path('channel/redrive'),
      query: { topic, channel, to, n: options.n },
    })
  }
}
