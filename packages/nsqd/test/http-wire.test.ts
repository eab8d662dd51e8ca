import { connect, type Socket } from 'node:net'
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import {
  GO_REFUSED_TRANSFER_ENCODINGS, GO_TAKEN_TRANSFER_ENCODING, GO_UNSUPPORTED_TE_ANSWER, startNsqd, type NsqdHandle,
} from '@nsqts/testkit'
import { rawExchange } from './http-helpers.js'

/** What only shows on a real socket: header case, connection handling, Expect: 100-continue, chunked bodies. */

/** A client socket that reads whole responses (Content-Length framed) one at a time. */
class Conn {
  private buffered = Buffer.alloc(0)
  private wake: (() => void) | undefined
  closed = false

  constructor (readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk])
      this.wake?.()
    })
    socket.on('close', () => {
      this.closed = true
      this.wake?.()
    })
    socket.on('error', () => {})
  }

  static async open (d: NsqdHandle): Promise<Conn> {
    const socket = connect(d.http.port, d.http.host)
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
    return new Conn(socket)
  }

  private async until (ready: () => number | undefined): Promise<string> {
    const deadline = Date.now() + 5000
    for (;;) {
      const end = ready()
      if (end !== undefined) {
        const text = this.buffered.subarray(0, end).toString('latin1')
        this.buffered = this.buffered.subarray(end)
        return text
      }
      if (this.closed || Date.now() > deadline) throw new Error(`no complete response; got ${JSON.stringify(this.buffered.toString('latin1'))}`)
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50)
        this.wake = () => { clearTimeout(t); resolve() }
      })
    }
  }

  /** The next response: head and Content-Length body. */
  async response (): Promise<string> {
    return await this.until(() => {
      const head = this.buffered.indexOf('\r\n\r\n')
      if (head === -1) return undefined
      const length = /\r\ncontent-length: (\d+)/i.exec(this.buffered.subarray(0, head).toString('latin1'))
      const end = head + 4 + Number(length?.[1] ?? 0)
      return this.buffered.length >= end ? end : undefined
    })
  }

  /** A `100 Continue` interim response. */
  async interim (): Promise<string> {
    return await this.until(() => {
      const head = this.buffered.indexOf('\r\n\r\n')
      return head === -1 ? undefined : head + 4
    })
  }

  async waitClosed (): Promise<void> {
    await this.until(() => (this.closed ? 0 : undefined)).catch(() => {})
    expect(this.closed).toBe(true)
  }

  write (data: string | Buffer): void {
    this.socket.write(data)
  }

  close (): void {
    this.socket.destroy()
  }
}

const pubHead = (path: string, headers: string): string => `POST ${path} HTTP/1.1\r\nHost: x\r\n${headers}\r\n`

