/** The NSQ version this nsqd answers as (IDENTIFY, /info, /ping's envelope, --version). */
export const VERSION = '1.3.0'
