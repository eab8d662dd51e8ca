import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { CommandParser, NsqError, commands, encodeSizePrefixed, type BodySpec, type CommandSink } from '../src/index.js'

type Event =
  | { kind: 'line', params: readonly string[] }
  | { kind: 'body', params: readonly string[], body: string }
  | { kind: 'bodies', params: readonly string[], bodies: string[] }
  | { kind: 'error', code: string, text: string }
  | { kind: 'overflow' }

const sized: BodySpec = {
  kind: 'sized',
  checkSize: (n) => (n <= 0 ? new NsqError('E_BAD_MESSAGE', `invalid message body size ${n}`) : n > 1000 ? new NsqError('E_BAD_MESSAGE', 'too big') : null),
}
const multi: BodySpec = {
  kind: 'multi',
  checkBodySize: (n) => (n <= 0 ? new NsqError('E_BAD_BODY', `invalid body size ${n}`) : null),
  checkCount: (n) => (n <= 0 ? new NsqError('E_BAD_BODY', `invalid message count ${n}`) : null),
  checkMessageSize: (i, n) => (n <= 0 ? new NsqError('E_BAD_MESSAGE', `invalid message(${i}) body size ${n}`) : null),
}

/**
 * Parses `chunks` and records what the sink saw. `transient`: each chunk is pushed from one buffer that is scribbled
 * over after every push, as a shared read buffer is by the next read.
 */
function collect (chunks: Buffer[], maxLine?: number, transient = false): Event[] {
  const events: Event[] = []
  const sink: CommandSink = {
    line (params) {
      events.push({ kind: 'line', params })
      if (params[0] === 'PUB' || params[0] === 'IDENTIFY' || params[0] === 'DPUB') return sized
      if (params[0] === 'MPUB') return multi
      if (params[0] === 'BAD') return new NsqError('E_INVALID', 'invalid command BAD')
      return null
    },
    body (params, body) { events.push({ kind: 'body', params, body: body.toString() }) },
    bodies (params, bodies) { events.push({ kind: 'bodies', params, bodies: bodies.map(String) }) },
    error (err) { events.push({ kind: 'error', code: err.code, text: err.message }) },
    overflow () { events.push({ kind: 'overflow' }) },
  }
  const parser = new CommandParser(sink, maxLine)
  const reused = Buffer.alloc(Math.max(0, ...chunks.map((c) => c.length)))
  for (const c of chunks) {
    if (!transient) {
      parser.push(c)
      continue
    }
    c.copy(reused)
    parser.push(reused.subarray(0, c.length), true)
    reused.fill('#')
  }
  return events
}

const stream = Buffer.concat([
  Buffer.from('NOP\n'),
  commands.pub('t', 'hello'),
  Buffer.from('RDY 10\r\n'),
  commands.mpub('t', ['a', 'bb', 'ccc']),
  commands.dpub('t', 500, 'later'),
  Buffer.from('FIN 0123456789abcdef\n'),
  commands.identify({ feature_negotiation: true }),
  Buffer.from('A  B\n'),
])

const expected: Event[] = [
  { kind: 'line', params: ['NOP'] },
  { kind: 'line', params: ['PUB', 't'] },
  { kind: 'body', params: ['PUB', 't'], body: 'hello' },
  { kind: 'line', params: ['RDY', '10'] },
  { kind: 'line', params: ['MPUB', 't'] },
  { kind: 'bodies', params: ['MPUB', 't'], bodies: ['a', 'bb', 'ccc'] },
  { kind: 'line', params: ['DPUB', 't', '500'] },
  { kind: 'body', params: ['DPUB', 't', '500'], body: 'later' },
  { kind: 'line', params: ['FIN', '0123456789abcdef'] },
  { kind: 'line', params: ['IDENTIFY'] },
  { kind: 'body', params: ['IDENTIFY'], body: '{"feature_negotiation":true}' },
  { kind: 'line', params: ['A', '', 'B'] },
]

/** Up to `max` distinct offsets inside `input` to cut it at. */
function cutsOf (input: Buffer, max: number): fc.Arbitrary<number[]> {
  return fc.uniqueArray(fc.integer({ min: 1, max: input.length - 1 }), { maxLength: max })
}

/** `input` cut into chunks at `cuts`. */
function cutAt (input: Buffer, cuts: number[]): Buffer[] {
  const chunks: Buffer[] = []
  let last = 0
  for (const c of [...cuts].sort((a, b) => a - b)) {
    chunks.push(input.subarray(last, c))
    last = c
  }
  chunks.push(input.subarray(last))
  return chunks
}

