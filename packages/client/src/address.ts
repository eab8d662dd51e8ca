import { AddrError, joinHostPort, parsePort, splitHostPort } from '@nsqts/protocol'

/** A TCP endpoint. `host` is a name or an IP literal without brackets. */
export interface Address {
  host: string
  port: number
}

/** What the public API accepts wherever an nsqd TCP address is expected. */
export type AddressLike = string | Address

/**
 * Parses `host:port`, `[v6]:port` or an {@link Address}. IPv6 literals need the brackets, as in Go's net.JoinHostPort,
 * because the last colon separates the port.
 */
export function parseAddress (input: AddressLike): Address {
  if (typeof input !== 'string') return checkPort({ host: input.host, port: input.port }, joinHostPort(input.host, input.port))
  let split: { host: string, port: string }
  try {
    split = splitHostPort(input)
  } catch (err) {
    if (err instanceof AddrError && err.reason === 'too many colons in address') {
      throw new TypeError(`invalid address "${input}": IPv6 hosts need brackets, [::1]:4150`)
    }
    throw new TypeError(`invalid address "${input}": expected host:port`)
  }
  return checkPort({ host: split.host, port: parsePort(split.port) ?? Number.NaN }, input)
}

function checkPort (address: Address, text: string): Address {
  if (address.host === '' || !Number.isInteger(address.port) || address.port <= 0 || address.port > 65535) {
    throw new TypeError(`invalid address "${text}": expected host:port`)
  }
  return address
}

/** The inverse of {@link parseAddress}; also the key under which the client tracks a node. */
export function formatAddress (address: Address): string {
  return joinHostPort(address.host, address.port)
}
