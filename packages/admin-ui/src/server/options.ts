import type { Logger, LogLevelName } from '@nsqts/protocol'

/** nsqadmin's settings; names follow NSQ's flags (`--lookupd-http-address` → lookupdHttpAddresses). */
export interface AdminOptions {
  /** `<addr>:<port>` to listen on. */
  httpAddress: string
  /** nsqlookupd HTTP addresses to discover the cluster from (preferred). */
  lookupdHttpAddresses: string[]
  /** nsqd HTTP addresses to use instead of lookupd. */
  nsqdHttpAddresses: string[]
  /** URL prefix the dashboard and API are served under, for a reverse proxy. */
  basePath: string
  /** Where to POST a JSON notice of every admin action ('' = none). */
  notificationHttpEndpoint: string
  /** When non-empty, only requests whose aclHttpHeader names one of these users may change the cluster. */
  adminUsers: string[]
  aclHttpHeader: string
  /** Who may GET/PUT /config (an IPv4 CIDR). */
  allowConfigFromCidr: string
  httpClientConnectTimeoutMs: number
  httpClientRequestTimeoutMs: number
  logLevel: LogLevelName
  logPrefix: string
  /** How often the live charts' sampler reads every nsqd's /stats. */
  historyIntervalMs: number
  /** How much chart history is kept in memory. */
  historyWindowMs: number
  /**
   * nsqts (--http-bearer-token): when set, /api/* and /config/* answer 401 to requests without
   * `Authorization: Bearer <token>`; /ping, the pages and static assets stay open so a browser can load the dashboard.
   */
  httpBearerToken: string
  /** nsqts (--upstream-http-bearer-token): sent as `Authorization: Bearer <token>` to every nsqd and nsqlookupd. */
  upstreamHttpBearerToken: string
}

export const defaultAdminOptions: AdminOptions = {
  httpAddress: '0.0.0.0:4171',
  lookupdHttpAddresses: [],
  nsqdHttpAddresses: [],
  basePath: '/',
  notificationHttpEndpoint: '',
  adminUsers: [],
  aclHttpHeader: 'X-Forwarded-User',
  allowConfigFromCidr: '127.0.0.1/8',
  httpClientConnectTimeoutMs: 2000,
  httpClientRequestTimeoutMs: 5000,
  logLevel: 'info',
  logPrefix: '[nsqadmin] ',
  historyIntervalMs: 5000,
  historyWindowMs: 15 * 60_000,
  httpBearerToken: '',
  upstreamHttpBearerToken: '',
}

export interface AdminInit extends Partial<AdminOptions> {
  logger?: Logger
  /** Directory of the built web app (index.html + static/); defaults to the package's dist/web. */
  webDir?: string
}

/** Fills defaults and applies NSQ's checks; throws with NSQ's wording on a bad combination. */
export function resolveAdminOptions (init: Partial<AdminOptions>): AdminOptions {
  const o: AdminOptions = { ...defaultAdminOptions }
  for (const [key, value] of Object.entries(init)) {
    if (value !== undefined && key in defaultAdminOptions) (o as unknown as Record<string, unknown>)[key] = value
  }
  if (o.lookupdHttpAddresses.length > 0 && o.nsqdHttpAddresses.length > 0) {
    throw new Error('use --lookupd-http-address or --nsqd-http-address, not both')
  }
  if (o.lookupdHttpAddresses.length === 0 && o.nsqdHttpAddresses.length === 0) {
    throw new Error('--lookupd-http-address or --nsqd-http-address required')
  }
  if (o.historyIntervalMs <= 0 || o.historyWindowMs < o.historyIntervalMs) {
    throw new Error('--history-interval must be positive and at most --history-window')
  }
  if (parseCidr(o.allowConfigFromCidr) === undefined) throw new Error(`invalid --allow-config-from-cidr ${o.allowConfigFromCidr}`)
  o.basePath = normaliseBasePath(o.basePath)
  return o
}

/** '/', 'admin', '/admin/' → '/', '/admin/', '/admin/': always leading and trailing slash. */
export function normaliseBasePath (path: string): string {
  const trimmed = path.replace(/^\/+|\/+$/g, '')
  return trimmed === '' ? '/' : `/${trimmed}/`
}

function ipv4 (text: string): number | undefined {
  const parts = text.split('.')
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return undefined
  return parts.reduce((n, p) => n * 256 + Number(p), 0)
}

export function parseCidr (cidr: string): { base: number, bits: number } | undefined {
  const [addr, bitsText] = cidr.split('/')
  const base = ipv4(addr ?? '')
  const bits = Number(bitsText)
  if (base === undefined || !Number.isInteger(bits) || bits < 0 || bits > 32) return undefined
  return { base, bits }
}

/** Whether an IPv4 address (plain or IPv4-mapped IPv6) lies in the CIDR. */
export function inCidr (ip: string, cidr: string): boolean {
  const range = parseCidr(cidr)
  const addr = ipv4(ip.replace(/^::ffff:/i, ''))
  if (range === undefined || addr === undefined) return false
  const size = 2 ** (32 - range.bits)
  return Math.floor(addr / size) === Math.floor(range.base / size)
}
