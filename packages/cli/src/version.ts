/** The NSQ release whose tools these reproduce (flags, output, --version). */
export const VERSION = '1.3.0'
