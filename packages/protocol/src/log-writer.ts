import { writeSync } from 'node:fs'

let pending: string[] = []
let scheduled = false
let exitHooked = false

function flush (): void {
  scheduled = false
  if (pending.length === 0) return
  const text = pending.join('')
  pending = []
  process.stderr.write(text)
}

/**
 * Writes log lines to stderr once per turn of the event loop rather than once per line. A daemon logs a line for
 * every registration or connection, and a write per line (synchronous for a pipe or a file) was most of the cost of
 * a storm of them; the lines keep their order and their timestamps.
 */
export function writeLogLine (line: string): void {
  if (!exitHooked) {
    exitHooked = true
    // What is still pending when the process exits (process.exit after a signal or a fatal error) is written at once.
    process.on('exit', () => {
      if (pending.length > 0) writeSync(2, pending.join(''))
      pending = []
    })
  }
  pending.push(line)
  if (!scheduled) {
    scheduled = true
    setImmediate(flush)
  }
}
