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

/** The two lowercase hex digits of each byte value, as char codes: HEX[2b], HEX[2b + 1]. */
const HEX = new Uint8Array(512)
for (let b = 0; b < 256; b++) {
  const text = b.toString(16).padStart(2, '0')
  HEX[2 * b] = text.charCodeAt(0)
  HEX[2 * b + 1] = text.charCodeAt(1)
}

/** Writes `n` (32 bits) as 8 lowercase hex digits at `at`. */
function writeHex8 (out: Uint8Array, at: number, n: number): void {
  for (let shift = 24; shift >= 0; shift -= 8) {
    const b = 2 * ((n >>> shift) & 0xff)
    out[at++] = HEX[b] as number
    out[at++] = HEX[b + 1] as number
  }
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
    const out = Buffer.allocUnsafe(16)
    this.writeNext(out, 0)
    return out.toString('latin1')
  }

  /**
   * Writes the next ID, 16 lowercase hex chars, into `out` at `at`: where a message's stored form keeps it, with no
   * string made. `nowMs` lets a batch of messages read the clock once.
   */
  writeNext (out: Uint8Array, at: number, nowMs = this.now()): void {
    const unit = Math.floor((nowMs * NS_PER_MS) / UNIT_NS)
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
    writeHex8(out, at, hi)
    writeHex8(out, at + 8, lo)
  }
}
