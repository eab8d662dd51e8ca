export { defaultLookupdOptions } from './options.js'
export type { LookupdOptions, HostPort } from './options.js'
