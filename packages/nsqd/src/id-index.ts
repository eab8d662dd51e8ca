import { ID_OFFSET, MESSAGE_ID_LENGTH } from '@nsqts/protocol'
import type { Message } from './message.js'

const MIN_CAPACITY = 64
const EMPTY = -1

/**
 * Messages by id, keyed by the 16 id bytes of their stored form: a `Map` keyed by the id as a string cost a string per
 * message read back (to key it) and a hash of the FIN's string per acknowledgement, and was the largest cost of a
 * reader's round after the socket and the garbage collector. An open-addressed table (linear probing, deletion by
 * backward shift) over an array of messages and an Int32Array of their hashes: no entry object per message, and the
 * id is read where it lies, in the message's bytes, or in the FIN line that names it.
 */
export class IdIndex {
  private slots: Array<Message | undefined>
  private hashes: Int32Array
  private mask: number
  private count = 0
  /**
   * The table shrinks only after its size stayed under an eighth of its capacity for as many removals as it has
   * slots: a channel's in-flight count swings from full to empty and back whenever its readers outrun the disk, and
   * halving the table at each swing cost more than the lookups.
   */
  private peak = 0
  private removals = 0

  constructor () {
    this.slots = new Array<Message | undefined>(MIN_CAPACITY).fill(undefined)
    this.hashes = new Int32Array(MIN_CAPACITY).fill(EMPTY)
    this.mask = MIN_CAPACITY - 1
  }

  get size (): number {
    return this.count
  }

  /** The message whose id is `id` (as nsqd prints it: latin1), or undefined. */
  get (id: string): Message | undefined {
    if (id.length !== MESSAGE_ID_LENGTH) return undefined
    const h = hashString(id)
    for (let i = h & this.mask; ; i = (i + 1) & this.mask) {
      const msg = this.slots[i]
      if (msg === undefined) return undefined
      if (this.hashes[i] === h && sameIdString(msg.data, id)) return msg
    }
  }

  /** The message whose id is the 16 bytes of `buf` at `at`, or undefined. */
  getBytes (buf: Buffer, at: number): Message | undefined {
    const h = hashBytes(buf, at)
    for (let i = h & this.mask; ; i = (i + 1) & this.mask) {
      const msg = this.slots[i]
      if (msg === undefined) return undefined
      if (this.hashes[i] === h && sameId(msg.data, ID_OFFSET, buf, at)) return msg
    }
  }

  /** Adds `msg` under its id; one already there with that id is replaced (as Map.set would). */
  set (msg: Message): void {
    if ((this.count + 1) * 2 > this.slots.length) this.resize(this.slots.length * 2)
    const data = msg.data
    const h = hashBytes(data, ID_OFFSET)
    for (let i = h & this.mask; ; i = (i + 1) & this.mask) {
      const there = this.slots[i]
      if (there === undefined) {
        this.slots[i] = msg
        this.hashes[i] = h
        if (++this.count > this.peak) this.peak = this.count
        return
      }
      if (this.hashes[i] === h && sameId(there.data, ID_OFFSET, data, ID_OFFSET)) {
        this.slots[i] = msg
        return
      }
    }
  }

  /** Removes whatever is held under `msg`'s id (as Map.delete would). */
  delete (msg: Message): void {
    const data = msg.data
    const h = hashBytes(data, ID_OFFSET)
    const mask = this.mask
    let i = h & mask
    for (; ; i = (i + 1) & mask) {
      const there = this.slots[i]
      if (there === undefined) return
      if (this.hashes[i] === h && sameId(there.data, ID_OFFSET, data, ID_OFFSET)) break
    }
    // Backward shift: later entries of the probe run move into the hole when their home allows it.
    const slots = this.slots
    const hashes = this.hashes
    for (let j = (i + 1) & mask; slots[j] !== undefined; j = (j + 1) & mask) {
      const home = (hashes[j] as number) & mask
      // j's entry may move to i when its home is not in the cyclic range (i, j].
      if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) {
        slots[i] = slots[j]
        hashes[i] = hashes[j] as number
        i = j
      }
    }
    slots[i] = undefined
    hashes[i] = EMPTY
    this.count--
    if (++this.removals < this.slots.length) return
    const capacity = this.slots.length
    if (capacity > MIN_CAPACITY && this.peak * 8 < capacity) this.resize(Math.max(MIN_CAPACITY, capacity / 4))
    this.removals = 0
    this.peak = this.count
  }

  clear (): void {
    this.slots = new Array<Message | undefined>(MIN_CAPACITY).fill(undefined)
    this.hashes = new Int32Array(MIN_CAPACITY).fill(EMPTY)
    this.mask = MIN_CAPACITY - 1
    this.count = 0
    this.peak = 0
    this.removals = 0
  }

  private resize (capacity: number): void {
    const old = this.slots
    const oldHashes = this.hashes
    this.slots = new Array<Message | undefined>(capacity).fill(undefined)
    this.hashes = new Int32Array(capacity).fill(EMPTY)
    this.mask = capacity - 1
    for (let k = 0; k < old.length; k++) {
      const msg = old[k]
      if (msg === undefined) continue
      const h = oldHashes[k] as number
      let i = h & this.mask
      while (this.slots[i] !== undefined) i = (i + 1) & this.mask
      this.slots[i] = msg
      this.hashes[i] = h
    }
  }
}

/** FNV-1a over the 16 id bytes, kept non-negative (EMPTY is -1). */
function hashBytes (buf: Buffer, at: number): number {
  let h = 0x811c9dc5
  for (let k = at; k < at + MESSAGE_ID_LENGTH; k++) h = Math.imul(h ^ (buf[k] as number), 16777619)
  return h & 0x7fffffff
}

function hashString (id: string): number {
  let h = 0x811c9dc5
  for (let k = 0; k < MESSAGE_ID_LENGTH; k++) h = Math.imul(h ^ (id.charCodeAt(k) & 0xff), 16777619)
  return h & 0x7fffffff
}

function sameId (a: Buffer, aAt: number, b: Buffer, bAt: number): boolean {
  for (let k = 0; k < MESSAGE_ID_LENGTH; k++) if (a[aAt + k] !== b[bAt + k]) return false
  return true
}

/** A latin1 string names these bytes only if every char is a byte: `& 0xff` in the hash must not make a match. */
function sameIdString (data: Buffer, id: string): boolean {
  for (let k = 0; k < MESSAGE_ID_LENGTH; k++) if (data[ID_OFFSET + k] !== id.charCodeAt(k)) return false
  return true
}
