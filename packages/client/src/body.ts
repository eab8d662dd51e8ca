import { NsqError, isValidTopicName } from '@nsqts/protocol'

/** A message body: bytes, or a string sent as UTF-8. */
export type MessageBody = string | Uint8Array

export function toBuffer (body: MessageBody): Buffer {
  if (typeof body === 'string') return Buffer.from(body)
  if (Buffer.isBuffer(body)) return body
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength)
}

/**
 * Checks what nsqd would refuse with a fatal error, before writing it: such an error closes the connection and fails
 * every publish pipelined behind it, so a bad call must fail alone. The codes are the ones nsqd would send.
 */
export function checkTopic (command: string, topic: string): void {
  if (!isValidTopicName(topic)) throw new NsqError('E_BAD_TOPIC', `${command} topic name ${JSON.stringify(topic)} is not valid`)
}

export function checkBody (command: string, body: Buffer): void {
  if (body.length === 0) throw new NsqError('E_BAD_MESSAGE', `${command} invalid message body size 0`)
}
