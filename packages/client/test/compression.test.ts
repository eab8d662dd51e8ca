import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { FrameDecoder, encodeFrame } from '@nsqts/protocol'
import {
  SnappyFrameDecoder, SnappyFrameEncoder, STREAM_IDENTIFIER, createDeflateCodec, crc32c, loadSnappy, maskedCrc32c,
} from '../src/internal.js'

// The bytes NSQ 1.3.0 sent after the IDENTIFY answer (captures/tcp/nsqd_identify_{snappy,deflate}.txt): an OK frame.
const SNAPPY_OK = Buffer.from('ff060000734e61507059010e000026982bcf00000006000000004f4b', 'hex')
const DEFLATE_OK = Buffer.from('6260606063606060f0f706000000ffff000000ffff', 'hex')
const OK_FRAME = encodeFrame(0, 'OK')

function decodeSnappy (block: Awaited<ReturnType<typeof loadSnappy>>, chunks: Buffer[]): Buffer {
  const out: Buffer[] = []
  const decoder = new SnappyFrameDecoder(block, (d) => out.push(Buffer.from(d)), (err) => { throw err })
  for (const c of chunks) decoder.push(c)
  return Buffer.concat(out)
}

describe('crc32c', () => {
  it('matches the standard check value', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283)
  })

  it('masks as the framing format does (value taken from the nsqd capture)', () => {
    expect(maskedCrc32c(OK_FRAME)).toBe(0xcf2b9826)
  })
})

describe('snappy framing', () => {
  it('decodes what nsqd 1.3.0 sent, whole and byte by byte', async () => {
    const block = await loadSnappy()
    expect(decodeSnappy(block, [SNAPPY_OK])).toEqual(OK_FRAME)
    expect(decodeSnappy(block, [...SNAPPY_OK].map((b) => Buffer.from([b])))).toEqual(OK_FRAME)
  })

  it('round-trips any batches at any split, starting with the stream identifier', async () => {
    const block = await loadSnappy()
    await fc.assert(fc.asyncProperty(
      fc.array(fc.uint8Array({ minLength: 1, maxLength: 3000 }), { minLength: 1, maxLength: 5 }),
      fc.integer({ min: 1, max: 200 }),
      async (batches, step) => {
        const encoder = new SnappyFrameEncoder(block)
        const wire = Buffer.concat(batches.map((b) => encoder.encode(Buffer.from(b))))
        expect(wire.subarray(0, STREAM_IDENTIFIER.length)).toEqual(STREAM_IDENTIFIER)
        const chunks: Buffer[] = []
        for (let i = 0; i < wire.length; i += step) chunks.push(wire.subarray(i, i + step))
        expect(decodeSnappy(block, chunks)).toEqual(Buffer.concat(batches.map((b) => Buffer.from(b))))
      }
    ), { numRuns: 50 })
  })

  it('splits batches larger than 64 KiB into chunks and compresses what compresses', async () => {
    const block = await loadSnappy()
    const big = Buffer.alloc(200_000, 'a')
    const wire = new SnappyFrameEncoder(block).encode(big)
    expect(wire.length).toBeLessThan(big.length / 10)
    expect(decodeSnappy(block, [wire])).toEqual(big)
  })

  it('rejects a checksum mismatch and data before the identifier', async () => {
    const block = await loadSnappy()
    const corrupt = Buffer.from(SNAPPY_OK)
    corrupt[corrupt.length - 1] = 0x4c
    const errors: string[] = []
    new SnappyFrameDecoder(block, () => {}, (e) => errors.push(e.message)).push(corrupt)
    const decoder = new SnappyFrameDecoder(block, () => {}, (e) => errors.push(e.message))
    decoder.push(SNAPPY_OK.subarray(STREAM_IDENTIFIER.length))
    expect(errors).toEqual(['snappy stream: checksum mismatch', 'snappy stream: data before the stream identifier'])
  })
})

describe('deflate codec', () => {
  it('inflates what nsqd 1.3.0 sent into an OK frame', async () => {
    const frames: string[] = []
    const decoder = new FrameDecoder((type, data) => frames.push(`${type}:${data.toString()}`), (e) => { throw e })
    await new Promise<void>((resolve, reject) => {
      const codec = createDeflateCodec(6, {
        onPlain: (d) => { decoder.push(d); if (frames.length > 0) resolve() },
        onWire: () => {},
        onError: reject,
      })
      codec.decode(DEFLATE_OK.subarray(0, 7))
      codec.decode(DEFLATE_OK.subarray(7))
    })
    expect(frames).toEqual(['0:OK'])
  })

  it('sync-flushes every batch so that each one is decodable on its own arrival', async () => {
    const wire: Buffer[] = []
    let flushed!: () => void
    const writer = createDeflateCodec(6, {
      onPlain: () => {},
      onWire: (d) => { wire.push(d); if (Buffer.concat(wire).subarray(-4).equals(Buffer.from('0000ffff', 'hex'))) flushed() },
      onError: (e) => { throw e },
    })
    const got: Buffer[] = []
    let gotAll!: () => void
    const reader = createDeflateCodec(6, {
      onPlain: (d) => { got.push(d); if (Buffer.concat(got).toString() === 'NOP\nNOP\n') gotAll() },
      onWire: () => {},
      onError: (e) => { throw e },
    })
    for (let i = 0; i < 2; i++) {
      const done = new Promise<void>((resolve) => { flushed = resolve })
      writer.encode(Buffer.from('NOP\n'))
      await done
    }
    const all = new Promise<void>((resolve) => { gotAll = resolve })
    reader.decode(Buffer.concat(wire))
    await all
    writer.destroy()
    reader.destroy()
  })
})
