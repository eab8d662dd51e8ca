// Throughput of the Producer (PUB pipelined, MPUB batched) and the Consumer against one nsqd.
// Build first: npx tsc -b packages/client packages/testkit; then: node packages/client/bench/throughput.mjs [messages]
// nsqd runs in this process (testkit), so the figures include nsqd's own work on the same event loop.
import { startNsqd } from '@nsqts/testkit'
import { Consumer, Producer } from '@nsqts/client'

const total = Number(process.argv[2] ?? 200_000)
const body = Buffer.alloc(100, 'x')
const window = 1000
const batch = 100

function rate (label, count, startedAt) {
  const seconds = (performance.now() - startedAt) / 1000
  console.log(`${label.padEnd(34)} ${Math.round(count / seconds).toLocaleString('en-US').padStart(10)} msg/s  (${count} in ${seconds.toFixed(2)} s)`)
}

async function pipelined (producer, topic) {
  const started = performance.now()
  const pending = new Set()
  for (let i = 0; i < total; i++) {
    const p = producer.publish(topic, body).finally(() => pending.delete(p))
    pending.add(p)
    if (pending.size >= window) await Promise.race(pending)
  }
  await Promise.all(pending)
  rate(`Producer.publish (${window} in flight)`, total, started)
}

async function batched (producer, topic) {
  const started = performance.now()
  const bodies = Array.from({ length: batch }, () => body)
  const pending = []
  for (let i = 0; i < total; i += batch) {
    pending.push(producer.publishMany(topic, bodies))
    if (pending.length >= 10) await pending.shift()
  }
  await Promise.all(pending)
  rate(`Producer.publishMany (${batch}/MPUB)`, total, started)
}

async function consume (address, topic, count) {
  const consumer = new Consumer(topic, 'bench', { nsqdTcpAddresses: address, maxInFlight: 2500 })
  let got = 0
  let done
  const finished = new Promise((resolve) => { done = resolve })
  const started = performance.now()
  await consumer.handle(() => { if (++got === count) done() }, { concurrency: 2500 })
  await finished
  rate('Consumer.handle (maxInFlight 2500)', count, started)
  await consumer.close()
}

const nsqd = await startNsqd({ memQueueSize: 2 * total + 10 })
const address = `127.0.0.1:${nsqd.tcp.port}`
try {
  const producer = new Producer(address)
  await producer.connect()
  await pipelined(producer, 'bench_pub')
  await batched(producer, 'bench_mpub')
  await producer.close()
  await consume(address, 'bench_mpub', total)
} finally {
  await nsqd.close()
}
