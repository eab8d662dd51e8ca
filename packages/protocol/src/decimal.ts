const TWO_64 = 1n << 64n

/**
 * Parses an unsigned decimal the way nsqd does (ByteToBase10): digits only, the empty string is 0, and values wrap
 * modulo 2^64 like Go's uint64. Returns undefined for any non-digit (a sign included, so "-1" fails to parse).
 * Values above Number.MAX_SAFE_INTEGER come back as bigint so that error texts can quote them exactly.
 */
export function parseBase10 (text: string): number | bigint | undefined {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 48 || c > 57) return undefined
  }
  if (text.length === 0) return 0
  if (text.length < 16) return Number(text)
  const big = BigInt(text) % TWO_64
  return big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big
}

/** Go's int64 view of a parsed uint64 (RDY converts with int64(n)). */
export function toInt64 (n: number | bigint): number | bigint {
  if (typeof n === 'number') return n
  const signed = BigInt.asIntN(64, n)
  const safe = signed >= BigInt(Number.MIN_SAFE_INTEGER) && signed <= BigInt(Number.MAX_SAFE_INTEGER)
  return safe ? Number(signed) : signed
}
