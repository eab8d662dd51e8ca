/**
 * nsqadmin's /api: the same routes and shapes as NSQ 1.3.0 (every answer carries "message"), plus /api/history for
 * the live charts. Reads go to every node in parallel; writes go to every lookupd and every nsqd that has the topic.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { isValidChannelName, isValidTopicName } from '@nsqts/protocol'
import type { ClusterInfo, NodeRef } from './cluster.js'
import { ApiError, warningMessage } from './errors.js'
import type { StatsHistory } from './history.js'
import type { ActionContext, Notifier } from './notify.js'
import type { AdminOptions } from './options.js'
import { registerPolicyApi } from './policy-api.js'
import { field, parseBody } from './request-body.js'
import { aggregateChannel, aggregateTopic, type AdminChannel } from './shapes.js'

export interface ApiContext {
  options: AdminOptions
  cluster: ClusterInfo
  history: StatsHistory
  notifier: Notifier
}

type Params = Record<string, string>

/** NSQ's V1 JSON answer: compact JSON, its content type, and the header go-nsq looks for. */
export function sendJson (reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status)
    .header('content-type', 'application/json; charset=utf-8')
    .header('X-Nsq-Content-Type', 'nsq; version=1.0')
    .send(JSON.stringify(body))
}

function basicAuthUser (header: string | undefined): string | undefined {
  const m = /^Basic\s+(.+)$/i.exec(header ?? '')
  if (m === null) return undefined
  const decoded = Buffer.from(m[1] as string, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  return colon === -1 ? undefined : decoded.slice(0, colon)
}

/** What every route module shares: the admin check, the notice context and the answer with its warning. */
export interface RouteHelpers {
  requireAdmin: (req: FastifyRequest) => void
  actionContext: (req: FastifyRequest) => ActionContext
  respond: (reply: FastifyReply, errors: string[], body?: object) => FastifyReply
}

export function registerApi (app: FastifyInstance, ctx: ApiContext): void {
  const { cluster, history, notifier } = ctx
  const headerUser = (req: FastifyRequest): string | undefined => {
    const v = req.headers[ctx.options.aclHttpHeader.toLowerCase()]
    return Array.isArray(v) ? v[0] : v
  }

  /** NSQ trusts an auth proxy in front: the user it names in the ACL header must be one of --admin-user. */
  const requireAdmin = (req: FastifyRequest): void => {
    if (ctx.options.adminUsers.length === 0) return
    const user = headerUser(req)
    if (user === undefined || !ctx.options.adminUsers.includes(user)) throw new ApiError(403, 'FORBIDDEN')
  }

  const actionContext = (req: FastifyRequest): ActionContext => ({
    user: basicAuthUser(req.headers.authorization) ?? headerUser(req),
    remoteIp: req.ip,
    userAgent: req.headers['user-agent'] ?? '',
    url: req.url,
  })

  const respond = (reply: FastifyReply, errors: string[], body: object = {}): FastifyReply =>
    sendJson(reply, 200, { ...body, message: warningMessage(errors) })

  registerPolicyApi(app, ctx, { requireAdmin, actionContext, respond })

  app.get('/api/topics', async (req, reply) => {
    const topics = await cluster.topics()
    const inactive = (req.query as Params).inactive
    if (inactive !== 'true' && inactive !== '1') return respond(reply, topics.errors, { topics: topics.value })
    // Topics lookupd knows that no nsqd produces: what the /lookup page offers to delete or create.
    // A Map, not an object: a topic may be named `__proto__`, which an object's assignment would take as its prototype.
    const map = new Map<string, string[]>()
    if (cluster.usesLookupd) {
      await Promise.all(topics.value.map(async (topic) => {
        const producers = await cluster.topicProducers(topic).catch(() => undefined)
        if (producers === undefined || producers.value.length > 0) return
        map.set(topic, (await cluster.lookupdChannels(topic).catch(() => ({ value: [] }))).value)
      }))
    }
    const sorted = Object.fromEntries([...map].sort(([a], [b]) => a < b ? -1 : 1))
    return respond(reply, topics.errors, { topics: sorted })
  })

  app.get('/api/topics/:topic', async (req, reply) => {
    const { topic } = req.params as Params as { topic: string }
    const producers = await cluster.topicProducers(topic)
    const stats = await cluster.nodeStats(producers.value, { topic, includeClients: false })
    return respond(reply, [...producers.errors, ...stats.errors], aggregateTopic(topic, stats.value))
  })

  app.get('/api/topics/:topic/:channel', async (req, reply) => {
    const { topic, channel } = req.params as Params as { topic: string, channel: string }
    const producers = await cluster.topicProducers(topic)
    const stats = await cluster.nodeStats(producers.value, { topic, channel, includeClients: true })
    const perNode: AdminChannel[] = []
    for (const t of stats.value) for (const c of t.channels ?? []) if (c.channel_name === channel) perNode.push(c)
    const errors = [...producers.errors, ...stats.errors]
    // An unknown channel is not an error in nsqadmin: 200 with only the message.
    return respond(reply, errors, perNode.length === 0 ? {} : aggregateChannel(topic, channel, perNode))
  })

  app.get('/api/nodes', async (_req, reply) => {
    const producers = await cluster.producers()
    return respond(reply, producers.errors, { nodes: producers.value })
  })

  app.get('/api/nodes/:node', async (req, reply) => {
    const { node } = req.params as Params as { node: string }
    const found = await cluster.findNode(node)
    if (found.value === undefined) throw new ApiError(404, 'NODE_NOT_FOUND')
    const stats = await cluster.nodeStats([found.value], { includeClients: true })
    let totalMessages = 0
    let totalClients = 0
    for (const t of stats.value) {
      totalMessages += t.message_count
      for (const c of t.channels ?? []) totalClients += c.clients?.length ?? 0
    }
    return respond(reply, [...found.errors, ...stats.errors], {
      node,
      topics: stats.value,
      total_messages: totalMessages,
      total_clients: totalClients,
    })
  })

  app.get('/api/counter', async (_req, reply) => {
    const producers = await cluster.producers()
    const stats = await cluster.nodeStats(producers.value.map((p) => cluster.nodeRefOf(p)), { includeClients: false })
    type Counted = { node: string, topic_name: string, channel_name: string, message_count: number }
    const entries: Array<[string, Counted]> = []
    for (const t of stats.value) {
      for (const c of t.channels ?? []) {
        entries.push([`${t.topic_name}:${c.channel_name}:${c.node}`, { node: c.node, topic_name: t.topic_name, channel_name: c.channel_name, message_count: c.message_count }])
      }
    }
    entries.sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)
    return respond(reply, [...producers.errors, ...stats.errors], { stats: Object.fromEntries(entries) })
  })

  app.post('/api/topics', async (req, reply) => {
    requireAdmin(req)
    const body = parseBody(req.body)
    const topic = field(body, 'topic')
    const channel = field(body, 'channel')
    if (!isValidTopicName(topic)) throw new ApiError(400, 'INVALID_TOPIC')
    if (channel !== '' && !isValidChannelName(channel)) throw new ApiError(400, 'INVALID_CHANNEL')
    const errors: string[] = []
    if (cluster.usesLookupd) {
      const lookupds = ctx.options.lookupdHttpAddresses.length
      const topicErrors = await cluster.onLookupds((c) => c.createTopic(topic))
      if (topicErrors.length === lookupds) throw new ApiError(502, `UPSTREAM_ERROR: ${topicErrors.join('\n')}`)
      errors.push(...topicErrors)
      if (channel !== '') {
        errors.push(...await cluster.onLookupds((c) => c.createChannel(topic, channel)))
        // nsqds that already have the topic get the channel now; others get it from lookupd when the topic appears.
        const producers = await cluster.topicProducers(topic)
        const created = await cluster.onNodes(producers.value, (c) => c.createChannel(topic, channel))
        errors.push(...producers.errors, ...created)
      }
    } else {
      // Without lookupd there is nowhere to register the topic but the nsqds themselves.
      const nodes: NodeRef[] = ctx.options.nsqdHttpAddresses.map((a) => ({ node: a, address: a, hostname: '' }))
      errors.push(...await cluster.onNodes(nodes, async (c) => {
        await c.createTopic(topic)
        if (channel !== '') await c.createChannel(topic, channel)
      }))
      if (errors.length === nodes.length) throw new ApiError(502, `UPSTREAM_ERROR: ${errors.join('\n')}`)
    }
    const ac = actionContext(req)
    notifier.notify('create_topic', { topic }, ac)
    if (channel !== '') notifier.notify('create_channel', { topic, channel }, ac)
    return respond(reply, errors)
  })

  /** pause, unpause or empty a topic (channel undefined) or a channel on every nsqd that has the topic. */
  const action = async (
    req: FastifyRequest, reply: FastifyReply, topic: string, channel: string | undefined,
  ): Promise<FastifyReply> => {
    requireAdmin(req)
    const verb = field(parseBody(req.body), 'action')
    if (verb !== 'pause' && verb !== 'unpause' && verb !== 'empty') throw new ApiError(400, 'INVALID_ACTION')
    const producers = await cluster.topicProducers(topic)
    const failures = await cluster.onNodes(producers.value, (c) => {
      if (channel === undefined) return verb === 'pause' ? c.pauseTopic(topic) : verb === 'unpause' ? c.unpauseTopic(topic) : c.emptyTopic(topic)
      return verb === 'pause' ? c.pauseChannel(topic, channel) : verb === 'unpause' ? c.unpauseChannel(topic, channel) : c.emptyChannel(topic, channel)
    })
    if (failures.length > 0 && failures.length === producers.value.length) throw new ApiError(502, `UPSTREAM_ERROR: ${failures.join('\n')}`)
    notifier.notify(`${verb}_${channel === undefined ? 'topic' : 'channel'}`, { topic, channel }, actionContext(req))
    return respond(reply, [...producers.errors, ...failures])
  }

  app.post('/api/topics/:topic', async (req, reply) => {
    const { topic } = req.params as Params as { topic: string }
    return await action(req, reply, topic, undefined)
  })

  app.post('/api/topics/:topic/:channel', async (req, reply) => {
    const { topic, channel } = req.params as Params as { topic: string, channel: string }
    return await action(req, reply, topic, channel)
  })

  app.delete('/api/topics/:topic', async (req, reply) => {
    requireAdmin(req)
    const { topic } = req.params as Params as { topic: string }
    // Who has the topic must be asked before lookupd forgets it.
    const producers = await cluster.topicProducers(topic)
    const errors = [...producers.errors, ...await cluster.onLookupds((c) => c.deleteTopic(topic))]
    errors.push(...await cluster.onNodes(producers.value, (c) => c.deleteTopic(topic)))
    notifier.notify('delete_topic', { topic }, actionContext(req))
    return respond(reply, errors)
  })

  app.delete('/api/topics/:topic/:channel', async (req, reply) => {
    requireAdmin(req)
    const { topic, channel } = req.params as Params as { topic: string, channel: string }
    const producers = await cluster.topicProducers(topic)
    const errors = [...producers.errors, ...await cluster.onLookupds((c) => c.deleteChannel(topic, channel))]
    errors.push(...await cluster.onNodes(producers.value, (c) => c.deleteChannel(topic, channel)))
    notifier.notify('delete_channel', { topic, channel }, actionContext(req))
    return respond(reply, errors)
  })

  // Tombstone: lookupds stop handing this node out for the topic, then the node deletes it.
  app.delete('/api/nodes/:node', async (req, reply) => {
    requireAdmin(req)
    const { node } = req.params as Params as { node: string }
    const topic = field(parseBody(req.body), 'topic')
    if (!isValidTopicName(topic)) throw new ApiError(400, 'INVALID_TOPIC')
    const errors = await cluster.onLookupds((c) => c.tombstoneTopicProducer(topic, node))
    const found = await cluster.findNode(node)
    errors.push(...found.errors)
    if (found.value !== undefined) errors.push(...await cluster.onNodes([found.value], (c) => c.deleteTopic(topic)))
    notifier.notify('tombstone_topic_producer', { topic, node }, actionContext(req))
    return respond(reply, errors)
  })

  app.get('/api/history', async (req, reply) => {
    const { topic, channel } = req.query as Params
    return sendJson(reply, 200, {
      interval_ms: history.options.intervalMs,
      window_ms: history.options.windowMs,
      points: history.series(topic || undefined, topic ? (channel || undefined) : undefined),
      message: '',
    })
  })

  app.get('/api/history/topics', async (_req, reply) => {
    return sendJson(reply, 200, { ...history.summary(), message: '' })
  })
}
