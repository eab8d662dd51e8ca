export { ERROR_CODES, NsqError, isFatalCode, parseErrorText } from './errors.js'
export type { ErrorCode } from './errors.js'
export { isValidName, isValidTopicName, isValidChannelName, isEphemeral, MAX_NAME_LENGTH } from './names.js'
export { parseBase10, toInt64 } from './decimal.js'
export {
  FrameType, FRAME_HEADER_SIZE, OK, CLOSE_WAIT, HEARTBEAT,
  encodeFrame, encodeSizePrefixed, SizePrefixedReader, SizePrefixedRangeReader, FrameDecoder, FrameRangeDecoder,
} from './frame.js'
export type { Frame } from './frame.js'
export {
  MESSAGE_ID_LENGTH, MESSAGE_HEADER_SIZE, ATTEMPTS_OFFSET, ID_OFFSET,
  encodeMessage, decodeMessage, writeTimestampMs,
} from './message.js'
export type { DecodedMessage } from './message.js'
export { MessageIdGenerator } from './id.js'
export { CommandParser, DEFAULT_MAX_LINE_LENGTH } from './command-parser.js'
export type { BodySpec, SizedBodySpec, MultiBodySpec, CommandSink } from './command-parser.js'
export * as commands from './commands.js'
export { MAGIC_V1, MAGIC_V2 } from './commands.js'
export type { IdentifyRequest, IdentifyResponse, AuthResponse } from './identify.js'
export { goQuote } from './quote.js'
export { AddrError, joinHostPort, splitHostPort, hostAndPort, parsePort } from './host-port.js'
export { LOG_LEVELS, isLogLevel, parseLogLevel, formatLogTime, createLogger, silentLogger } from './logger.js'
export { writeLogLine } from './log-writer.js'
export type { Logger, LogLevelName } from './logger.js'
export { parseDuration, parseConfigFile, goStyleFlags, flagKey, resolveFlagValues } from './config.js'
export type { ConfigValue, FlagName } from './config.js'
export { crc32c, maskedCrc32c } from './crc32c.js'
export { SnappyFrameDecoder, SnappyFrameEncoder, STREAM_IDENTIFIER, MAX_SNAPPY_CHUNK_DATA } from './snappy-frame.js'
export type { SnappyBlockCodec } from './snappy-frame.js'
export type {
  NsqdInfo, NsqdStats, TopicStats, ChannelStats, ClientStats, MemoryStats, E2eProcessingLatency, LatencyPercentile,
  LookupResponse, LookupdProducer, LookupdNode,
  OverflowAction, ChannelPolicy, TopicPolicy, PeekedMessage, PeekResponse, RedriveResponse,
} from './http-types.js'
export {
  goUnescape, goParseQuery, goCleanPath, goRouterRedirect, goRedirectStatus, goRedirectBody, goAllow, goRequestRefusal,
  GO_BAD_REQUEST, type ParsedRequest,
} from './go-http.js'
export { LINGER_MS, answerGoRefusal, refuseUnparsableRequest } from './go-http-refusal.js'
export { formatGoDuration, goHtmlSafe, goWellFormed, goJsonString, goJson } from './go-text.js'
export type { GoJson } from './go-text.js'
