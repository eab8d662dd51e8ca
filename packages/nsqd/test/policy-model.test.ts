import { describe, it, expect } from 'vitest'
import { encodeMessage } from '@nsqts/protocol'
import {
  PolicyError, activeChannelPolicy, activeTopicPolicy, applyPatch, channelPolicyJson, channelSettingsFromStored,
  deadLetterTopicUsable, defaultDeadLetterTopic, parseChannelPolicyQuery, parseTopicPolicyQuery, peekedMessage,
  settingsToStored, topicPolicyJson, topicSettingsFromStored, type ChannelPolicyDefaults, type ChannelPolicySettings,
} from '../src/policy.js'
import { resolveOptions } from '../src/options.js'

const OFF: ChannelPolicyDefaults = { maxAttempts: 0, ttlMs: 0, maxDepth: 0, overflow: 'drop-oldest' }
const query = (text: string) => {
  const params = new URLSearchParams(text)
  return (key: string): string | undefined => params.get(key) ?? undefined
}
const errorOf = (fn: () => unknown): string | undefined => {
  try {
    fn()
  } catch (err) {
    if (err instanceof PolicyError) return err.text
    throw err
  }
  return undefined
}

describe('channel policy parameters', () => {
  it('parse each parameter; absent leaves a field alone, 0 or empty clears it', () => {
    expect(parseChannelPolicyQuery(query('max_attempts=5&ttl=1m30s&ttl_action=dead-letter&max_depth=100&overflow=dead-letter&dead_letter_topic=dlq'), 'orders')).toEqual({
      maxAttempts: 5, deadLetterTopic: 'dlq', ttlMs: 90_000, ttlAction: 'dead-letter', maxDepth: 100, overflow: 'dead-letter',
    })
    expect(parseChannelPolicyQuery(query('max_attempts=0&ttl=0s&dead_letter_topic=&ttl_action=&max_depth=0'), 'orders')).toEqual({
      maxAttempts: null, deadLetterTopic: null, ttlMs: null, ttlAction: null, maxDepth: null, overflow: undefined,
    })
    expect(parseChannelPolicyQuery(query(''), 'orders')).toEqual({
      maxAttempts: undefined,
      deadLetterTopic: undefined,
      ttlMs: undefined,
      ttlAction: undefined,
      maxDepth: undefined,
      overflow: undefined,
    })
  })

  it.each([
    ['max_attempts=-1', 'INVALID_MAX_ATTEMPTS'],
    ['max_attempts=1.5', 'INVALID_MAX_ATTEMPTS'],
    ['max_attempts=65536', 'INVALID_MAX_ATTEMPTS'],
    ['max_attempts=five', 'INVALID_MAX_ATTEMPTS'],
    ['dead_letter_topic=bad name', 'INVALID_DEAD_LETTER_TOPIC'],
    ['dead_letter_topic=orders', 'INVALID_DEAD_LETTER_TOPIC'],
    [`dead_letter_topic=${'x'.repeat(65)}`, 'INVALID_DEAD_LETTER_TOPIC'],
    ['ttl=30', 'INVALID_TTL'],
    ['ttl=-1s', 'INVALID_TTL'],
    ['ttl=1d', 'INVALID_TTL'],
    ['ttl=soon', 'INVALID_TTL'],
    ['ttl_action=requeue', 'INVALID_TTL_ACTION'],
    ['max_depth=-5', 'INVALID_MAX_DEPTH'],
    ['max_depth=1e3', 'INVALID_MAX_DEPTH'],
    ['overflow=reject', 'INVALID_OVERFLOW'],
    ['overflow=drop', 'INVALID_OVERFLOW'],
    // The first bad parameter in the contract's order is the one reported.
    ['overflow=x&max_attempts=x', 'INVALID_MAX_ATTEMPTS'],
    ['ttl_action=x&ttl=x', 'INVALID_TTL'],
  ])('%s is %s', (text, error) => {
    expect(errorOf(() => parseChannelPolicyQuery(query(text), 'orders'))).toBe(error)
  })

  it('a topic takes ttl, max_depth and overflow drop-oldest or reject', () => {
    expect(parseTopicPolicyQuery(query('ttl=500ms&max_depth=10&overflow=drop-oldest'))).toEqual({ ttlMs: 500, maxDepth: 10, overflow: 'drop-oldest' })
    expect(errorOf(() => parseTopicPolicyQuery(query('overflow=dead-letter')))).toBe('INVALID_OVERFLOW')
    expect(errorOf(() => parseTopicPolicyQuery(query('max_depth=x')))).toBe('INVALID_MAX_DEPTH')
  })

  it('a patch sets, clears and keeps fields', () => {
    const own: ChannelPolicySettings = { maxAttempts: 3, ttlMs: 1000 }
    expect(applyPatch(own, { maxAttempts: null, deadLetterTopic: 'd', ttlMs: undefined, ttlAction: undefined, maxDepth: 7, overflow: undefined }))
      .toEqual({ deadLetterTopic: 'd', ttlMs: 1000, maxDepth: 7 })
    expect(own).toEqual({ maxAttempts: 3, ttlMs: 1000 })
  })
})

