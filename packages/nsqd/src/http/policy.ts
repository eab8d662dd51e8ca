import type { RouteTable } from './router.js'
import { isValidTopicName, type PeekResponse, type RedriveResponse } from '@nsqts/protocol'
import type { HttpBroker } from './broker.js'
import {
  PolicyError, applyPatch, deadLetterTopicUsable, parseChannelPolicyQuery, parseTopicPolicyQuery, peekedMessage,
} from '../policy.js'
import { first, type QueryValues } from './query.js'
import { HttpError, queryOf, sendV1 } from './respond.js'
import { existingChannel, existingTopic, required, topicAndChannelName } from './admin.js'

/**
 * nsqts delivery policies (docs/policies.md): GET/POST /topic/policy and /channel/policy, GET /channel/peek, POST
 * /channel/redrive. Names are checked as nsqd's other topic and channel routes check them; none of these routes
 * creates a topic or channel, except that a redrive creates its target topic as a publish would.
 */

const PEEK_DEFAULT = 10
const PEEK_MAX = 1000

/** A positive count parameter: `fallback` when absent; INVALID_N when not a number in 1..max. */
function countOf (query: QueryValues, fallback: number, max: number): number {
  const text = first(query, 'n')
  if (text === undefined) return fallback
  const n = /^\d+$/.test(text) ? Number(text) : NaN
  if (!(n >= 1 && n <= max)) throw new HttpError(400, 'INVALID_N')
  return n
}

function policyParams<T> (parse: () => T): T {
  try {
    return parse()
  } catch (err) {
    if (err instanceof PolicyError) throw new HttpError(400, err.text)
    throw err
  }
}

/** Answers once the stored metadata holds the change (synced in --durable mode), so a crash after OK keeps it. */
async function persisted (nsqd: HttpBroker, mark: number): Promise<void> {
  const write = nsqd.writeSince(mark)
  if (write !== undefined) await new Promise<void>((resolve) => write.onSettled(resolve))
}

export function policyRoutes (app: RouteTable, nsqd: HttpBroker): void {
  const topicOf = (query: QueryValues) => {
    const name = required(query, 'topic', 'MISSING_ARG_TOPIC')
    if (!isValidTopicName(name)) throw new HttpError(400, 'INVALID_TOPIC')
    return existingTopic(nsqd, name)
  }
  const channelOf = (query: QueryValues) => {
    const [topic, name] = topicAndChannelName(nsqd, query)
    return existingChannel(topic, name)
  }

  app.get('/topic/policy', async (call) => {
    await sendV1(call, topicOf(queryOf(call)).policyJson())
  })

  app.post('/topic/policy', async (call) => {
    const query = queryOf(call)
    const topic = topicOf(query)
    const patch = policyParams(() => parseTopicPolicyQuery((key) => first(query, key)))
    const mark = nsqd.writeMark()
    topic.setPolicy(applyPatch(topic.policySettings, patch))
    await persisted(nsqd, mark)
    await sendV1(call, topic.policyJson())
  })

  app.get('/channel/policy', async (call) => {
    await sendV1(call, channelOf(queryOf(call)).policyJson())
  })

  app.post('/channel/policy', async (call) => {
    const query = queryOf(call)
    const channel = channelOf(query)
    const patch = policyParams(() => parseChannelPolicyQuery((key) => first(query, key), channel.topicName))
    const settings = applyPatch(channel.policySettings, patch)
    if (!deadLetterTopicUsable(settings, nsqd.channelPolicyDefaults, channel.topicName)) {
      throw new HttpError(400, 'INVALID_DEAD_LETTER_TOPIC')
    }
    const mark = nsqd.writeMark()
    channel.setPolicy(settings)
    await persisted(nsqd, mark)
    await sendV1(call, channel.policyJson())
  })

  app.get('/channel/peek', async (call) => {
    const query = queryOf(call)
    const channel = channelOf(query)
    const n = countOf(query, PEEK_DEFAULT, PEEK_MAX)
    const answer: PeekResponse = { messages: (await channel.peek(n)).map(peekedMessage) }
    await sendV1(call, answer)
  })

  app.post('/channel/redrive', async (call) => {
    const query = queryOf(call)
    const channel = channelOf(query)
    const to = first(query, 'to')
    if (to === undefined) throw new HttpError(400, 'MISSING_ARG_TO')
    if (!isValidTopicName(to)) throw new HttpError(400, 'INVALID_TO')
    const n = countOf(query, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)
    if (nsqd.isExiting) throw new HttpError(503, 'EXITING')
    const answer: RedriveResponse = { moved: await channel.moveQueued(to, n) }
    await sendV1(call, answer)
  })
}
