export { parseHostPort, resolveLookupdOptions } from './options.js'
