import { goJson, isValidChannelName, isValidTopicName, type GoJson, type Logger } from '@nsqts/protocol'
import type { Registry } from 'prom-client'
import { GO_ZERO_TIME_UNIX_NANO, nowMs, toUnixNano } from '../clock.js'
import { VERSION } from '../version.js'
import { isActive, isTombstoned, WILDCARD, type PeerInfo, type Producer, type Registration, type RegistrationDB } from '../registration-db.js'
import { JsonText, Router, v1Error, v1Response, type ApiRequest, type Handler } from './router.js'
import type { QueryValues } from './url.js'

export interface ApiContext {
  readonly db: RegistrationDB
  readonly logger: Logger
  readonly inactiveProducerTimeout: number
  readonly tombstoneLifetime: number
  readonly metrics: Registry
}

/** A V1 error answer, thrown by handlers. */
class HttpError extends Error {
  constructor (readonly status: number, message: string) {
    super(message)
  }
}

/** NSQ's V1 decorator: a handler's data (null for an empty 200) or HttpError becomes the wire answer. */
function v1 (handler: (request: ApiRequest) => GoJson | JsonText | null): Handler {
  return (request) => {
    try {
      return v1Response(200, handler(request))
    } catch (err) {
      if (err instanceof HttpError) return v1Error(err.status, err.message)
      throw err
    }
  }
}

function query (request: ApiRequest): QueryValues {
  const values = request.query()
  if (values === undefined) throw new HttpError(400, 'INVALID_REQUEST')
  return values
}

function requiredTopic (values: QueryValues): string {
  const topic = values.get('topic')
  if (topic === undefined) throw new HttpError(400, 'MISSING_ARG_TOPIC')
  return topic
}

/** NSQ's GetTopicChannelArgs: both present and valid, checked in this order. */
function topicChannelArgs (values: QueryValues): { topic: string, channel: string } {
  const topic = requiredTopic(values)
  if (!isValidTopicName(topic)) throw new HttpError(400, 'INVALID_ARG_TOPIC')
  const channel = values.get('channel')
  if (channel === undefined) throw new HttpError(400, 'MISSING_ARG_CHANNEL')
  if (!isValidChannelName(channel)) throw new HttpError(400, 'INVALID_ARG_CHANNEL')
  return { topic, channel }
}

/** PeerInfo's fields never change once identified: its JSON is written once and reused by /lookup and /nodes. */
const peerJsonCache = new WeakMap<PeerInfo, string>()

/** PeerInfo's JSON, in the Go struct's field order (1.3.0 has no topology fields). */
function peerJson (peer: PeerInfo): string {
  let json = peerJsonCache.get(peer)
  if (json === undefined) {
    json = goJson({
      remote_address: peer.remoteAddress,
      hostname: peer.hostname,
      broadcast_address: peer.broadcastAddress,
      tcp_port: peer.tcpPort,
      http_port: peer.httpPort,
      version: peer.version,
    })
    peerJsonCache.set(peer, json)
  }
  return json
}

/** A topic's /lookup answer, and how long it holds without a change to the registration or to the keys. */
interface LookupAnswer {
  changes: number
  keyChanges: number
  /** The first producer listed becomes inactive after this time (inclusive bound, as isActive). */
  activeThrough: number
  /** The first tombstone left out expires at this time (exclusive bound, as isTombstoned). */
  tombstonedUntil: number
  body: Buffer
}

