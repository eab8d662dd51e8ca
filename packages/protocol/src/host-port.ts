/**
 * Go's net.JoinHostPort and net.SplitHostPort, which every NSQ daemon and tool uses for `host:port` flags and for
 * the addresses it reports, so that ours accept, reject and print addresses as NSQ does.
 */

/** Go's net.AddrError: `address <address>: <reason>`, the reason kept for callers that word it their own way. */
export class AddrError extends Error {
  constructor (readonly address: string, readonly reason: string) {
    super(`address ${address}: ${reason}`)
    this.name = 'AddrError'
  }
}

/** `host:port`; a host containing a colon (an IPv6 literal) goes in brackets, as net.JoinHostPort does. */
export function joinHostPort (host: string, port: number | string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}

/**
 * Splits `host:port`, `[host]:port` or `[host%zone]:port` as net.SplitHostPort does, with its checks and its error
 * text (`address <input>: <reason>`). The port is returned as written: Go leaves its meaning to the caller.
 */
export function splitHostPort (address: string): { host: string, port: string } {
  const fail = (reason: string): never => { throw new AddrError(address, reason) }
  const colon = address.lastIndexOf(':')
  if (colon === -1) fail('missing port in address')
  let host: string
  // Where a stray '[' or ']' is looked for: after the brackets, if any.
  let openFrom = 0
  let closeFrom = 0
  if (address.startsWith('[')) {
    const close = address.indexOf(']')
    if (close === -1) fail("missing ']' in address")
    if (close + 1 === address.length) fail('missing port in address')
    if (close + 1 !== colon) fail(address[close + 1] === ':' ? 'too many colons in address' : 'missing port in address')
    host = address.slice(1, close)
    openFrom = 1
    closeFrom = close + 1
  } else {
    host = address.slice(0, colon)
    if (host.includes(':')) fail('too many colons in address')
  }
  if (address.indexOf('[', openFrom) !== -1) fail("unexpected '[' in address")
  if (address.indexOf(']', closeFrom) !== -1) fail("unexpected ']' in address")
  return { host, port: address.slice(colon + 1) }
}

/**
 * splitHostPort with a decimal port: the address of a listener or of a peer to dial. A bad address throws
 * splitHostPort's AddrError, a bad port `address <input>: invalid port <port>`.
 */
export function hostAndPort (address: string): { host: string, port: number } {
  const { host, port } = splitHostPort(address)
  const number = parsePort(port)
  if (number === undefined) throw new AddrError(address, `invalid port ${port}`)
  return { host, port: number }
}

/** A port written in decimal, 0 to 65535; undefined for anything else (service names too: we do not look them up). */
export function parsePort (text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined
  const port = Number(text)
  return port <= 65535 ? port : undefined
}
