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
})
