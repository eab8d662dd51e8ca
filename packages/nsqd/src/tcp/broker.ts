import type { BodySpec, Logger } from '@nsqts/protocol'
import type { NsqdOptions } from '../options.js'
import type { Topic } from '../topic.js'
import type { Client } from './client.js'
import type { TlsUpgrader } from './tls.js'
import type { SnappyCodec } from './compression.js'

/**
 * What the TCP protocol needs of the broker (nsqd.ts implements it): tcp/ sees these members, not the whole NSQD.
 * Types only, so the broker and its protocol never load each other in a circle.
 */
export interface TcpBroker {
  readonly options: NsqdOptions
  readonly logger: Logger
  /** Shutting down: publishes and subscriptions fail with E_*_FAILED exiting, new connections are refused. */
  readonly isExiting: boolean
  readonly topics: ReadonlyMap<string, Topic>
  /** The topic, created when missing. */
  getTopic (name: string): Topic
  /** Every connected client that sent the protocol magic, by id. */
  readonly clients: ReadonlyMap<number, Client>
  newClientId (): number
  addClient (client: Client): void
  removeClient (client: Client): void
  /** Upgrades a connection whose IDENTIFY asked for TLS; undefined when TLS is off. */
  readonly tlsUpgrader: TlsUpgrader | undefined
  /** The snappy codec, loaded by the first IDENTIFY that negotiates it; IDENTIFY offers snappy while it is available. */
  readonly snappy: SnappyCodec
  /** How PUB, DPUB and MPUB bodies are framed and size-checked (commands.ts bodySpecs, built once). */
  readonly pubSpec: BodySpec
  readonly dpubSpec: BodySpec
  readonly mpubSpec: BodySpec
}
