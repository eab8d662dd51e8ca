import { NsqError, OK, CLOSE_WAIT, goQuote, isValidChannelName, isValidTopicName, parseBase10, toInt64, MESSAGE_ID_LENGTH, type BodySpec } from '@nsqts/protocol'
import type { Client } from './client.js'
import { ClientState } from './client-state.js'
import { identify } from './identify.js'
import { authFailed, authFirst, authQueryOf, authResponse, isAllowed, queryAuthd } from './auth.js'
import { TlsRequired } from './tls.js'

/**
 * One handler per V2 command. `line` runs when a command line is complete: commands without a body are executed
 * there; the others do nsqd's pre-body checks (in nsqd's order) and return how their body is framed. Check order and
 * error texts follow nsqd 1.3.0 exactly, since clients and operators match on them.
 */

const inv = (text: string): NsqError => new NsqError('E_INVALID', text)

interface Handler {
  line (client: Client, params: readonly string[]): BodySpec | NsqError | null
  body? (client: Client, params: readonly string[], body: Buffer): void
  bodies? (client: Client, params: readonly string[], bodies: Buffer[]): void
}

/** A topic name is checked by regex only the first time: a name that names an existing topic is valid. */
function validTopic (client: Client, name: string): boolean {
  return client.nsqd.topics.has(name) || isValidTopicName(name)
}

function sizedBody (check: (size: number) => NsqError | null): BodySpec {
  return { kind: 'sized', checkSize: check }
}

const FAILED = { PUB: 'E_PUB_FAILED', DPUB: 'E_DPUB_FAILED', MPUB: 'E_MPUB_FAILED' } as const

/**
 * Publishes through Topic.publish and answers: at once when it wrote nothing to disk, otherwise once the write it
 * returned has landed, with E_*_FAILED if it failed (see Topic.publish).
 */
function publish (client: Client, cmd: 'PUB' | 'DPUB' | 'MPUB', topicName: string, bodies: Buffer | Buffer[], deferMs = 0): void {
  const code = FAILED[cmd]
  if (client.nsqd.isExiting) return client.sendError(new NsqError(code, `${cmd} failed exiting`))
  const topic = client.nsqd.getTopic(topicName)
  const n = Buffer.isBuffer(bodies) ? 1 : bodies.length
  // nsqts: a full topic with overflow=reject (docs/policies.md); fatal, as every E_*_FAILED is.
  if (topic.refuses(n)) return client.sendError(new NsqError(code, `${cmd} failed topic full`))
  const write = topic.publish(bodies, deferMs)
  client.pubCounts.set(topicName, (client.pubCounts.get(topicName) ?? 0) + n)
  if (write === undefined) client.sendResponse(OK)
  else client.replyWhenStored(write, OK, (err) => new NsqError(code, `${cmd} failed ${err.message}`))
}

/** A command waiting for the auth server: `onAllowed` runs if it grants the command. */
interface AuthWait {
  onAllowed: () => void
}

/**
 * NSQ's CheckAuth, in its order: with auth on, the connection must have AUTHed, and its cached answer must allow the
 * command (a publish is checked with the channel ""). An expired answer is asked for again: parsing waits (the
 * returned AuthWait) and resumes once allowed; a refusal or a failed query is fatal.
 */
function authorize (client: Client, cmd: string, topic: string, channel: string): NsqError | AuthWait | null {
  const nsqd = client.nsqd
  if (nsqd.options.authHttpAddresses.length === 0) return null
  const state = client.auth
  if (state === undefined || state.authorizations.length === 0) return authFirst(cmd)
  const unauthorized = (): NsqError => new NsqError('E_UNAUTHORIZED', `AUTH failed for ${cmd} on ${goQuote(topic)} ${goQuote(channel)}`)
  if (Date.now() < state.expires) return isAllowed(state, topic, channel) ? null : unauthorized()
  const wait: AuthWait = { onAllowed: () => {} }
  client.suspendParsing()
  queryAuthd(authQueryOf(client), nsqd.options).then((fresh) => {
    if (client.isClosed) return
    client.auth = fresh
    if (!isAllowed(fresh, topic, channel)) return client.sendError(unauthorized())
    wait.onAllowed()
    client.resumeParsing()
  }, (err: Error) => {
    nsqd.logger.warn(`PROTOCOL(V2): [${client.remoteAddress}] auth failed - ${err.message}`)
    client.sendError(authFailed())
  })
  return wait
}

function subscribe (client: Client, topicName: string, channelName: string): NsqError | null {
  const nsqd = client.nsqd
  if (nsqd.isExiting) return new NsqError('E_SUB_FAILED', 'SUB failed exiting')
  const channel = nsqd.getTopic(topicName).getChannel(channelName)
  const max = nsqd.options.maxChannelConsumers
  if (max !== 0 && channel.clientCount >= max) {
    return new NsqError('E_SUB_FAILED', `SUB failed consumers for ${topicName}:${channelName} exceeds limit of ${max}`)
  }
  client.state = ClientState.Subscribed
  client.channel = channel
  channel.addConsumer(client)
  client.sendResponse(OK)
  return null
}

