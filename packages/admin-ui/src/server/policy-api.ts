/**
 * nsqadmin's /api for nsqts delivery policies (docs/policies.md), over nsqd's /topic/policy, /channel/policy,
 * /channel/peek and /channel/redrive. A topic or channel lives on several nsqds, so each call goes to every node
 * that has the topic: a policy is set on each node that has it, peek lists each node's next messages, redrive runs on
 * each node and sums what moved. Nodes without the topic or channel (404 from nsqd) are left out. These routes are
 * nsqts's own; NSQ's nsqadmin has none.
 */
import type { FastifyInstance } from 'fastify'
import { HttpError, type NsqdHttpClient } from '@nsqts/client'
import type { ChannelPolicy, PeekedMessage, TopicPolicy } from '@nsqts/protocol'
import type { ApiContext, RouteHelpers } from './api.js'
import { ApiError, allFailed, describeUpstreamError } from './errors.js'
import { parseBody } from './request-body.js'

type Params = Record<string, string>

/** A value one node answered. */
export interface NodeAnswer<T> {
  node: string
  value: T
}

/** The body fields POST /api/policy accepts: the nsqd query parameter names, numbers or strings as in the contract. */
const CHANNEL_FIELDS = {
  max_attempts: 'number',
  dead_letter_topic: 'string',
  ttl: 'string',
  ttl_action: 'string',
  max_depth: 'number',
  overflow: 'string',
} as const
const TOPIC_FIELDS = { ttl: 'string', max_depth: 'number', overflow: 'string' } as const

/**
 * The change a POST body asks for: only the contract's fields, each of its JSON type (else 400 INVALID_<FIELD>, as
 * nsqd names it); their values are nsqd's to judge, so every node answers the same 400 for a bad one.
 */
function policyChange (
  body: Record<string, unknown>,
  fields: Record<string, 'number' | 'string'>
): Record<string, string | number> {
  const change: Record<string, string | number> = {}
  for (const [name, type] of Object.entries(fields)) {
    const v = body[name]
    if (v === undefined) continue
    const ok = type === 'number' ? typeof v === 'number' : typeof v === 'string'
    if (!ok) throw new ApiError(400, `INVALID_${name.toUpperCase()}`)
    change[name] = v as string | number
  }
  return change
}

/**
 * An nsqd without delivery policies (NSQ's own) answers their paths 404 NOT_FOUND; reading a policy there answers
 * null, so the dashboard can say so instead of failing the whole read.
 */
async function nullWithoutPolicies<T> (request: Promise<T>): Promise<T | null> {
  try {
    return await request
  } catch (err) {
    if (err instanceof HttpError && err.status === 404 && err.nsqMessage === 'NOT_FOUND') return null
    throw err
  }
}

