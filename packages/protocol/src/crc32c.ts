/** CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of the snappy framing format. */
const TABLE = new Int32Array(256)
for (let n = 0; n < 256; n++) {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1
  TABLE[n] = c
}

export function crc32c (data: Uint8Array): number {
  let crc = -1
  for (let i = 0; i < data.length; i++) crc = TABLE[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8)
  return (crc ^ -1) >>> 0
}

/**
 * The framing format stores a masked CRC so that checksumming data that itself contains CRCs stays robust:
 * rotate right by 15 bits, then add a constant.
 */
export function maskedCrc32c (data: Uint8Array): number {
  const crc = crc32c(data)
  return (((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0
}
