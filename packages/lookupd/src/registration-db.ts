import { isEphemeral } from '@nsqts/protocol'

/** A connected, identified nsqd. One object per connection, shared by all of that connection's registrations. */
export interface PeerInfo {
  /** The connection's remote `ip:port`: the key of this peer in every registration. */
  readonly id: string
  readonly remoteAddress: string
  readonly hostname: string
  readonly broadcastAddress: string
  readonly tcpPort: bigint
  readonly httpPort: bigint
  readonly version: string
  /** Wall-clock ms of IDENTIFY or of the last PING. */
  lastUpdate: number
}

/**
 * A peer's entry under one registration. Tombstones are per registration: a node is tombstoned for one topic. The
 * entries of a peer that is not tombstoned are one shared object; a tombstone replaces its registration's entry.
 */
export interface Producer {
  readonly peer: PeerInfo
  readonly tombstoned: boolean
  /** Wall-clock ms; undefined while never tombstoned. */
  readonly tombstonedAt: number | undefined
}

/** nsqlookupd's three kinds of key: `client` (every identified peer, key and subkey empty), `topic`, `channel`. */
export type Category = 'client' | 'topic' | 'channel'

export interface Registration {
  readonly category: Category
  readonly key: string
  /** The channel name for `channel` registrations, else empty. */
  readonly subKey: string
  readonly producers: Map<string, Producer>
  /** Counts changes to `producers` (added, removed, tombstoned): what was built from them holds until it moves. */
  changes: number
}

/** The key, or subkey, that matches every key in a search (as in NSQ, `*` is a wildcard in lookups). */
export const WILDCARD = '*'

/**
 * nsqlookupd's registry: which peers produce which topics and channels. Keys outlive their producers (a disconnect
 * or UNREGISTER leaves an empty key that /topics, /channels and /lookup still list) until deleted over HTTP; the
 * exception is an #ephemeral key, which goes with its last producer.
 *
 * Keys are nested category → key → subkey so that a topic's channels are found without a scan, and each peer
 * has an index of its registrations so that a disconnect or /nodes does not scan every key. At 2,000 peers of 150
 * registrations each, the per-entry cost is what counts: an entry is a map slot pointing to the peer's shared
 * Producer, and the index is a plain array.
 */
export class RegistrationDB {
  private readonly keys = new Map<Category, Map<string, Map<string, Registration>>>()
  private readonly byPeer = new Map<string, PeerEntry>()
  /** Counts registrations made and removed (not their producers): a list of keys holds until it moves. */
  keyChanges = 0

  /** Returns the registration, creating an empty one if needed. */
  addRegistration (category: Category, key: string, subKey: string): Registration {
    let byKey = this.keys.get(category)
    if (byKey === undefined) {
      byKey = new Map()
      this.keys.set(category, byKey)
    }
    let bySubKey = byKey.get(key)
    if (bySubKey === undefined) {
      bySubKey = new Map()
      byKey.set(key, bySubKey)
    }
    let registration = bySubKey.get(subKey)
    if (registration === undefined) {
      registration = { category, key, subKey, producers: new Map(), changes: 0 }
      bySubKey.set(subKey, registration)
      this.keyChanges++
    }
    return registration
  }

  /** Adds the peer as a producer of the registration (creating it). False when it already was one. */
  addProducer (category: Category, key: string, subKey: string, peer: PeerInfo): boolean {
    const registration = this.addRegistration(category, key, subKey)
    if (registration.producers.has(peer.id)) return false
    let mine = this.byPeer.get(peer.id)
    if (mine === undefined) {
      mine = { producer: { peer, tombstoned: false, tombstonedAt: undefined }, registrations: [] }
      this.byPeer.set(peer.id, mine)
    }
    const shared = mine.producer.peer === peer ? mine.producer : { peer, tombstoned: false, tombstonedAt: undefined }
    registration.producers.set(peer.id, shared)
    registration.changes++
    mine.registrations.push(registration)
    return true
  }

  /** Tombstones the peer's entry in this registration (its entries elsewhere stay as they are). */
  tombstone (registration: Registration, peerId: string, at: number): void {
    const producer = registration.producers.get(peerId)
    if (producer === undefined) return
    registration.producers.set(peerId, { peer: producer.peer, tombstoned: true, tombstonedAt: at })
    registration.changes++
  }

  /**
   * The peer is gone: it leaves every registration it produced (an #ephemeral key with no producer left goes too).
   * Returns those registrations, in the order they were made.
   */
  removePeer (peerId: string): Registration[] {
    const mine = this.byPeer.get(peerId)
    if (mine === undefined) return []
    this.byPeer.delete(peerId)
    for (const registration of mine.registrations) {
      registration.producers.delete(peerId)
      registration.changes++
      if (registration.producers.size === 0 && isEphemeralRegistration(registration)) {
        this.removeRegistration(registration)
      }
    }
    return mine.registrations
  }

