/** Client-side encoders for V2 commands. Each returns the exact bytes to write. */
export const MAGIC_V2 = Buffer.from('  V2')
export const MAGIC_V1 = Buffer.from('  V1')

function line (text: string): Buffer {
  return Buffer.from(text + '\n')
}

function withBody (head: string, body: Buffer): Buffer {
  const headLen = Buffer.byteLength(head) + 1
  const out = Buffer.allocUnsafe(headLen + 4 + body.length)
  out.write(head + '\n', 0)
  out.writeUInt32BE(body.length, headLen)
  body.copy(out, headLen + 4)
  return out
}

function toBuffer (body: Buffer | string): Buffer {
  return typeof body === 'string' ? Buffer.from(body) : body
}

export function identify (data: object): Buffer {
  return withBody('IDENTIFY', Buffer.from(JSON.stringify(data)))
}

export function auth (secret: string | Buffer): Buffer {
  return withBody('AUTH', toBuffer(secret))
}

export function sub (topic: string, channel: string): Buffer {
  return line(`SUB ${topic} ${channel}`)
}

export function pub (topic: string, body: Buffer | string): Buffer {
  return withBody(`PUB ${topic}`, toBuffer(body))
}

export function dpub (topic: string, deferMs: number, body: Buffer | string): Buffer {
  return withBody(`DPUB ${topic} ${deferMs}`, toBuffer(body))
}

/** MPUB topic\n[4 body size][4 count]([4 size][bytes])* */
export function mpub (topic: string, bodies: ReadonlyArray<Buffer | string>): Buffer {
  const bufs = bodies.map(toBuffer)
  let size = 4
  for (const b of bufs) size += 4 + b.length
  const head = Buffer.from(`MPUB ${topic}\n`)
  const out = Buffer.allocUnsafe(head.length + 4 + size)
  head.copy(out, 0)
  let pos = head.length
  out.writeUInt32BE(size, pos)
  out.writeUInt32BE(bufs.length, pos + 4)
  pos += 8
  for (const b of bufs) {
    out.writeUInt32BE(b.length, pos)
    b.copy(out, pos + 4)
    pos += 4 + b.length
  }
  return out
}

export function rdy (count: number): Buffer {
  return line(`RDY ${count}`)
}

export function fin (id: string): Buffer {
  return line(`FIN ${id}`)
}

export function req (id: string, delayMs: number): Buffer {
  return line(`REQ ${id} ${delayMs}`)
}

export function touch (id: string): Buffer {
  return line(`TOUCH ${id}`)
}

export const CLS = Buffer.from('CLS\n')
export const NOP = Buffer.from('NOP\n')

export function nop (): Buffer {
  return NOP
}
