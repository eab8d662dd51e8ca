import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { DeadlineQueue, Message } from '@nsqts/nsqd/internal'

const msg = (n: number): Message => Message.create(String(n).padStart(16, '0'), Buffer.from(`m${n}`))

describe('DeadlineQueue', () => {
  beforeEach(() => { vi.useFakeTimers({ now: 1_000_000 }) })
  afterEach(() => { vi.useRealTimers() })

  it('hands out messages at their deadlines, earliest first, with one timer', () => {
    const due: string[] = []
    const q = new DeadlineQueue((m) => { due.push(m.id) })
    const [a, b, c] = [msg(1), msg(2), msg(3)]
    q.add(b, Date.now() + 200)
    q.add(a, Date.now() + 100)
    q.addBatched(c, Date.now() + 100)
    q.arm()
    expect(vi.getTimerCount()).toBe(1)
    vi.advanceTimersByTime(99)
    expect(due).toEqual([])
    vi.advanceTimersByTime(1)
    expect(due.sort()).toEqual([a.id, c.id])
    expect(q.size).toBe(1)
    vi.advanceTimersByTime(100)
    expect(due).toContain(b.id)
    expect(q.size).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('follows a new deadline, forgets a removed message and fires nothing once stopped', () => {
    const due: string[] = []
    const q = new DeadlineQueue((m) => { due.push(m.id) })
    const [a, b] = [msg(1), msg(2)]
    q.add(a, Date.now() + 100)
    q.add(b, Date.now() + 100)
    q.reschedule(a, Date.now() + 300)
    q.remove(b)
    expect(q.get(b.id)).toBeUndefined()
    vi.advanceTimersByTime(200)
    expect(due).toEqual([])
    vi.advanceTimersByTime(100)
    expect(due).toEqual([a.id])
    q.add(b, Date.now() + 50)
    q.stop()
    vi.advanceTimersByTime(100)
    expect(due).toEqual([a.id])
    expect(q.values()).toEqual([b])
  })

  it('agrees with a model over random in-order and out-of-order adds, removals, reschedules and re-adds', () => {
    let seed = 11
    const rand = (n: number): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed % n }
    const fired: Array<[Message, number]> = []
    const q = new DeadlineQueue((m) => { fired.push([m, Date.now()]) })
    const model = new Map<Message, number>()
    const pool = Array.from({ length: 400 }, (_, i) => msg(i))
    for (let step = 0; step < 30_000; step++) {
      const m = pool[rand(pool.length)] as Message
      const op = rand(10)
      if (op < 4 && !model.has(m)) {
        // Mostly one timeout (in order), sometimes a shorter one (out of order), sometimes the same ms again.
        const deadline = Date.now() + [1000, 1000, 1000, 300, 0][rand(5)]!
        q.addBatched(m, deadline)
        model.set(m, deadline)
      } else if (op < 7 && model.has(m)) {
        q.remove(m)
        model.delete(m)
      } else if (op < 8 && model.has(m)) {
        const deadline = Date.now() + rand(2000)
        q.reschedule(m, deadline)
        model.set(m, deadline)
      } else if (op < 9) {
        q.arm()
        vi.advanceTimersByTime(rand(40))
        for (const [f, at] of fired) {
          if (model.get(f) === undefined || (model.get(f) as number) > at) expect.fail(`fired ${f.id} early at ${at}`)
          model.delete(f)
        }
        fired.length = 0
        for (const [m2, due] of model) if (due <= Date.now()) expect.fail(`${m2.id} due at ${due} not fired`)
      }
      q.arm()
      if (q.size !== model.size) expect(q.size).toBe(model.size)
    }
    expect(new Set(q.values())).toEqual(new Set(model.keys()))
    expect(q.values().length).toBe(model.size)
    q.arm()
    vi.advanceTimersByTime(5000)
    expect(new Set(fired.map(([m]) => m))).toEqual(new Set(model.keys()))
    const order = fired.map(([m]) => m.priority)
    expect(order).toEqual([...order].sort((x, y) => x - y))
    q.clear()
    expect(q.size).toBe(0)
    expect(q.values()).toEqual([])
  })
})
