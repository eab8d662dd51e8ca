export { Producer } from './producer.js'
export type { ProducerOptions, ProducerEvents } from './producer.js'
export { Consumer } from './consumer.js'
export type { ConsumerOptions, ConsumerEvents, ConsumerStats, HandlerOptions, MessageHandler } from './consumer.js'
export { Message } from './message.js'
export type { RequeueOptions } from './message.js'
export type { MessageBody } from './body.js'
export type { BackoffStrategy } from './backoff.js'
export type { ConnectionOptions } from './options.js'
export { parseAddress, formatAddress } from './address.js'
export type { Address, AddressLike } from './address.js'
export { ConnectionError, ConnectionClosedError, ClosedError } from './errors.js'
export { NsqError } from '@nsqts/protocol'
export type { ErrorCode, Logger } from '@nsqts/protocol'
export { NsqdHttpClient } from './http/nsqd.js'
export type { StatsQuery } from './http/nsqd.js'
export { LookupdHttpClient, lookupTopicProducers } from './http/lookupd.js'
export type { TopicProducers } from './http/lookupd.js'
export { HttpError } from './http/request.js'
export type { HttpClientOptions } from './http/request.js'
// The HTTP answers' shapes are the wire's, defined in @nsqts/protocol; users of the client get them from here.
export type {
  NsqdInfo, NsqdStats, TopicStats, ChannelStats, ClientStats, MemoryStats, E2eProcessingLatency,
  LookupResponse, LookupdProducer, LookupdNode,
  ChannelPolicy, TopicPolicy, OverflowAction, PeekedMessage, PeekResponse, RedriveResponse,
} from '@nsqts/protocol'
