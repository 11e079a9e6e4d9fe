// Restarts and failures of the agent, and the shim's rules for them (native/sluice-shim.c):
// - a graceful stop (SIGTERM) answers the call under way, while calls arriving meanwhile run the
//   standalone plugin; running pods keep their traffic through the stop and the next start;
// - an agent killed during ADD: the shim undoes what the ADD left (DEL) and adds again;
// - a peer that drops calls before "accepted" (retried, then the standalone plugin) or after it
//   (DEL run again; ADD undone and redone).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { before } from 'node:test';
import { listEndpoints } from '../../src/daemon/inventory.js';
import { FrameReader, encodeFrame, parseRequest } from '../../src/daemon/protocol.js';
import { ping, tcpClient, tcpServer } from '../support/bpf.js';
import { kernelTest } from '../support/kernel.js';
import { NETWORK, nothingLeftAfterAll, type Pod, POD_SUBNET_V4, type SimNode, withNode } from '../support/plugin.js';
import { ensureShim, gateIpam, runShim, Scratch, shimPath, startAgent, until } from '../support/agent.js';

before(() => void ensureShim());
nothingLeftAfterAll();

function builtinConfig(node: SimNode): Record<string, unknown> {
  return node.config({ overrides: { ipam: { type: 'sluice', dataDir: node.ipamDir, ranges: [[{ subnet: POD_SUBNET_V4 }]] } } });
}

const address = (result: any): string => result.ips[0].address.split('/')[0];
const leases = (node: SimNode) => Object.keys(node.snapshot().ipam).filter((f) => /\/\d+\.\d+\.\d+\.\d+$/.test(f)).sort();

kernelTest('restarting the agent: the call under way is answered, calls meanwhile run standalone, pods keep their traffic', async () => {
  const scratch = new Scratch();
  try {
    await withNode(async (node) => {
      const socket = scratch.path('sluice.sock');
      const config = builtinConfig(node);
      const gate = gateIpam(scratch);
      // The held call's network has an IPAM (host-local) and subnet of its own.
      const gatedConfig = node.config({ overrides: { name: 'gated', ipam: { type: gate.type, dataDir: node.ipamDir, ranges: [[{ subnet: '10.252.1.0/24' }]] } } });
      const shim = (command: string, pod: Pod, cfg = config, env: Record<string, string> = {}) => runShim(node, scratch, command, cfg, { socket, containerId: pod.containerId, netns: pod.path, env });
      const [a, b, c, d, e] = [node.addPod(), node.addPod(), node.addPod(), node.addPod(), node.addPod()] as Pod[];

      const first = await startAgent(node, { socket });
      const ra = await shim('ADD', a!);
      const rb = await shim('ADD', b!);
      assert.deepEqual([ra.code, shimPath(ra), rb.code, shimPath(rb)], [0, 'agent', 0, 'agent']);

      // A TCP stream from a to b, running through everything below.
      const server = await tcpServer(b!, address(rb.json), 5001);
      const client = tcpClient(a!, address(rb.json), 5001, 0);
      assert.equal(await client.line(), 'connected');

      // An ADD held in its IPAM call when SIGTERM comes.
      const held = shim('ADD', c!, gatedConfig, { CNI_PATH: gate.cniPath, GATE_DIR: gate.dir });
      await until('the ADD of c is in its IPAM call', () => gate.started(c!.containerId));
      first.child.kill('SIGTERM');
      await until('the agent stopped accepting', () => !existsSync(socket));

      const during = await shim('ADD', d!);
      assert.equal(during.code, 0, during.stdout);
      assert.equal(shimPath(during), 'standalone', 'no agent accepts calls while it stops');
      gate.open(c!.containerId);
      const rc = await held;
      assert.equal(rc.code, 0, rc.stdout);
      assert.equal(shimPath(rc), 'agent', 'the call under way was answered by the stopping agent');
      assert.equal(await first.exited, 0, first.output());
      assert.ok(first.records().some((r) => r.msg === 'stopping: no new calls, finishing the ones under way' && r.inFlight === 1));

      // No agent at all: the pods talk, through the pinned program.
      const bytesBefore = listEndpoints([{ stateDir: node.stateDir, pinRoot: node.pinRoot }]).find((x) => x.containerId === a!.containerId)!.counters!.egress.bytes;
      assert.equal(await ping(a!.ns, address(rc.json), { count: 2 }), 2);
      assert.equal(await ping(a!.ns, address(during.json), { count: 2 }), 2);
      await until('the stream keeps flowing without an agent', () =>
        listEndpoints([{ stateDir: node.stateDir, pinRoot: node.pinRoot }]).find((x) => x.containerId === a!.containerId)!.counters!.egress.bytes > bytesBefore + 1_000_000);

      const second = await startAgent(node, { socket });
      const re = await shim('ADD', e!);
      assert.deepEqual([re.code, shimPath(re)], [0, 'agent']);
      assert.equal(await ping(e!.ns, address(ra.json), { count: 1 }), 1);

      // The stream lived through the stop and the start: every byte sent arrived.
      client.process.stdin.end();
      const sent = JSON.parse(await client.line()).sent as number;
      const received = JSON.parse(await server.line()).received as number;
      assert.equal((await client.exit()).code, 0);
      assert.equal(received, sent);
      assert.ok(sent > 1_000_000);

      for (const [pod, cfg, env] of [[a, config, {}], [b, config, {}], [c, gatedConfig, { CNI_PATH: gate.cniPath, GATE_DIR: gate.dir }], [d, config, {}], [e, config, {}]] as const) {
        const del = await shim('DEL', pod!, cfg, env);
        assert.deepEqual([del.code, shimPath(del)], [0, 'agent'], del.stdout);
      }
      assert.deepEqual(node.snapshot().maps, { endpoints_v4: [], endpoints_v6: [], devices: [] });
      assert.equal(await second.stop(), 0, second.output());
    });
  } finally {
    scratch.cleanup();
  }
});

