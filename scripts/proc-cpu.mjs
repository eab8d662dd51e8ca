import { readFileSync } from 'node:fs'

/** Linux's USER_HZ, which /proc's times count in: 100 on every architecture Node runs on. */
const TICKS_PER_SECOND = 100

/**
 * CPU seconds (user + system) a process has used, or one of its threads (`tid`), from /proc's stat: fields 14 and 15,
 * counted after the parenthesised name, which may itself hold spaces.
 */
export function cpuSeconds (pid, tid) {
  const stat = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND
}
