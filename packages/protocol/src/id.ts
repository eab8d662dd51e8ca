/**
 * Message IDs as nsqd makes them: a 64-bit snowflake printed as 16 lowercase hex characters,
 *
 *   bits 63..22  (now_ns >> 20) - TWEPOCH      (units of 2^20 ns, about 1.05 ms)
 *   bits 21..12  node id (0..1023)
 *   bits 11..0   sequence within one time unit
 *
 * one generator per topic. Where nsqd sleeps when 4096 IDs are used up within one unit or the clock goes back, this
 * generator borrows the next unit instead, so IDs stay unique and increasing without blocking the event loop.
 */
const TWEPOCH = 1288834974288
const SEQUENCE_MASK = 0xfff
const NS_PER_MS = 1_000_000
const UNIT_NS = 1 << 20

function hex8 (n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0')
}

export class MessageIdGenerator {
  private lastUnit = -1
  private sequence = 0
  private readonly node: number

  constructor (nodeId: number, private readonly now: () => number = Date.now) {
    if (!Number.isInteger(nodeId) || nodeId < 0 || nodeId > 1023) throw new RangeError(`node id ${nodeId} out of range 0-1023`)
    this.node = nodeId
  }

  next (): string {
    const unit = Math.floor((this.now() * NS_PER_MS) / UNIT_NS)
    if (unit > this.lastUnit) {
      this.lastUnit = unit
      this.sequence = 0
    } else {
      this.sequence = (this.sequence + 1) & SEQUENCE_MASK
      if (this.sequence === 0) this.lastUnit++
    }
    const ts = this.lastUnit - TWEPOCH
    // ts << 22 overflows a double's exact range, so the two 32-bit halves are built apart.
    const hi = Math.floor(ts / 1024)
    const lo = ((ts % 1024) * 4194304) + (this.node << 12) + this.sequence
    return hex8(hi) + hex8(lo)
  }
}
