import type { RouteTable } from './router.js'
import { isValidChannelName, isValidTopicName } from '@nsqts/protocol'
import type { HttpBroker } from './broker.js'
import type { Topic } from '../topic.js'
import type { Channel } from '../channel.js'
import { first, type QueryValues } from './query.js'
import { HttpError, queryOf, sendV1 } from './respond.js'
import { topicFromQuery } from './pub.js'

/**
 * POST /topic/* and /channel/*. nsqd validates names differently per route, and clients see the difference: topic
 * routes say INVALID_TOPIC, channel routes INVALID_ARG_TOPIC; /topic/delete and pause check no name at all.
 */

export function required (query: QueryValues, key: string, missing: string): string {
  const value = first(query, key)
  if (value === undefined) throw new HttpError(400, missing)
  return value
}

export function existingTopic (nsqd: HttpBroker, name: string): Topic {
  const topic = nsqd.getExistingTopic(name)
  if (topic === undefined) throw new HttpError(404, 'TOPIC_NOT_FOUND')
  return topic
}

/** The existing topic and the (valid) channel name of a channel route. */
export function topicAndChannelName (nsqd: HttpBroker, query: QueryValues): [Topic, string] {
  const topicName = required(query, 'topic', 'MISSING_ARG_TOPIC')
  if (!isValidTopicName(topicName)) throw new HttpError(400, 'INVALID_ARG_TOPIC')
  const channelName = required(query, 'channel', 'MISSING_ARG_CHANNEL')
  if (!isValidChannelName(channelName)) throw new HttpError(400, 'INVALID_ARG_CHANNEL')
  return [existingTopic(nsqd, topicName), channelName]
}

export function existingChannel (topic: Topic, name: string): Channel {
  const channel = topic.channels.get(name)
  if (channel === undefined) throw new HttpError(404, 'CHANNEL_NOT_FOUND')
  return channel
}

export function adminRoutes (app: RouteTable, nsqd: HttpBroker): void {
  app.post('/topic/create', async (call) => {
    topicFromQuery(nsqd, queryOf(call))
    await sendV1(call, null)
  })

  app.post('/topic/delete', async (call) => {
    const name = required(queryOf(call), 'topic', 'MISSING_ARG_TOPIC')
    if (!await nsqd.deleteExistingTopic(name)) throw new HttpError(404, 'TOPIC_NOT_FOUND')
    await sendV1(call, null)
  })

  app.post('/topic/empty', async (call) => {
    const name = required(queryOf(call), 'topic', 'MISSING_ARG_TOPIC')
    if (!isValidTopicName(name)) throw new HttpError(400, 'INVALID_TOPIC')
    await existingTopic(nsqd, name).empty()
    await sendV1(call, null)
  })

  for (const pause of [true, false]) {
    app.post(pause ? '/topic/pause' : '/topic/unpause', async (call) => {
      const topic = existingTopic(nsqd, required(queryOf(call), 'topic', 'MISSING_ARG_TOPIC'))
      if (pause) topic.pause(); else topic.unpause()
      // Persisted at once, so that a crash does not (un)pause it again.
      nsqd.notifyPauseChanged()
      await sendV1(call, null)
    })

    app.post(pause ? '/channel/pause' : '/channel/unpause', async (call) => {
      const [topic, name] = topicAndChannelName(nsqd, queryOf(call))
      const channel = existingChannel(topic, name)
      if (pause) channel.pause(); else channel.unpause()
      nsqd.notifyPauseChanged()
      await sendV1(call, null)
    })
  }

  // Unlike SUB, this never creates the topic.
  app.post('/channel/create', async (call) => {
    const [topic, name] = topicAndChannelName(nsqd, queryOf(call))
    topic.getChannel(name)
    await sendV1(call, null)
  })

  app.post('/channel/delete', async (call) => {
    const [topic, name] = topicAndChannelName(nsqd, queryOf(call))
    if (!await topic.deleteChannel(name)) throw new HttpError(404, 'CHANNEL_NOT_FOUND')
    await sendV1(call, null)
  })

  app.post('/channel/empty', async (call) => {
    const [topic, name] = topicAndChannelName(nsqd, queryOf(call))
    await existingChannel(topic, name).empty()
    await sendV1(call, null)
  })
}