kernelTest('an agent killed during ADD: the shim removes what the ADD left and adds again', async () => {
  const scratch = new Scratch();
  try {
    await withNode(async (node) => {
      const socket = scratch.path('sluice.sock');
      const config = builtinConfig(node);
      const agent = await startAgent(node, { socket, testHooks: true });
      const pod = node.addPod();
      // The agent kills itself (SIGKILL) right after the attach step: veth, routes, lease, map
      // entries and link exist; the answer never comes.
      const run = await runShim(node, scratch, 'ADD', config, { socket, containerId: pod.containerId, netns: pod.path, env: { SLUICE_FAIL_AT_STEP: 'attach:crash' } });
      assert.equal(await agent.exited, 'SIGKILL');
      assert.equal(run.code, 0, `${run.stdout}${run.stderr}`);
      assert.match(run.stderr, /lost after it was accepted/);
      assert.match(run.stderr, /standalone plugin .* for DEL/);
      assert.match(run.stderr, /adding again/);
      // One attachment, one lease: nothing of the first attempt is left over.
      // (host-local's allocator moves on: the new lease is the next address.)
      const ip = address(run.json);
      assert.deepEqual(leases(node), [`${NETWORK}/${ip}`], 'the first lease was released');
      assert.deepEqual(node.snapshot().maps.endpoints_v4, [ip]);
      assert.equal(node.snapshot().state.filter((f) => f.startsWith('ebpf/endpoints/') && f.endsWith('.json')).length, 1);
      assert.equal(await ping(node.ns, ip, { count: 1 }), 1);

      // The next agent replaces the dead one's socket and serves the DEL.
      const next = await startAgent(node, { socket });
      const del = await runShim(node, scratch, 'DEL', config, { socket, containerId: pod.containerId, netns: pod.path });
      assert.deepEqual([del.code, shimPath(del)], [0, 'agent']);
      assert.deepEqual(leases(node), []);
      assert.equal(await next.stop(), 0, next.output());
    });
  } finally {
    scratch.cleanup();
  }
});

