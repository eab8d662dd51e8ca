import { describe, expect, it } from 'vitest'
import { IdIndex, Message } from '@nsqts/nsqd/internal'

const idOf = (n: number): string => n.toString(16).padStart(16, '0')
const msg = (n: number): Message => Message.create(idOf(n), Buffer.from(`m${n}`))

describe('IdIndex', () => {
  it('agrees with a Map over random adds, replacements, removals and lookups, by string and by bytes', () => {
    const index = new IdIndex()
    const model = new Map<string, Message>()
    let seed = 7
    const rand = (n: number): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed % n }
    for (let step = 0; step < 50_000; step++) {
      // A small id space makes probe runs collide, wrap and shift; phases grow and shrink the table.
      const space = step % 20_000 < 10_000 ? 4096 : 300
      const n = rand(space)
      const op = rand(10)
      if (op < 5) {
        const m = msg(n)
        index.set(m)
        model.set(m.id, m)
      } else if (op < 8) {
        const m = model.get(idOf(n)) ?? msg(n)
        index.delete(m)
        model.delete(m.id)
      } else {
        const id = idOf(n)
        const line = Buffer.from(`FIN ${id}\n`, 'latin1')
        if (index.get(id) !== model.get(id) || index.getBytes(line, 4) !== model.get(id)) expect.fail(`lookup of ${id} at step ${step}`)
      }
      if (index.size !== model.size) expect(index.size).toBe(model.size)
    }
    for (const [id, m] of model) expect(index.get(id)).toBe(m)
    index.clear()
    expect(index.size).toBe(0)
    expect(index.get(idOf(1))).toBeUndefined()
  })

  it('finds nothing for an id of another length or with chars that are not bytes', () => {
    const index = new IdIndex()
    const m = msg(0x41)
    index.set(m)
    expect(index.get(m.id)).toBe(m)
    expect(index.get(m.id.slice(1))).toBeUndefined()
    expect(index.get(`${m.id.slice(0, 15)}\u0131`)).toBeUndefined()
  })
})