/**
 * Publishes a PUB or DPUB body once authorized (nsqd checks auth after reading the body). A body that must wait for
 * the auth server is copied: the parser's view of it is only valid during the call.
 */
function publishAuthorized (client: Client, cmd: 'PUB' | 'DPUB', topicName: string, body: Buffer, deferMs: number): void {
  const auth = authorize(client, cmd, topicName, '')
  if (auth === null) return publish(client, cmd, topicName, body, deferMs)
  if (auth instanceof NsqError) return client.sendError(auth)
  const copy = Buffer.from(body)
  auth.onAllowed = () => { publish(client, cmd, topicName, copy, deferMs) }
}

const handlers: Record<string, Handler> = {
  IDENTIFY: {
    line (client) {
      if (client.state !== ClientState.Init) return inv('cannot IDENTIFY in current state')
      const { maxBodySize } = client.nsqd.options
      return sizedBody((size) => {
        if (size > maxBodySize) return new NsqError('E_BAD_BODY', `IDENTIFY body too big ${size} > ${maxBodySize}`)
        if (size <= 0) return new NsqError('E_BAD_BODY', `IDENTIFY invalid body size ${size}`)
        return null
      })
    },
    body (client, _params, body) {
      identify(client, body)
    },
  },

  AUTH: {
    line (client, params) {
      if (client.state !== ClientState.Init) return inv('cannot AUTH in current state')
      if (params.length !== 1) return inv('AUTH invalid number of parameters')
      const { maxBodySize } = client.nsqd.options
      return sizedBody((size) => {
        if (size > maxBodySize) return inv(`AUTH body too big ${size} > ${maxBodySize}`)
        if (size <= 0) return inv(`AUTH invalid body size ${size}`)
        return null
      })
    },
    body (client, _params, body) {
      const nsqd = client.nsqd
      if (client.auth !== undefined && client.auth.authorizations.length > 0) return client.sendError(inv('AUTH already set'))
      if (nsqd.options.authHttpAddresses.length === 0) return client.sendError(new NsqError('E_AUTH_DISABLED', 'AUTH disabled'))
      client.authSecret = body.toString('utf8')
      client.suspendParsing()
      queryAuthd(authQueryOf(client), nsqd.options).then((state) => {
        if (client.isClosed) return
        client.auth = state
        if (state.authorizations.length === 0) return client.sendError(new NsqError('E_UNAUTHORIZED', 'AUTH no authorizations found'))
        client.sendResponse(authResponse(state))
        client.resumeParsing()
      }, (err: Error) => {
        // The auth server's error stays in the log: clients are not trusted with it.
        nsqd.logger.warn(`PROTOCOL(V2): [${client.remoteAddress}] AUTH failed ${err.message}`)
        client.sendError(authFailed())
      })
    },
  },

  SUB: {
    line (client, params) {
      if (client.state !== ClientState.Init) return inv('cannot SUB in current state')
      if (client.heartbeatIntervalMs <= 0) return inv('cannot SUB with heartbeats disabled')
      if (params.length < 3) return inv('SUB insufficient number of parameters')
      const topicName = params[1] as string
      if (!validTopic(client, topicName)) return new NsqError('E_BAD_TOPIC', `SUB topic name ${goQuote(topicName)} is not valid`)
      const channelName = params[2] as string
      if (!isValidChannelName(channelName)) return new NsqError('E_BAD_CHANNEL', `SUB channel name ${goQuote(channelName)} is not valid`)
      const auth = authorize(client, 'SUB', topicName, channelName)
      if (auth === null) return subscribe(client, topicName, channelName)
      if (auth instanceof NsqError) return auth
      auth.onAllowed = () => {
        const err = subscribe(client, topicName, channelName)
        if (err !== null) client.sendError(err)
      }
      return null
    },
  },

  RDY: {
    line (client, params) {
      if (client.state === ClientState.Closing) return null
      if (client.state !== ClientState.Subscribed) return inv('cannot RDY in current state')
      let count: number | bigint = 1
      if (params.length > 1) {
        const parsed = parseBase10(params[1] as string)
        if (parsed === undefined) return inv(`RDY could not parse count ${params[1] as string}`)
        count = toInt64(parsed)
      }
      const max = client.nsqd.options.maxRdyCount
      if (count < 0 || count > max) return inv(`RDY count ${count} out of range 0-${max}`)
      client.readyCount = Number(count)
      client.channel?.consumerMayBeReady()
      return null
    },
  },

  FIN: {
    line (client, params) {
      if (client.state !== ClientState.Subscribed && client.state !== ClientState.Closing) return inv('cannot FIN in current state')
      if (params.length < 2) return inv('FIN insufficient number of params')
      const id = params[1] as string
      if (id.length !== MESSAGE_ID_LENGTH) return inv('invalid message ID')
      const failed = client.channel === undefined ? 'ID not in flight' : client.channel.finish(client.id, id)
      if (failed !== undefined) {
        client.sendError(new NsqError('E_FIN_FAILED', `FIN ${id} failed ${failed}`))
        return null
      }
      client.finishCount++
      client.inFlightCount--
      return null
    },
  },

  REQ: {
    line (client, params) {
      if (client.state !== ClientState.Subscribed && client.state !== ClientState.Closing) return inv('cannot REQ in current state')
      if (params.length < 3) return inv('REQ insufficient number of params')
      const id = params[1] as string
      if (id.length !== MESSAGE_ID_LENGTH) return inv('invalid message ID')
      const parsed = parseBase10(params[2] as string)
      if (parsed === undefined) return inv(`REQ could not parse timeout ${params[2] as string}`)
      const max = client.nsqd.options.maxReqTimeout
      // Over the maximum is clamped, not refused (nsqd >= 1.1.0).
      const delay = Number(parsed) > max ? max : Number(parsed)
      if (delay !== Number(parsed)) {
        client.nsqd.logger.info(`[${client.remoteAddress}] REQ timeout ${String(parsed)}ms out of range 0-${max}ms. Setting to ${max}ms`)
      }
      const failed = client.channel === undefined ? 'ID not in flight' : client.channel.requeue(client.id, id, delay)
      if (failed !== undefined) {
        client.sendError(new NsqError('E_REQ_FAILED', `REQ ${id} failed ${failed}`))
        return null
      }
      client.requeueCount++
      client.inFlightCount--
      return null
    },
  },

  TOUCH: {
    line (client, params) {
      if (client.state !== ClientState.Subscribed && client.state !== ClientState.Closing) return inv('cannot TOUCH in current state')
      if (params.length < 2) return inv('TOUCH insufficient number of params')
      const id = params[1] as string
      if (id.length !== MESSAGE_ID_LENGTH) return inv('invalid message ID')
      const failed = client.channel === undefined ? 'ID not in flight' : client.channel.touch(client.id, id, client.msgTimeoutMs)
      if (failed !== undefined) client.sendError(new NsqError('E_TOUCH_FAILED', `TOUCH ${id} failed ${failed}`))
      return null
    },
  },

  CLS: {
    line (client) {
      if (client.state !== ClientState.Subscribed) return inv('cannot CLS in current state')
      client.state = ClientState.Closing
      client.sendResponse(CLOSE_WAIT)
      return null
    },
  },

  NOP: {
    line () {
      return null
    },
  },

  PUB: {
    line (client, params) {
      if (params.length < 2) return inv('PUB insufficient number of parameters')
      const topicName = params[1] as string
      if (!validTopic(client, topicName)) return new NsqError('E_BAD_TOPIC', `PUB topic name ${goQuote(topicName)} is not valid`)
      return client.nsqd.pubSpec
    },
    body (client, params, body) {
      publishAuthorized(client, 'PUB', params[1] as string, body, 0)
    },
  },

  DPUB: {
    line (client, params) {
      if (params.length < 3) return inv('DPUB insufficient number of parameters')
      const topicName = params[1] as string
      if (!validTopic(client, topicName)) return new NsqError('E_BAD_TOPIC', `DPUB topic name ${goQuote(topicName)} is not valid`)
      const parsed = parseBase10(params[2] as string)
      if (parsed === undefined) return inv(`DPUB could not parse timeout ${params[2] as string}`)
      const max = client.nsqd.options.maxReqTimeout
      if (typeof parsed === 'bigint' || parsed > max) return inv(`DPUB timeout ${String(parsed)} out of range 0-${max}`)
      return client.nsqd.dpubSpec
    },
    body (client, params, body) {
      publishAuthorized(client, 'DPUB', params[1] as string, body, Number(parseBase10(params[2] as string)))
    },
  },

  MPUB: {
    line (client, params) {
      if (params.length < 2) return inv('MPUB insufficient number of parameters')
      const topicName = params[1] as string
      // nsqd's text repeats the code here.
      if (!validTopic(client, topicName)) return new NsqError('E_BAD_TOPIC', `E_BAD_TOPIC MPUB topic name ${goQuote(topicName)} is not valid`)
      // nsqd checks auth, then creates the topic, before it reads the body.
      const auth = authorize(client, 'MPUB', topicName, '')
      if (auth instanceof NsqError) return auth
      if (auth === null) client.nsqd.getTopic(topicName)
      else auth.onAllowed = () => { client.nsqd.getTopic(topicName) }
      return client.nsqd.mpubSpec
    },
    bodies (client, params, bodies) {
      publish(client, 'MPUB', params[1] as string, bodies)
    },
  },
}