  /**
   * Removes the peer from the registration; the key stays unless it is #ephemeral and now has no producer.
   * `removed` tells whether the peer was a producer, `left` how many producers remain.
   */
  removeProducer (registration: Registration, peerId: string): { removed: boolean, left: number } {
    const removed = registration.producers.delete(peerId)
    if (removed) {
      registration.changes++
      this.forgetPeerRegistration(peerId, registration)
    }
    const left = registration.producers.size
    if (left === 0 && isEphemeralRegistration(registration)) this.removeRegistration(registration)
    return { removed, left }
  }

  removeRegistration (registration: Registration): void {
    const byKey = this.keys.get(registration.category)
    const bySubKey = byKey?.get(registration.key)
    if (bySubKey?.get(registration.subKey) !== registration) return
    bySubKey.delete(registration.subKey)
    if (bySubKey.size === 0) byKey?.delete(registration.key)
    this.keyChanges++
    for (const peerId of registration.producers.keys()) this.forgetPeerRegistration(peerId, registration)
  }

  get (category: Category, key: string, subKey: string): Registration | undefined {
    return this.keys.get(category)?.get(key)?.get(subKey)
  }

  /** Registrations matching the key and subkey, either of which may be `*`. */
  findRegistrations (category: Category, key: string, subKey: string): Registration[] {
    const byKey = this.keys.get(category)
    if (byKey === undefined) return []
    const keyMaps = key === WILDCARD ? [...byKey.values()] : [byKey.get(key)]
    const out: Registration[] = []
    for (const bySubKey of keyMaps) {
      if (bySubKey === undefined) continue
      if (subKey === WILDCARD) {
        out.push(...bySubKey.values())
      } else {
        const registration = bySubKey.get(subKey)
        if (registration !== undefined) out.push(registration)
      }
    }
    return out
  }

  /** The producers of the matching registrations, one per peer (the first found). */
  findProducers (category: Category, key: string, subKey: string): Producer[] {
    const registrations = this.findRegistrations(category, key, subKey)
    if (registrations.length === 1) return [...(registrations[0] as Registration).producers.values()]
    const seen = new Map<string, Producer>()
    for (const registration of registrations) {
      for (const [peerId, producer] of registration.producers) if (!seen.has(peerId)) seen.set(peerId, producer)
    }
    return [...seen.values()]
  }

  /** Every registration the peer produces, in the order they were made. */
  lookupRegistrations (peerId: string): Registration[] {
    return [...(this.byPeer.get(peerId)?.registrations ?? [])]
  }

  /** Every registration, in no particular order. */
  * all (): Generator<Registration> {
    for (const byKey of this.keys.values()) {
      for (const bySubKey of byKey.values()) yield * bySubKey.values()
    }
  }

  /** How many keys of the category exist (topics, or channels across all topics). */
  count (category: Category): number {
    let n = 0
    for (const bySubKey of this.keys.get(category)?.values() ?? []) n += bySubKey.size
    return n
  }

  private forgetPeerRegistration (peerId: string, registration: Registration): void {
    const mine = this.byPeer.get(peerId)
    if (mine === undefined) return
    const i = mine.registrations.indexOf(registration)
    if (i !== -1) mine.registrations.splice(i, 1)
    if (mine.registrations.length === 0) this.byPeer.delete(peerId)
  }
}

/** A peer's index: the Producer its untombstoned entries share, and its registrations. */
interface PeerEntry {
  readonly producer: Producer
  readonly registrations: Registration[]
}

function isEphemeralRegistration (registration: Registration): boolean {
  if (registration.category === 'channel') return isEphemeral(registration.subKey)
  return registration.category === 'topic' && isEphemeral(registration.key)
}

/**
 * Whether the producer counts for discovery: seen within the inactivity timeout and not tombstoned (NSQ's
 * FilterByActive; /nodes passes a tombstone lifetime of 0 to keep tombstoned producers listed).
 */
export function isActive (
  producer: Producer, now: number, inactiveTimeout: number, tombstoneLifetime: number,
): boolean {
  return now - producer.peer.lastUpdate <= inactiveTimeout && !isTombstoned(producer, now, tombstoneLifetime)
}

export function isTombstoned (producer: Producer, now: number, tombstoneLifetime: number): boolean {
  return producer.tombstoned && producer.tombstonedAt !== undefined && now - producer.tombstonedAt < tombstoneLifetime
}
