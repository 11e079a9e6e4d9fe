// The namespace rule inside the agent: many calls interleave on one thread, each switching into pods
// (and here into the simulated node too: the agent runs in the test's own process, given the node's
// namespace), so every switch must be over before anything else runs. While 24 ADDs and then 24 DELs
// run at once, a sampler runs at every turn of the event loop and reads the network namespace of every
// thread of the process (the JavaScript thread and libuv's pool, which koffi's async calls use): each
// sample must find them all at home.
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync } from 'node:fs';
import pino from 'pino';
import { Agent } from '../../src/daemon/agent.js';
import { agentCni } from '../../src/daemon/client.js';
import { kernelTest } from '../support/kernel.js';
import { nothingLeftAfterAll, POD_SUBNET_V4, withNode } from '../support/plugin.js';
import { Scratch } from '../support/agent.js';

nothingLeftAfterAll();

/** The network namespace of every thread of this process, by thread id. */
function threadNamespaces(): Map<string, string> {
  const out = new Map<string, string>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      out.set(tid, readlinkSync(`/proc/self/task/${tid}/ns/net`));
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

for (const workers of [0, 4]) {
  const where = workers ? `${workers} worker threads` : 'the main thread';
  kernelTest(`interleaved calls on ${where} never leave a thread switched across a turn of its event loop`, async () => {
    const scratch = new Scratch();
    try {
      await withNode(async (node) => {
        const home = readlinkSync('/proc/thread-self/ns/net');
        const socket = scratch.path('sluice.sock');
        const agent = await Agent.start({
          socketPath: socket, pinRoot: node.pinRoot, stateDir: node.stateDir, nodeNetns: node.ns, logger: pino({ level: 'silent' }), workers, watchNamespaces: true, inlineAlone: false,
        });
        // Workers switch on threads of their own, at any moment: the main thread's sampler leaves them
        // to their own samplers (at every turn of their event loops) and checks everything else.
        const workerThreads = new Set((agent.pool?.threadIds ?? []).map(String));
        let samples = 0;
        const away: string[] = [];
        let sampling = true;
        const sample = () => {
          for (const [tid, ns] of threadNamespaces()) if (ns !== home && !workerThreads.has(tid)) away.push(`thread ${tid} in ${ns}`);
          samples++;
          if (sampling) setImmediate(sample);
        };
        let report: { samples: number; away: number }[] = [];
        try {
          setImmediate(sample);
          const config = Buffer.from(JSON.stringify(node.config({ overrides: { logLevel: 'warn', ipam: { type: 'sluice', dataDir: node.ipamDir, ranges: [[{ subnet: POD_SUBNET_V4 }]] } } })));
          const pods = Array.from({ length: 24 }, () => node.addPod());
          const env = (command: string, pod: (typeof pods)[number]) => ({ CNI_COMMAND: command, CNI_CONTAINERID: pod.containerId, CNI_NETNS: pod.path, CNI_IFNAME: 'eth0', CNI_PATH: '/usr/lib/cni' });
          for (const command of ['ADD', 'DEL']) {
            const results = await Promise.all(pods.map((p) => agentCni(socket, env(command, p), config)));
            for (const r of results) {
              assert.equal(r.outcome, 'answered');
              if (r.outcome === 'answered') assert.equal(r.answer.exitCode, 0, r.answer.stdout);
            }
          }
          assert.deepEqual(node.snapshot().maps, { endpoints_v4: [], endpoints_v6: [], devices: [] });
          report = (await agent.pool?.watchReport()) ?? [];
        } finally {
          sampling = false;
          await agent.stop();
        }
        assert.ok(samples > 48, `the sampler ran between the calls (${samples} samples)`);
        assert.deepEqual(away, [], 'no thread was ever found outside the home namespace');
        assert.ok(threadNamespaces().size > 4, "libuv's pool threads were among the sampled ones");
        assert.equal(report.length, workers);
        for (const r of report) {
          assert.ok(r.samples > 0, 'each worker sampled its own thread');
          assert.equal(r.away, 0, 'no worker was found switched at a turn of its event loop');
        }
      });
    } finally {
      scratch.cleanup();
    }
  });
}