describe('on the wire', () => {
  let d: NsqdHandle
  let small: NsqdHandle
  beforeAll(async () => {
    d = await startNsqd()
    small = await startNsqd({ maxMsgSize: 1024, maxBodySize: 4096 })
  })
  afterAll(async () => {
    await d.close()
    await small.close()
  })

  it('writes X-Nsq-Content-Type in Go\'s case, Go\'s reason phrase for 413, and no Keep-Alive header', async () => {
    const conn = await Conn.open(d)
    try {
      conn.write('GET /info HTTP/1.1\r\nHost: x\r\n\r\n')
      const info = await conn.response()
      expect(info).toMatch(/^HTTP\/1\.1 200 OK\r\nContent-Type: application\/json; charset=utf-8\r\nX-Nsq-Content-Type: nsq; version=1\.0\r\nDate: .+ GMT\r\nContent-Length: \d+\r\n/)
      expect(info).not.toMatch(/keep-alive: timeout/i)
      conn.write(pubHead('/config/log_level', 'Content-Length: 0\r\n').replace('POST', 'PUT'))
      expect(await conn.response()).toMatch(/^HTTP\/1\.1 413 Request Entity Too Large\r\n/)
    } finally {
      conn.close()
    }
  })

  it('a 1 MiB + 1 /pub is refused from its Content-Length, with Connection: close, and the answer arrives whole', async () => {
    const body = Buffer.alloc(1024 * 1024 + 1, 'a')
    const { text, closedByServer } = await rawExchange(d, Buffer.concat([Buffer.from(pubHead('/pub?topic=wire_big', `Content-Length: ${body.length}\r\n`)), body]))
    expect(text).toMatch(/^HTTP\/1\.1 413 Request Entity Too Large\r\n/)
    expect(text).toMatch(/\r\nConnection: close\r\n\r\n\{"message":"MSG_TOO_BIG"\}$/)
    expect(closedByServer).toBe(true)
    expect(d.nsqd.getExistingTopic('wire_big')).toBeUndefined()
  })

  it('a small refused body is discarded and the connection reused', async () => {
    const conn = await Conn.open(small)
    try {
      conn.write(pubHead('/pub?topic=t', 'Content-Length: 1025\r\n') + 'a'.repeat(1025))
      const refused = await conn.response()
      expect(refused).toMatch(/^HTTP\/1\.1 413 /)
      expect(refused).not.toMatch(/\r\nConnection: close\r\n/i)
      conn.write(pubHead('/pub?topic=t', 'Content-Length: 2\r\n') + 'ok')
      expect(await conn.response()).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nOK$/)
    } finally {
      conn.close()
    }
  })

  it('a chunked body over the limit: small remainder keeps the connection, a large one closes it', async () => {
    const chunk = (data: string): string => `${data.length.toString(16)}\r\n${data}\r\n`
    const conn = await Conn.open(small)
    try {
      conn.write(pubHead('/pub?topic=t', 'Transfer-Encoding: chunked\r\n') + chunk('a'.repeat(600)) + chunk('a'.repeat(600)) + '0\r\n\r\n')
      const refused = await conn.response()
      expect(refused).toMatch(/^HTTP\/1\.1 413 [^]*\{"message":"MSG_TOO_BIG"\}$/)
      expect(refused).not.toMatch(/\r\nConnection: close\r\n/i)
      conn.write('GET /ping HTTP/1.1\r\nHost: x\r\n\r\n')
      expect(await conn.response()).toMatch(/\r\n\r\nOK$/)
    } finally {
      conn.close()
    }

    const big = 'b'.repeat(64 * 1024)
    const body = Array.from({ length: 8 }, () => chunk(big)).join('') + '0\r\n\r\n'
    const { text, closedByServer } = await rawExchange(small, Buffer.from(pubHead('/pub?topic=t', 'Transfer-Encoding: chunked\r\n') + body))
    expect(text).toMatch(/\r\nConnection: close\r\n\r\n\{"message":"MSG_TOO_BIG"\}$/)
    expect(closedByServer).toBe(true)
  })

  it('Expect: 100-continue is answered only when the body is read; a refusal closes instead', async () => {
    const conn = await Conn.open(d)
    try {
      conn.write(pubHead('/pub?topic=wire_continue', 'Content-Length: 5\r\nExpect: 100-continue\r\n'))
      expect(await conn.interim()).toBe('HTTP/1.1 100 Continue\r\n\r\n')
      conn.write('hello')
      expect(await conn.response()).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
      expect(d.nsqd.getExistingTopic('wire_continue')?.depth).toBe(1)
    } finally {
      conn.close()
    }

    const refused = await Conn.open(d)
    try {
      refused.write(pubHead('/pub?topic=wire_continue', 'Content-Length: 2000000\r\nExpect: 100-continue\r\n'))
      const answer = await refused.response()
      expect(answer).toMatch(/^HTTP\/1\.1 413 [^]*\r\nConnection: close\r\n\r\n\{"message":"MSG_TOO_BIG"\}$/)
      await refused.waitClosed()
    } finally {
      refused.close()
    }
  })

  it('OPTIONS * is Go\'s server answer: an empty 200 without Allow', async () => {
    const conn = await Conn.open(d)
    try {
      conn.write('OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n')
      const r = await conn.response()
      expect(r).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
      expect(r).not.toMatch(/\r\nAllow:/i)
      expect(r).toMatch(/\r\nContent-Length: 0\r\n/)
    } finally {
      conn.close()
    }
  })

  it('dot segments and case are fixed by a redirect, as httprouter does', async () => {
    const conn = await Conn.open(d)
    try {
      conn.write('GET /./CONFIG/../config/Log_Level?x=1 HTTP/1.1\r\nHost: x\r\n\r\n')
      expect(await conn.response()).toMatch(/^HTTP\/1\.1 301 Moved Permanently\r\nLocation: \/config\/Log_Level\?x=1\r\nContent-Type: text\/html; charset=utf-8\r\n/)
    } finally {
      conn.close()
    }
  })

  it('routes on the decoded path, as Go does: /p%69ng is /ping', async () => {
    const conn = await Conn.open(d)
    try {
      conn.write('GET /p%69ng HTTP/1.1\r\nHost: x\r\n\r\n')
      expect(await conn.response()).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nOK$/)
    } finally {
      conn.close()
    }
  })

  it('a request that does not parse gets Go\'s plain 400 and the connection is closed', async () => {
    const { text, closedByServer } = await rawExchange(d, Buffer.from('GET /ping HTTP/1.1\r\nHost x\r\n\r\n'))
    expect(text).toBe('HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n' +
      '400 Bad Request')
    expect(closedByServer).toBe(true)
  })

  it('versions other than 1.x and the Host headers Go refuses get Go\'s own answer, and the connection closes', async () => {
    const goRefusal = (text: string): string =>
      `HTTP/1.1 ${text}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n${text}`
    for (const [head, text] of [
      ['GET /ping HTTP/1.1\r\n\r\n', '400 Bad Request: missing required Host header'],
      ['GET /ping HTTP/1.0\r\nHost: a b\r\n\r\n', '400 Bad Request: malformed Host header'],
      // Go serves HTTP/1.x only, and looks at the version before the Host header.
      ['GET /ping HTTP/2.0\r\n\r\n', '505 HTTP Version Not Supported: unsupported protocol version'],
      // The path is parsed before the headers are looked at.
      ['GET /p%zz HTTP/1.1\r\n\r\n', '400 Bad Request'],
    ] as const) {
      const { text: answer, closedByServer } = await rawExchange(d, Buffer.from(head))
      expect(answer, head).toBe(goRefusal(text))
      expect(closedByServer, head).toBe(true)
    }
    // HTTP/1.0 needs no Host; a host of Go's bytes (an IPv6 literal and a port here) passes; Go 1.19 takes two.
    for (const head of ['GET /ping HTTP/1.0\r\n\r\n', 'GET /ping HTTP/1.1\r\nHost: [::1]:4151\r\nConnection: close\r\n\r\n',
      'GET /ping HTTP/1.1\r\nHost: a\r\nhost: b c\r\nConnection: close\r\n\r\n']) {
      const { text } = await rawExchange(d, Buffer.from(head))
      expect(text, head).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nOK$/)
    }
  })

  it('a Transfer-Encoding other than one chunked gets Go\'s 501, once, and the connection closes', async () => {
    for (const request of GO_REFUSED_TRANSFER_ENCODINGS) {
      const { text, closedByServer } = await rawExchange(d, Buffer.from(request))
      expect(text, request).toBe(GO_UNSUPPORTED_TE_ANSWER)
      expect(closedByServer, request).toBe(true)
    }
    expect((await rawExchange(d, Buffer.from(GO_TAKEN_TRANSFER_ENCODING))).text).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nOK$/)
  })

  it('headers past the parser\'s limit get Go\'s plain 431', async () => {
    const head = `GET /ping HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`
    const { text, closedByServer } = await rawExchange(d, Buffer.from(head))
    expect(text).toBe('HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\n' +
      'Connection: close\r\n\r\n431 Request Header Fields Too Large')
    expect(closedByServer).toBe(true)
  })
})
