import type { ChannelHooks } from './channel.js'
import type { ChannelQueue } from './channel-queue.js'
import type { Message } from './message.js'
import type { ActiveChannelPolicy } from './policy.js'

/** What a channel's delivery policy took out of its queue, as /stats and /metrics report it. */
export interface PolicyCounts {
  deadLettered: number
  expired: number
  dropped: number
}

/**
 * A channel's delivery policy in force (docs/policies.md) applied to its messages: one delivered max_attempts times
 * goes to the dead-letter topic, one older than the ttl is dropped or dead-lettered, a queue past max_depth loses
 * its oldest. A channel whose policy changes nothing holds none, so delivery pays one null check for it.
 */
export class PolicyEnforcer {
  /** max_depth is set: every enqueue trims. */
  readonly limitsDepth: boolean

  constructor (
    private readonly rules: ActiveChannelPolicy,
    private readonly queue: ChannelQueue,
    private readonly hooks: ChannelHooks,
    private readonly counts: PolicyCounts,
  ) {
    this.limitsDepth = rules.maxDepth > 0
  }

  /**
   * A message that came back (REQ, timeout) and was delivered max_attempts times goes to the dead-letter topic
   * instead of the queue. True when it went.
   */
  deadLetterIfSpent (msg: Message): boolean {
    if (this.rules.maxAttempts === 0 || msg.attempts < this.rules.maxAttempts) return false
    this.deadLetter(msg)
    return true
  }

  /**
   * Checked before each delivery: a message that was delivered max_attempts times (the policy changed while it
   * waited) or is older than the ttl is taken out instead of being delivered. True when it was.
   */
  withhold (msg: Message, now: number): boolean {
    if (this.deadLetterIfSpent(msg)) return true
    const rules = this.rules
    if (rules.ttlMs === 0 || now - msg.timestampMs <= rules.ttlMs) return false
    if (rules.ttlDeadLetter) {
      this.deadLetter(msg)
    } else {
      this.counts.expired++
      this.queue.backend.ack(msg.id)
    }
    return true
  }

  /**
   * Queued past max_depth: the oldest go. Stops while the oldest may still be on disk, loading (the channel calls it
   * again when the backend says records are readable).
   */
  trim (): void {
    while (this.queue.length > this.rules.maxDepth) {
      const msg = this.queue.takeOldest()
      if (msg === undefined) return
      if (this.rules.overflowDeadLetter) {
        this.deadLetter(msg)
      } else {
        this.counts.dropped++
        this.queue.backend.ack(msg.id)
      }
    }
  }

  /** Publishes the body anew on the dead-letter topic, then finishes the original: a crash leaves one or both. */
  private deadLetter (msg: Message): void {
    this.hooks.republish(this.rules.deadLetterTopic, msg)
    this.counts.deadLettered++
    this.queue.backend.ack(msg.id)
  }
}