export function registerPolicyApi (app: FastifyInstance, ctx: ApiContext, helpers: RouteHelpers): void {
  const { cluster, notifier } = ctx
  const { requireAdmin, actionContext, respond } = helpers

  /**
   * Calls every nsqd that has the topic. A node answering 404 TOPIC_NOT_FOUND or CHANNEL_NOT_FOUND lacks it and is
   * skipped; a 400 is nsqd's verdict on the request, the same on every node, so it becomes nsqadmin's answer. No node
   * with the topic or channel is a 404; other failures are warnings, or the 502 when no node answered.
   */
  const onEachNode = async <T> (
    topic: string,
    channel: string | undefined,
    call: (c: NsqdHttpClient) => Promise<T>,
    oneAtATime = false
  ): Promise<{ answers: Array<NodeAnswer<T>>, errors: string[] }> => {
    const producers = await cluster.topicProducers(topic)
    const nodes = [...producers.value].sort((a, b) => a.node.localeCompare(b.node))
    const settle = (p: Promise<T>): Promise<PromiseSettledResult<T>> => p.then(
      (value) => ({ status: 'fulfilled', value }),
      (reason: unknown) => ({ status: 'rejected', reason })
    )
    const results: Array<PromiseSettledResult<T>> = []
    if (oneAtATime) for (const n of nodes) results.push(await settle(call(cluster.nsqdClient(n.address))))
    else results.push(...await Promise.all(nodes.map((n) => settle(call(cluster.nsqdClient(n.address))))))
    const answers: Array<NodeAnswer<T>> = []
    const errors: string[] = []
    results.forEach((r, i) => {
      const node = (nodes[i] as { node: string }).node
      if (r.status === 'fulfilled') {
        answers.push({ node, value: r.value })
        return
      }
      const err: unknown = r.reason
      if (err instanceof HttpError && err.status === 400) throw new ApiError(400, err.nsqMessage ?? 'BAD_REQUEST')
      // NSQ's own nsqd (no policies) answers these paths 404 NOT_FOUND: not a node without the channel.
      const missing = err instanceof HttpError && err.status === 404 &&
        (err.nsqMessage === 'TOPIC_NOT_FOUND' || err.nsqMessage === 'CHANNEL_NOT_FOUND')
      if (missing) return
      errors.push(describeUpstreamError(err))
    })
    if (answers.length === 0 && errors.length > 0) throw allFailed('nsqd', errors)
    if (answers.length === 0) throw new ApiError(404, channel === undefined ? 'TOPIC_NOT_FOUND' : 'CHANNEL_NOT_FOUND')
    return { answers, errors: [...producers.errors, ...errors] }
  }

  const policyAnswer = <T> (got: { answers: Array<NodeAnswer<T>> }): { nodes: Array<{ node: string, policy: T }> } =>
    ({ nodes: got.answers.map((a) => ({ node: a.node, policy: a.value })) })

  app.get('/api/policy/:topic', async (req, reply) => {
    const { topic } = req.params as Params as { topic: string }
    const got = await onEachNode(topic, undefined, (c) => nullWithoutPolicies(c.getTopicPolicy(topic)))
    return respond(reply, got.errors, policyAnswer(got))
  })

  app.post('/api/policy/:topic', async (req, reply) => {
    requireAdmin(req)
    const { topic } = req.params as Params as { topic: string }
    const change = policyChange(parseBody(req.body), TOPIC_FIELDS) as Partial<TopicPolicy>
    const got = await onEachNode(topic, undefined, (c) => c.setTopicPolicy(topic, change))
    notifier.notify('set_topic_policy', { topic }, actionContext(req))
    return respond(reply, got.errors, policyAnswer(got))
  })

  app.get('/api/policy/:topic/:channel', async (req, reply) => {
    const { topic, channel } = req.params as Params as { topic: string, channel: string }
    const got = await onEachNode(topic, channel, (c) => nullWithoutPolicies(c.getChannelPolicy(topic, channel)))
    return respond(reply, got.errors, policyAnswer(got))
  })

  app.post('/api/policy/:topic/:channel', async (req, reply) => {
    requireAdmin(req)
    const { topic, channel } = req.params as Params as { topic: string, channel: string }
    const change = policyChange(parseBody(req.body), CHANNEL_FIELDS) as Partial<ChannelPolicy>
    const got = await onEachNode(topic, channel, (c) => c.setChannelPolicy(topic, channel, change))
    notifier.notify('set_channel_policy', { topic, channel }, actionContext(req))
    return respond(reply, got.errors, policyAnswer(got))
  })

  // Message bodies are data, not metrics: with --admin-user set, only admins may read them.
  app.get('/api/peek/:topic/:channel', async (req, reply) => {
    requireAdmin(req)
    const { topic, channel } = req.params as Params as { topic: string, channel: string }
    const { n } = req.query as Params
    const count = n === undefined || n === '' ? undefined : Number(n)
    if (count !== undefined && !(Number.isInteger(count) && count > 0)) throw new ApiError(400, 'INVALID_N')
    const got = await onEachNode(topic, channel, (c) => c.peekChannel(topic, channel, { n: count }))
    const messages: Array<PeekedMessage & { node: string }> = []
    for (const a of got.answers) for (const m of a.value.messages) messages.push({ node: a.node, ...m })
    return respond(reply, got.errors, { messages })
  })

  app.post('/api/redrive/:topic/:channel', async (req, reply) => {
    requireAdmin(req)
    const { topic, channel } = req.params as Params as { topic: string, channel: string }
    const body = parseBody(req.body)
    const to = body.to
    const n = body.n
    if (typeof to !== 'string' || to === '') throw new ApiError(400, 'INVALID_TO')
    if (n !== undefined && !(typeof n === 'number' && Number.isInteger(n) && n > 0)) {
      throw new ApiError(400, 'INVALID_N')
    }
    // Up to n over the whole cluster: the nodes go one after another, each given what is left.
    let left = n
    const got = await onEachNode(topic, channel, async (c) => {
      if (left === 0) return { moved: 0 }
      const r = await c.redriveChannel(topic, channel, to, { n: left })
      if (left !== undefined) left = Math.max(0, left - r.moved)
      return r
    }, n !== undefined)
    let moved = 0
    for (const a of got.answers) moved += a.value.moved
    notifier.notify('redrive_channel', { topic, channel }, actionContext(req))
    const nodes = got.answers.map((a) => ({ node: a.node, moved: a.value.moved }))
    return respond(reply, got.errors, { moved, nodes })
  })
}