type FakeMode = 'drop-before-accepted' | 'drop-after-accepted';

/** A peer on the socket that reads each request whole, then drops it as told (and keeps what it read). */
async function fakeAgent(path: string, mode: (n: number) => FakeMode): Promise<{ requests: any[]; close(): Promise<void> }> {
  const requests: any[] = [];
  const server = createServer((socket: Socket) => {
    socket.on('error', () => undefined);
    const reader = new FrameReader(8 << 20);
    socket.on('data', (d: Buffer) => {
      for (const frame of reader.push(d)) {
        requests.push(parseRequest(frame));
        if (mode(requests.length) === 'drop-after-accepted') socket.write(encodeFrame({ accepted: true }), () => socket.destroy());
        else socket.destroy();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return { requests, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

kernelTest('a peer that drops calls: retried before "accepted"; after it, DEL is run again and ADD undone and redone', async () => {
  const scratch = new Scratch();
  try {
    await withNode(async (node) => {
      const config = builtinConfig(node);
      const weird = 'quotes " and \\ backslash, a\nnewline, a\ttab, é, €, 🙂';

      // Dropped before "accepted", every time: three attempts, then the standalone plugin.
      const before = scratch.path('before.sock');
      const dropper = await fakeAgent(before, () => 'drop-before-accepted');
      const version = await runShim(node, scratch, 'VERSION', '{"cniVersion":"0.3.1"}', { socket: before, env: { WEIRD: weird } });
      await dropper.close();
      assert.equal(version.code, 0);
      assert.equal(JSON.parse(version.stdout).cniVersion, '0.3.1');
      assert.equal(shimPath(version), 'standalone');
      assert.equal(dropper.requests.length, 3);
      // What the shim sent: every variable, exactly; stdin, exactly.
      const sent = dropper.requests[0];
      assert.equal(sent.env.WEIRD, weird);
      assert.equal(sent.env.CNI_COMMAND, 'VERSION');
      assert.equal(sent.stdin.toString(), '{"cniVersion":"0.3.1"}');

      // DEL dropped after "accepted": run again (the agent once more, then the plugin).
      const afterSock = scratch.path('after.sock');
      const acceptor = await fakeAgent(afterSock, () => 'drop-after-accepted');
      const pod = node.addPod();
      const del = await runShim(node, scratch, 'DEL', config, { socket: afterSock, containerId: pod.containerId, netns: pod.path });
      await acceptor.close();
      assert.equal(del.code, 0, del.stdout);
      assert.equal(acceptor.requests.length, 2);
      assert.equal(shimPath(del), 'standalone');

      // ADD dropped after "accepted", then the peer goes away: DEL and ADD again, by the plugin.
      const vanishing = scratch.path('vanishing.sock');
      const onceAccepting = await fakeAgent(vanishing, (n) => (n === 1 ? 'drop-after-accepted' : 'drop-before-accepted'));
      const add = runShim(node, scratch, 'ADD', config, { socket: vanishing, containerId: pod.containerId, netns: pod.path });
      await until('the ADD reached the peer', () => onceAccepting.requests.length >= 1);
      await onceAccepting.close();
      const added = await add;
      assert.equal(added.code, 0, `${added.stdout}${added.stderr}`);
      assert.match(added.stderr, /lost after it was accepted/);
      assert.match(added.stderr, /adding again/);
      assert.equal(await ping(node.ns, address(added.json), { count: 1 }), 1);
      const cleanup = await runShim(node, scratch, 'DEL', config, { socket: vanishing, containerId: pod.containerId, netns: pod.path });
      assert.equal(cleanup.code, 0);
      assert.deepEqual(leases(node), []);
    });
  } finally {
    scratch.cleanup();
  }
});
