const NAME_PATTERN = /^[.a-zA-Z0-9_-]+(#ephemeral)?$/
const EPHEMERAL_SUFFIX = '#ephemeral'
export const MAX_NAME_LENGTH = 64

/**
 * Topic and channel names share one rule: 1-64 characters (suffix included) of `[.a-zA-Z0-9_-]`, optionally
 * `#ephemeral`.
 */
export function isValidName (name: string): boolean {
  return name.length >= 1 && name.length <= MAX_NAME_LENGTH && NAME_PATTERN.test(name)
}

export const isValidTopicName = isValidName
export const isValidChannelName = isValidName

/** Ephemeral topics and channels live in memory only and vanish with their last channel or client. */
export function isEphemeral (name: string): boolean {
  return name.endsWith(EPHEMERAL_SUFFIX)
}
