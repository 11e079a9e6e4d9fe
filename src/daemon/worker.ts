/**
 * A worker thread of the agent (pool.ts): runs CNI calls with the same CniHandler as the agent's
 * main thread would, so several calls can wait on the kernel at once (deleting a veth, say, waits for
 * RCU grace periods: on one thread those waits would queue up). Its log records go to the main
 * thread, which writes them.
 *
 * The namespace rule holds per thread: each worker switches only itself, inside synchronous runIn()
 * calls. After every call the worker checks that its thread is back in the namespace it started in,
 * and aborts the process if not (what runIn does when it cannot switch back): a thread left in a pod's
 * namespace would configure the wrong network from then on.
 */
import { readlinkSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import pino from 'pino';
import { NetNs } from '../netns.js';
import { gettid } from '../sys/libc.js';
import { setNamespaceTypeProbe } from '../sys/ns-check.js';
import { namespaceTypeOf } from '../sys/ns-type.js';
import { keepNftSockets } from '../datapath/nft-common.js';
import { builtinIpam } from '../ipam/host-local/index.js';
import { CniHandler } from './handler.js';
import { errorData, type WorkerData, type FromWorker, type ToWorker } from './pool.js';

const data = workerData as WorkerData;
const port = parentPort!;
const post = (message: FromWorker) => port.postMessage(message);

const logger = pino({ level: data.logLevel, base: undefined, timestamp: false }, { write: (line: string) => post({ type: 'log', line }) });
const home = readlinkSync('/proc/thread-self/ns/net');
// Each thread has its own module instances: the probe is installed here too (see agent.ts).
setNamespaceTypeProbe(namespaceTypeOf);
keepNftSockets();
const nodeNetns = data.nodeNetnsPath ? NetNs.open(data.nodeNetnsPath) : undefined;
const handler = new CniHandler({
  logger,
  testHooks: data.testHooks,
  driver: { ...data.driver, ...(nodeNetns ? { nodeNetns } : {}) },
});

// The modules every call needs, loaded before the worker says it is ready.
await Promise.all([import('../cni/dispatch.js'), import('../datapath/ebpf.js')]);
/**
 * Allocations for the main thread's calls: the same built-in IPAM as the handler's, remembering its
 * stores; it answers once the lease is in place and writes the index after, while the main thread
 * goes on with the call.
 */
const ipam = builtinIpam({ remember: true, commitAfterResult: true });

/** Tests: a check of this thread's namespace at every turn of its event loop while calls run. */
const watch = { samples: 0, away: 0 };
let busy = 0;
function sample(): void {
  watch.samples++;
  if (readlinkSync('/proc/thread-self/ns/net') !== home) watch.away++;
  if (busy > 0) setImmediate(sample);
}

port.on('message', (message: ToWorker) => {
  if (message.type === 'watch') {
    post({ type: 'watch', samples: watch.samples, away: watch.away });
    return;
  }
  if (message.type === 'allocate') {
    void ipam.add(message.req).then(
      (result) => post({ type: 'allocated', id: message.id, result }),
      (err: unknown) => post({ type: 'allocated', id: message.id, error: errorData(err) }),
    );
    return;
  }
  busy++;
  if (data.watchNamespaces && busy === 1) setImmediate(sample);
  const stdin = Buffer.from(message.stdin.buffer, message.stdin.byteOffset, message.stdin.byteLength);
  void handler.run(message.env, stdin, message.meta).then((out) => {
    busy--;
    if (readlinkSync('/proc/thread-self/ns/net') !== home) {
      process.stderr.write(`sluice agent: worker thread ${gettid()} was left outside its network namespace after a call: aborting\n`);
      process.abort();
    }
    post({ type: 'done', id: message.id, out, locations: handler.locations });
  });
});

post({ type: 'ready', tid: gettid() });
