// How the scripts learn where a daemon they started listens: nsqd and nsqlookupd, started with
// `--tcp-address=127.0.0.1:0 --http-address=127.0.0.1:0`, log both addresses on stderr once they listen.

// The end of the log kept for an error message; the pipe is read to its end so the daemon never blocks on it.
const KEEP = 65_536

/**
 * Reads `child`'s stderr for good. `ports` resolves with the TCP and HTTP ports once both are logged and rejects,
 * with the log, if the daemon exits before; `log()` is the last 64 KiB logged.
 */
export function readDaemonLog (child, name) {
  let log = ''
  let listening = false
  const ports = new Promise((resolve, reject) => {
    child.stderr.on('data', (chunk) => {
      log = (log + chunk).slice(-KEEP)
      if (listening) return
      const tcp = /TCP: listening on [^\s]+:(\d+)/.exec(log)
      const http = /HTTP: listening on [^\s]+:(\d+)/.exec(log)
      if (tcp === null || http === null) return
      listening = true
      resolve({ tcp: Number(tcp[1]), http: Number(http[1]) })
    })
    child.once('exit', (code) => reject(new Error(`${name} exited (${code}) before listening:\n${log}`)))
  })
  return { ports, log: () => log }
}
