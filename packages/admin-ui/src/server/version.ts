/** The NSQ release whose nsqadmin this one answers as. */
export const VERSION = '1.3.0'
