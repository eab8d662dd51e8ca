// Consumers for the reconnect-storm test, in their own process so that the test's /ping timing does not share an
// event loop with them: `node storm-clients.mjs <port> <count> <topic> <channel>`. Each connection subscribes with
// RDY 1 and finishes what it gets. Once every connection is lost, they wait for a line on stdin, then all dial at
// once and keep redialling every 20 ms, without backoff, as a crowd of naive clients would. Prints `subscribed <n>`
// whenever the number of subscribed connections reaches 0 or `count`, and `finished <n>` once a second.
import { connect } from 'node:net'

const [port, count] = [Number(process.argv[2]), Number(process.argv[3])]
const [topic, channel] = [process.argv[4], process.argv[5]]
const MAGIC = Buffer.from('  V2')
const subscribe = Buffer.concat([MAGIC, Buffer.from(`SUB ${topic} ${channel}\nRDY 1\n`)])
let subscribed = 0
let finished = 0
let reported = -1

function report () {
  if ((subscribed === 0 || subscribed === count) && subscribed !== reported) {
    reported = subscribed
    console.log(`subscribed ${subscribed}`)
  }
}

function dial () {
  const socket = connect(port, '127.0.0.1')
  let buf = Buffer.alloc(0)
  let ok = false
  socket.setNoDelay(true)
  socket.on('connect', () => socket.write(subscribe))
  socket.on('data', (chunk) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk])
    const out = []
    while (buf.length >= 8) {
      const size = buf.readUInt32BE(0)
      if (buf.length < 4 + size) break
      const type = buf.readUInt32BE(4)
      const data = buf.subarray(8, 4 + size)
      buf = buf.subarray(4 + size)
      if (type === 2) {
        out.push(`FIN ${data.toString('latin1', 10, 26)}\nRDY 1\n`)
        finished++
      } else if (type === 1) {
        socket.destroy()
        return
      } else if (data.toString() === '_heartbeat_') {
        out.push('NOP\n')
      } else if (data.toString() === 'OK' && !ok) {
        ok = true
        subscribed++
        report()
      }
    }
    if (out.length > 0) socket.write(out.join(''))
  })
  socket.on('error', () => {})
  socket.on('close', () => {
    if (ok) {
      subscribed--
      report()
    }
    if (ok) held.push(dial)
    else setTimeout(dial, 20)
  })
}

/** Connections lost after subscribing: redialled together on the next line of stdin. */
let held = []
process.stdin.on('data', () => {
  const go = held
  held = []
  for (const d of go) d()
})

for (let i = 0; i < count; i++) dial()
setInterval(() => console.log(`finished ${finished}`), 1000)
process.stdin.on('end', () => process.exit(0))