describe('the policy in force', () => {
  it('a channel with nothing set and no flags has no active policy, and answers the defaults', () => {
    expect(activeChannelPolicy({}, OFF, 'orders')).toBeNull()
    expect(channelPolicyJson({}, OFF, 'orders')).toEqual({
      max_attempts: 0, dead_letter_topic: 'orders.dead', ttl: '', ttl_action: 'drop', max_depth: 0, overflow: 'drop-oldest',
    })
  })

  it('the flags fill what a channel does not set', () => {
    const flags: ChannelPolicyDefaults = { maxAttempts: 5, ttlMs: 60_000, maxDepth: 0, overflow: 'dead-letter' }
    expect(channelPolicyJson({ maxAttempts: 2 }, flags, 'orders')).toEqual({
      max_attempts: 2, dead_letter_topic: 'orders.dead', ttl: '1m0s', ttl_action: 'drop', max_depth: 0, overflow: 'dead-letter',
    })
    expect(activeChannelPolicy({ ttlAction: 'dead-letter', maxDepth: 10 }, flags, 'orders')).toEqual({
      maxAttempts: 5, deadLetterTopic: 'orders.dead', ttlMs: 60_000, ttlDeadLetter: true, maxDepth: 10, overflowDeadLetter: true,
    })
  })

  it('a dead-letter topic or ttl action alone changes nothing about delivery', () => {
    expect(activeChannelPolicy({ deadLetterTopic: 'x', ttlAction: 'dead-letter', overflow: 'dead-letter' }, OFF, 'orders')).toBeNull()
  })

  it('a topic rejects when full unless it drops the oldest', () => {
    expect(activeTopicPolicy({})).toBeNull()
    expect(activeTopicPolicy({ maxDepth: 3 })).toEqual({ ttlMs: 0, maxDepth: 3, reject: true })
    expect(activeTopicPolicy({ maxDepth: 3, overflow: 'drop-oldest' })?.reject).toBe(false)
    expect(activeTopicPolicy({ ttlMs: 5 })).toEqual({ ttlMs: 5, maxDepth: 0, reject: false })
    expect(topicPolicyJson({})).toEqual({ ttl: '', max_depth: 0, overflow: 'reject' })
    expect(topicPolicyJson({ ttlMs: 1.5 })).toEqual({ ttl: '1.5ms', max_depth: 0, overflow: 'reject' })
  })

  it('the default dead-letter topic keeps an ephemeral suffix last, and a too-long one is refused once used', () => {
    expect(defaultDeadLetterTopic('orders')).toBe('orders.dead')
    expect(defaultDeadLetterTopic('orders#ephemeral')).toBe('orders.dead#ephemeral')
    const long = 'x'.repeat(62)
    expect(deadLetterTopicUsable({}, OFF, long)).toBe(true)
    expect(deadLetterTopicUsable({ maxAttempts: 1 }, OFF, long)).toBe(false)
    expect(deadLetterTopicUsable({ maxAttempts: 1, deadLetterTopic: 'dlq' }, OFF, long)).toBe(true)
    expect(deadLetterTopicUsable({ maxDepth: 1 }, OFF, long)).toBe(true)
    expect(deadLetterTopicUsable({ maxDepth: 1, overflow: 'dead-letter' }, OFF, long)).toBe(false)
  })
})

describe('stored policies', () => {
  it('round-trip through their stored form', () => {
    const channel = { maxAttempts: 4, deadLetterTopic: 'dlq', ttlMs: 2500, ttlAction: 'dead-letter', maxDepth: 9, overflow: 'dead-letter' } as const
    expect(channelSettingsFromStored(JSON.parse(JSON.stringify(settingsToStored(channel))))).toEqual(channel)
    const topic = { ttlMs: 10, maxDepth: 2, overflow: 'drop-oldest' } as const
    expect(topicSettingsFromStored(JSON.parse(JSON.stringify(settingsToStored(topic))))).toEqual(topic)
    expect(settingsToStored({})).toEqual({})
  })

  it('fields that nsqd would not have stored are left out instead of failing the queue', () => {
    expect(channelSettingsFromStored({ max_attempts: -1, ttl_ms: 'x', overflow: 'reject', dead_letter_topic: 'a b', max_depth: 3 })).toEqual({ maxDepth: 3 })
    expect(channelSettingsFromStored('garbage')).toEqual({})
    expect(topicSettingsFromStored({ overflow: 'dead-letter', ttl_ms: 5 })).toEqual({ ttlMs: 5 })
    expect(topicSettingsFromStored(null)).toEqual({})
  })
})

describe('nsqd flags', () => {
  it('are off by default and checked', () => {
    const o = resolveOptions()
    expect([o.maxAttempts, o.msgTtl, o.maxChannelDepth, o.channelOverflow]).toEqual([0, 0, 0, 'drop-oldest'])
    expect(() => resolveOptions({ maxAttempts: 70_000 })).toThrow('--max-attempts must be [0,65535]')
    expect(() => resolveOptions({ msgTtl: -1 })).toThrow('--msg-ttl must be >= 0')
    expect(() => resolveOptions({ maxChannelDepth: 1.5 })).toThrow('--max-channel-depth must be >= 0')
    expect(() => resolveOptions({ channelOverflow: 'reject' as never })).toThrow('--channel-overflow must be drop-oldest or dead-letter')
  })
})

describe('peeked messages', () => {
  it('show UTF-8 bodies as text and anything else as base64, with the wire id, ns timestamp and attempts', () => {
    const text = peekedMessage(encodeMessage('0123456789abcdef', 1_700_000_000_123, 3, Buffer.from('héllo')))
    expect(text).toEqual({ id: '0123456789abcdef', timestamp: 1_700_000_000_123_000_000, attempts: 3, body: 'héllo', body_encoding: 'utf8' })
    const binary = peekedMessage(encodeMessage('0123456789abcdef', 1, 0, Buffer.from([0xff, 0x00, 0xc3])))
    expect([binary.body, binary.body_encoding]).toEqual(['/wDD', 'base64'])
  })
})
