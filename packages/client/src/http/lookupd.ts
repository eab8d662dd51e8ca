import { joinHostPort, type LookupResponse, type LookupdNode, type LookupdProducer } from '@nsqts/protocol'
import { HttpTransport, baseUrl } from './request.js'
import type { HttpClientOptions, Query } from './request.js'

/**
 * nsqlookupd's HTTP API. Every method rejects with an HttpError carrying the status and NSQ's message.
 *
 * The address may be `host:port` or a URL. A URL with a path other than `/` (go-nsq and nsqjs accept
 * `http://host/some/lookup`) names the lookup endpoint itself; the other endpoints then live beside it.
 */
export class LookupdHttpClient {
  readonly url: URL
  private readonly lookupUrl: URL
  private readonly http: HttpTransport

  constructor (address: string, options?: HttpClientOptions) {
    const full = new URL(address.includes('://') ? address : `http://${address}`)
    if (full.pathname === '/' || full.pathname === '') {
      this.url = baseUrl(address)
      this.lookupUrl = new URL('lookup', this.url)
    } else {
      full.hash = ''
      this.lookupUrl = full
      this.url = new URL('.', full)
    }
    this.http = new HttpTransport(options)
  }

  private path (path: string): URL {
    return new URL(path, this.url)
  }

  private async post (path: string, query: Query): Promise<void> {
    await this.http.text({ method: 'POST', url: this.path(path), query })
  }

  async ping (): Promise<void> {
    await this.http.text({ method: 'GET', url: this.path('ping') })
  }

  info (): Promise<{ version: string }> {
    return this.http.json({ method: 'GET', url: this.path('info') })
  }

  /**
   * The nsqd nodes that have the topic (query parameters of a lookup URL are kept). Rejects with status 404
   * (TOPIC_NOT_FOUND) when lookupd never heard of it.
   */
  lookup (topic: string): Promise<LookupResponse> {
    return this.http.json({ method: 'GET', url: this.lookupUrl, query: { topic } })
  }

  async topics (): Promise<string[]> {
    return (await this.http.json<{ topics: string[] }>({ method: 'GET', url: this.path('topics') })).topics
  }

  /** The channels of a topic; empty (not an error) for an unknown topic. */
  async channels (topic: string): Promise<string[]> {
    return (await this.http.json<{ channels: string[] }>({ method: 'GET', url: this.path('channels'), query: { topic } })).channels
  }

  async nodes (): Promise<LookupdNode[]> {
    return (await this.http.json<{ producers: LookupdNode[] }>({ method: 'GET', url: this.path('nodes') })).producers
  }

  /** Registers the topic in this lookupd only (nsqd is not told). */
  createTopic (topic: string): Promise<void> {
    return this.post('topic/create', { topic })
  }

  /** Removes the topic and its channels from this lookupd's registry (nsqd keeps them). */
  deleteTopic (topic: string): Promise<void> {
    return this.post('topic/delete', { topic })
  }

  createChannel (topic: string, channel: string): Promise<void> {
    return this.post('channel/create', { topic, channel })
  }

  deleteChannel (topic: string, channel: string): Promise<void> {
    return this.post('channel/delete', { topic, channel })
  }

  /**
   * Hides the topic on one nsqd from /lookup for lookupd's --tombstone-lifetime, so consumers stop connecting there
   * before the topic is deleted on that nsqd. `node` is `<broadcast_address>:<http_port>`.
   */
  tombstoneTopicProducer (topic: string, node: string): Promise<void> {
    return this.post('topic/tombstone', { topic, node })
  }
}

/** What the lookupds answered about a topic: each nsqd that has it once, and the lookupds that failed, in order. */
export interface TopicProducers {
  producers: LookupdProducer[]
  failures: Array<{ lookupd: LookupdHttpClient, error: unknown }>
}

/**
 * Asks every lookupd at once for the topic's producers. lookupds never talk to each other, so the answer is the
 * union; an nsqd registered with several is listed once (by broadcast address and ports). Never rejects: a lookupd
 * that fails (404 for a topic it never heard of included) is listed in `failures`.
 */
export async function lookupTopicProducers (lookupds: readonly LookupdHttpClient[],
  topic: string): Promise<TopicProducers> {
  const results = await Promise.allSettled(lookupds.map((l) => l.lookup(topic)))
  const producers = new Map<string, LookupdProducer>()
  const failures: TopicProducers['failures'] = []
  results.forEach((result, i) => {
    if (result.status === 'rejected') {
      failures.push({ lookupd: lookupds[i] as LookupdHttpClient, error: result.reason })
      return
    }
    for (const p of result.value.producers ?? []) {
      producers.set(`${joinHostPort(p.broadcast_address, p.tcp_port)} ${p.http_port}`, p)
    }
  })
  return { producers: [...producers.values()], failures }
}