/**
 * The handlers by command name, in a Map: an object looked up by a client's word would find Object.prototype's
 * members (`constructor`, `toString`) where nsqd answers E_INVALID.
 */
const table = new Map(Object.entries(handlers))

/** Builds the body specs once per daemon: they only depend on its limits. */
export function bodySpecs (
  limits: { maxMsgSize: number, maxBodySize: number },
): { pub: BodySpec, dpub: BodySpec, mpub: BodySpec } {
  const { maxMsgSize, maxBodySize } = limits
  const single = (cmd: string): BodySpec => sizedBody((size) => {
    if (size <= 0) return new NsqError('E_BAD_MESSAGE', `${cmd} invalid message body size ${size}`)
    if (size > maxMsgSize) return new NsqError('E_BAD_MESSAGE', `${cmd} message too big ${size} > ${maxMsgSize}`)
    return null
  })
  const maxMessages = Math.floor((maxBodySize - 4) / 5)
  return {
    pub: single('PUB'),
    dpub: single('DPUB'),
    mpub: {
      kind: 'multi',
      checkBodySize: (size) => {
        if (size <= 0) return new NsqError('E_BAD_BODY', `MPUB invalid body size ${size}`)
        if (size > maxBodySize) return new NsqError('E_BAD_BODY', `MPUB body too big ${size} > ${maxBodySize}`)
        return null
      },
      checkCount: (count) => (count <= 0 || count > maxMessages ? new NsqError('E_BAD_BODY', `MPUB invalid message count ${count}`) : null),
      checkMessageSize: (i, size) => {
        if (size <= 0) return new NsqError('E_BAD_MESSAGE', `MPUB invalid message(${i}) body size ${size}`)
        if (size > maxMsgSize) return new NsqError('E_BAD_MESSAGE', `MPUB message too big ${size} > ${maxMsgSize}`)
        return null
      },
    },
  }
}