describe('CommandParser', () => {
  it('parses a whole buffer', () => {
    expect(collect([stream])).toEqual(expected)
  })

  it('parses one byte at a time', () => {
    const bytes = [...stream].map((b) => Buffer.from([b]))
    expect(collect(bytes)).toEqual(expected)
  })

  it('parses the same events at any split points', () => {
    fc.assert(fc.property(cutsOf(stream, 20), (cuts) => {
      expect(collect(cutAt(stream, cuts))).toEqual(expected)
    }), { numRuns: 500 })
  })

  it('keeps nothing that points into a transient chunk, at any split points', () => {
    const mpubs = Buffer.concat([commands.mpub('t', ['one', 'two', 'three', 'four']), commands.mpub('u', ['x'.repeat(40), 'y'])])
    const input = Buffer.concat([stream, mpubs])
    const want: Event[] = [...expected,
      { kind: 'line', params: ['MPUB', 't'] },
      { kind: 'bodies', params: ['MPUB', 't'], bodies: ['one', 'two', 'three', 'four'] },
      { kind: 'line', params: ['MPUB', 'u'] },
      { kind: 'bodies', params: ['MPUB', 'u'], bodies: ['x'.repeat(40), 'y'] }]
    fc.assert(fc.property(cutsOf(input, 30), (cuts) => {
      expect(collect(cutAt(input, cuts), undefined, true)).toEqual(want)
    }), { numRuns: 500 })
  })

  it('hands off the rest of a transient chunk as a copy', () => {
    let rest: Buffer | undefined
    const sink: CommandSink = {
      line: () => sized,
      body (_params, _body) { parser.handOff((r) => { rest = r }) },
      bodies () {},
      error () {},
      overflow () {},
    }
    const parser = new CommandParser(sink)
    const chunk = Buffer.concat([commands.identify({ tls_v1: true }), Buffer.from('after the upgrade')])
    parser.push(chunk, true)
    chunk.fill('#')
    expect(rest?.toString()).toBe('after the upgrade')
  })

  it('stops at the first failed size check and ignores what follows', () => {
    const bad = Buffer.concat([Buffer.from('PUB t\n'), Buffer.from([0, 0, 0, 0]), Buffer.from('NOP\n')])
    expect(collect([bad])).toEqual([
      { kind: 'line', params: ['PUB', 't'] },
      { kind: 'error', code: 'E_BAD_MESSAGE', text: 'E_BAD_MESSAGE invalid message body size 0' },
    ])
  })

  it('reads sizes as signed int32', () => {
    const bad = Buffer.concat([Buffer.from('PUB t\n'), Buffer.from([0xff, 0xff, 0xff, 0xff])])
    expect(collect([bad]).at(-1)).toEqual({ kind: 'error', code: 'E_BAD_MESSAGE', text: 'E_BAD_MESSAGE invalid message body size -1' })
  })

  it('checks each MPUB message size with its index', () => {
    const bad = Buffer.from('MPUB t\n\x00\x00\x00\x0d\x00\x00\x00\x02\x00\x00\x00\x01a\x00\x00\x00\x00', 'latin1')
    expect(collect([bad]).at(-1)).toEqual({ kind: 'error', code: 'E_BAD_MESSAGE', text: 'E_BAD_MESSAGE invalid message(1) body size 0' })
  })

  it('parses MPUB by count, not by its declared body size', () => {
    const body = Buffer.from('MPUB t\n\x00\x00\x03\xe7\x00\x00\x00\x01\x00\x00\x00\x01aNOP\n', 'latin1')
    expect(collect([body])).toEqual([
      { kind: 'line', params: ['MPUB', 't'] },
      { kind: 'bodies', params: ['MPUB', 't'], bodies: ['a'] },
      { kind: 'line', params: ['NOP'] },
    ])
  })

  it('stops when the sink refuses a line', () => {
    expect(collect([Buffer.from('BAD\nNOP\n')])).toEqual([{ kind: 'line', params: ['BAD'] }])
  })

  it('reports a line longer than the limit as an overflow', () => {
    expect(collect([Buffer.from('X'.repeat(20)), Buffer.from('\n')], 16)).toEqual([{ kind: 'overflow' }])
    expect(collect([Buffer.from('X'.repeat(15) + '\n')], 16)).toEqual([{ kind: 'line', params: ['X'.repeat(15)] }])
    expect(collect([Buffer.from('X'.repeat(16) + '\n')], 16)).toEqual([{ kind: 'overflow' }])
  })

  it('gives a repeated line its params and a changed line of the same length its own', () => {
    const long = 'l'.repeat(70)
    const lines = ['PUB ab', 'PUB ab', 'PUB ac', 'PUB ab', 'RDY 10', 'RDY 10', 'RDY 11', 'RDY 10', `PUB ${long}`,
      `PUB ${long}`, `PUB ${long.slice(1)}x`, 'PUB ab\r', 'PUB a b']
    const events = collect(lines.map((l, i) => Buffer.concat(l.startsWith('PUB')
      ? [Buffer.from(`${l}\n`), encodeSizePrefixed(String(i))]
      : [Buffer.from(`${l}\n`)])))
    const want = lines.flatMap((l, i): Event[] => {
      const params = l.replace('\r', '').split(' ')
      return params[0] === 'PUB' ? [{ kind: 'line', params }, { kind: 'body', params, body: String(i) }] : [{ kind: 'line', params }]
    })
    expect(events).toEqual(want)
  })
})