/** The HTTP API of nsqlookupd 1.3.0, plus GET /metrics. */
export function buildRouter (ctx: ApiContext): Router {
  const { db, logger } = ctx
  const active = (producers: Producer[], tombstoneLifetime: number): Producer[] => {
    const now = nowMs()
    return producers.filter((p) => isActive(p, now, ctx.inactiveProducerTimeout, tombstoneLifetime))
  }

  /**
   * The /lookup answer of a topic: its channels and its active producers. Kept whole (its bytes) and reused until a
   * producer is added, removed or tombstoned, a key is made or removed (a channel), one producer listed can turn
   * inactive, or a tombstone expires: an nsqd fleet asks for the same topics over and over while its registrations
   * rarely change, and at 2,000 producers an answer is 300 KB. An answer that leaves out an inactive producer is not
   * kept, as a PING can bring that one back without changing the registration.
   */
  const lookupCache = new WeakMap<Registration, LookupAnswer>()
  const lookupAnswer = (registration: Registration, topic: string): Buffer => {
    const now = nowMs()
    const cached = lookupCache.get(registration)
    if (cached !== undefined && cached.changes === registration.changes && cached.keyChanges === db.keyChanges &&
      now <= cached.activeThrough && now < cached.tombstonedUntil) {
      return cached.body
    }
    const parts: string[] = []
    let activeThrough = Infinity
    let tombstonedUntil = Infinity
    let keep = true
    for (const p of registration.producers.values()) {
      if (isActive(p, now, ctx.inactiveProducerTimeout, ctx.tombstoneLifetime)) {
        parts.push(peerJson(p.peer))
        activeThrough = Math.min(activeThrough, p.peer.lastUpdate + ctx.inactiveProducerTimeout)
      } else if (isTombstoned(p, now, ctx.tombstoneLifetime)) {
        tombstonedUntil = Math.min(tombstonedUntil, (p.tombstonedAt as number) + ctx.tombstoneLifetime)
      } else {
        keep = false
      }
    }
    const body = Buffer.from(lookupJson(topic, `[${parts.join(',')}]`))
    if (keep) {
      const { changes } = registration
      lookupCache.set(registration, { changes, keyChanges: db.keyChanges, activeThrough, tombstonedUntil, body })
    } else {
      lookupCache.delete(registration)
    }
    return body
  }
  const lookupJson = (topic: string, producers: string): string => {
    const channels = db.findRegistrations('channel', topic, WILDCARD).map((r) => r.subKey)
    return `{"channels":${goJson(channels)},"producers":${producers}}`
  }

  return new Router()
    .add('GET', '/ping', () => ({ status: 200, headers: [['Content-Type', 'text/plain; charset=utf-8']], body: Buffer.from('OK') }))
    .add('GET', '/info', v1(() => ({ version: VERSION })))
    .add('GET', '/debug', v1(() => {
      // A Go map marshals sorted by key; registrations without producers are left out.
      const entries: Array<[string, GoJson[]]> = []
      for (const r of db.all()) {
        if (r.producers.size === 0) continue
        entries.push([`${r.category}:${r.key}:${r.subKey}`, [...r.producers.values()].map((p) => ({
          broadcast_address: p.peer.broadcastAddress,
          hostname: p.peer.hostname,
          http_port: p.peer.httpPort,
          id: p.peer.id,
          last_update: toUnixNano(p.peer.lastUpdate),
          tcp_port: p.peer.tcpPort,
          tombstoned: p.tombstoned,
          tombstoned_at: p.tombstonedAt === undefined ? GO_ZERO_TIME_UNIX_NANO : toUnixNano(p.tombstonedAt),
          version: p.peer.version,
        }))])
      }
      entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      return Object.fromEntries(entries)
    }))
    .add('GET', '/lookup', v1((request) => {
      const topic = requiredTopic(query(request))
      const registrations = db.findRegistrations('topic', topic, '')
      if (registrations.length === 0) throw new HttpError(404, 'TOPIC_NOT_FOUND')
      // `*` matches every topic: its producers, one per peer, are not one registration's list.
      if (registrations.length === 1) return new JsonText(lookupAnswer(registrations[0] as Registration, topic))
      const producers = active(db.findProducers('topic', topic, ''), ctx.tombstoneLifetime).map((p) => peerJson(p.peer))
      return new JsonText(lookupJson(topic, `[${producers.join(',')}]`))
    }))
    .add('GET', '/topics', v1(() => ({ topics: db.findRegistrations('topic', WILDCARD, '').map((r) => r.key) })))
    .add('GET', '/channels', v1((request) => {
      const topic = requiredTopic(query(request))
      return { channels: db.findRegistrations('channel', topic, WILDCARD).map((r) => r.subKey) }
    }))
    .add('GET', '/nodes', v1(() => {
      // Tombstoned producers stay listed here (lifetime 0); tombstones[i] belongs to topics[i].
      const now = nowMs()
      const producers = active(db.findProducers('client', '', ''), 0).map((p) => {
        const topics = db.lookupRegistrations(p.peer.id).filter((r) => r.category === 'topic')
        const tombstones = topics.map((r) => {
          const mine = r.producers.get(p.peer.id)
          return mine !== undefined && isTombstoned(mine, now, ctx.tombstoneLifetime)
        })
        // The peer's fields, then tombstones and topics: the JSON of Go's node struct, which embeds PeerInfo.
        return `${peerJson(p.peer).slice(0, -1)},"tombstones":${goJson(tombstones)},"topics":${goJson(topics.map((r) => r.key))}}`
      })
      return new JsonText(`{"producers":[${producers.join(',')}]}`)
    }))
    .add('POST', '/topic/create', v1((request) => {
      const topic = requiredTopic(query(request))
      if (!isValidTopicName(topic)) throw new HttpError(400, 'INVALID_ARG_TOPIC')
      logger.info(`DB: adding topic(${topic})`)
      db.addRegistration('topic', topic, '')
      return null
    }))
    .add('POST', '/topic/delete', v1((request) => {
      // Not validated, as in NSQ: an unknown topic is a 200, and `*` deletes every topic.
      const topic = requiredTopic(query(request))
      for (const r of db.findRegistrations('channel', topic, WILDCARD)) {
        logger.info(`DB: removing channel(${r.subKey}) from topic(${topic})`)
        db.removeRegistration(r)
      }
      for (const r of db.findRegistrations('topic', topic, '')) {
        logger.info(`DB: removing topic(${topic})`)
        db.removeRegistration(r)
      }
      return null
    }))
    .add('POST', '/topic/tombstone', v1((request) => {
      const values = query(request)
      const topic = requiredTopic(values)
      const node = values.get('node')
      if (node === undefined) throw new HttpError(400, 'MISSING_ARG_NODE')
      logger.info(`DB: setting tombstone for producer@${node} of topic(${topic})`)
      const now = nowMs()
      // As findProducers: with a `*` topic, a peer's entry in the first registration that lists it.
      const seen = new Set<string>()
      for (const registration of db.findRegistrations('topic', topic, '')) {
        for (const [peerId, p] of registration.producers) {
          if (seen.has(peerId)) continue
          seen.add(peerId)
          if (`${p.peer.broadcastAddress}:${p.peer.httpPort}` === node) db.tombstone(registration, peerId, now)
        }
      }
      return null
    }))
    .add('POST', '/channel/create', v1((request) => {
      const { topic, channel } = topicChannelArgs(query(request))
      logger.info(`DB: adding channel(${channel}) in topic(${topic})`)
      db.addRegistration('channel', topic, channel)
      logger.info(`DB: adding topic(${topic})`)
      db.addRegistration('topic', topic, '')
      return null
    }))
    .add('POST', '/channel/delete', v1((request) => {
      const { topic, channel } = topicChannelArgs(query(request))
      const registrations = db.findRegistrations('channel', topic, channel)
      if (registrations.length === 0) throw new HttpError(404, 'CHANNEL_NOT_FOUND')
      logger.info(`DB: removing channel(${channel}) from topic(${topic})`)
      for (const r of registrations) db.removeRegistration(r)
      return null
    }))
    .add('GET', '/metrics', async () => ({
      status: 200,
      headers: [['Content-Type', ctx.metrics.contentType]],
      body: Buffer.from(await ctx.metrics.metrics()),
    }))
}
