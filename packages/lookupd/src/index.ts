export { NSQLookupd } from './nsqlookupd.js'
export { defaultLookupdOptions } from './options.js'
export type { LookupdOptions, HostPort } from './options.js'
export { VERSION } from './version.js'