/** `FIN ` and a 16-byte id: the one line read in place (see finBytes). */
const FIN_LINE_LENGTH = 4 + MESSAGE_ID_LENGTH
const [F, I, N, SPACE] = [0x46, 0x49, 0x4e, 0x20]

/**
 * FIN, the command a reader sends per message, read in place: the id is looked up by its bytes in the line, and no
 * string is made unless it fails (its error names the id). Only the plain form whose checks all pass is taken here
 * (subscribed or closing, TLS not required or in place, `FIN <16 bytes without a space>`); every other line goes
 * through `line` and FIN's handler, with the same order of checks and the same answers.
 */
function finBytes (client: Client, raw: Buffer, start: number, end: number): boolean {
  if (end - start !== FIN_LINE_LENGTH || raw[start] !== F || raw[start + 1] !== I || raw[start + 2] !== N ||
      raw[start + 3] !== SPACE) return false
  if (client.state !== ClientState.Subscribed && client.state !== ClientState.Closing) return false
  if (client.nsqd.options.tlsRequired !== TlsRequired.No && client.tls === undefined) return false
  const at = start + 4
  for (let k = at; k < end; k++) if (raw[k] === SPACE) return false
  const failed = client.channel === undefined ? 'ID not in flight' : client.channel.finishBytes(client.id, raw, at)
  if (failed !== undefined) {
    client.sendError(new NsqError('E_FIN_FAILED', `FIN ${raw.toString('latin1', at, end)} failed ${failed}`))
    return true
  }
  client.finishCount++
  client.inFlightCount--
  return true
}

export const dispatch = {
  rawLine: finBytes,
  line (client: Client, params: readonly string[]): BodySpec | NsqError | null {
    const cmd = params[0] as string
    const handler = table.get(cmd)
    let result: BodySpec | NsqError | null
    // With --tls-required (true or tcp-https), everything but IDENTIFY needs the connection upgraded first.
    if (cmd !== 'IDENTIFY' && client.nsqd.options.tlsRequired !== TlsRequired.No && client.tls === undefined) {
      result = inv(`cannot ${cmd} in current state (TLS required)`)
    } else {
      result = handler === undefined ? inv(`invalid command ${cmd}`) : handler.line(client, params)
    }
    if (result instanceof NsqError) client.sendError(result)
    return result
  },
  body (client: Client, params: readonly string[], body: Buffer): void {
    table.get(params[0] as string)?.body?.(client, params, body)
  },
  bodies (client: Client, params: readonly string[], bodies: Buffer[]): void {
    table.get(params[0] as string)?.bodies?.(client, params, bodies)
  },
}
