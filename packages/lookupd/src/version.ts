/** The NSQ release whose behaviour this package reproduces; peers and nsqadmin read it as semver. */
export const VERSION = '1.3.0'
