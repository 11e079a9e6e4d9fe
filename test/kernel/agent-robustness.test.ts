// The agent process (`sluice daemon`) in a simulated node, against clients that misbehave: garbage,
// half-written and huge requests, clients that vanish mid-request or mid-call, unprivileged peers;
// and against concurrency: two calls for one container, many containers at once. After each, the
// agent still serves real calls, and it stops cleanly (exit 0, no error logged).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { createConnection } from 'node:net';
import { before } from 'node:test';
import { cniRequestFrame, encodeFrame, FrameReader } from '../../src/daemon/protocol.js';
import { ping } from '../support/bpf.js';
import { kernelTest } from '../support/kernel.js';
import { nothingLeftAfterAll, type Pod, POD_SUBNET_V4, type SimNode, withNode } from '../support/plugin.js';
import { ensureShim, gateIpam, runShim, Scratch, SHIM, shimPath, startAgent, until, type AgentProcess } from '../support/agent.js';

before(() => void ensureShim());
nothingLeftAfterAll();

const NOBODY = 65534;

/** A node, a scratch directory and an agent, all removed afterwards. */
async function withAgent(fn: (node: SimNode, scratch: Scratch, agent: AgentProcess) => Promise<void>, args: string[] = []): Promise<void> {
  const scratch = new Scratch();
  try {
    await withNode(async (node) => {
      const agent = await startAgent(node, { socket: scratch.path('sluice.sock'), args });
      try {
        await fn(node, scratch, agent);
      } finally {
        const code = await agent.stop();
        assert.equal(code, 0, agent.output());
        assert.deepEqual(agent.records().filter((r) => r.level >= 50).map((r) => r.msg), [], 'the agent logged no error');
      }
    });
  } finally {
    scratch.cleanup();
  }
}

function builtinConfig(node: SimNode): Record<string, unknown> {
  return node.config({ overrides: { ipam: { type: 'sluice', dataDir: node.ipamDir, ranges: [[{ subnet: POD_SUBNET_V4 }]] } } });
}

/** ADD through the shim must go to the agent and succeed; returns the result. */
async function addViaAgent(node: SimNode, scratch: Scratch, agent: AgentProcess, pod: Pod, config = builtinConfig(node)): Promise<any> {
  const run = await runShim(node, scratch, 'ADD', config, { socket: agent.socket, containerId: pod.containerId, netns: pod.path });
  assert.equal(run.code, 0, `${run.stdout}${run.stderr}`);
  assert.equal(shimPath(run), 'agent', run.stderr);
  return run.json;
}

/** Sends raw bytes; collects the frames answered until the agent closes. `then` ends or drops the connection after sending. */
function raw(path: string, bytes: Buffer, then: 'end' | 'keep' | 'destroy' = 'keep'): Promise<any[]> {
  return new Promise((resolve) => {
    const socket = createConnection(path);
    const reader = new FrameReader(1 << 20);
    const frames: any[] = [];
    socket.on('error', () => undefined);
    socket.on('connect', () => {
      socket.write(bytes, () => undefined);
      if (then === 'end') socket.end();
      if (then === 'destroy') socket.destroy();
    });
    socket.on('data', (d: Buffer) => frames.push(...reader.push(d).map((f) => JSON.parse(f.toString()))));
    socket.on('close', () => resolve(frames));
  });
}

const cniError = (frames: any[]) => (frames.length === 1 && frames[0].exitCode === 1 ? JSON.parse(frames[0].stdout) : { unexpected: frames });

kernelTest('garbage, half-written, huge and abandoned requests are answered or dropped, and the agent keeps serving', async () => {
  await withAgent(async (node, scratch, agent) => {
    const [first, second] = [node.addPod(), node.addPod()];
    await addViaAgent(node, scratch, agent, first!);

    assert.equal(cniError(await raw(agent.socket, Buffer.from('\0\0\0\x10{{{{{{{{{{{{{{{{'))).code, 6);
    assert.match(cniError(await raw(agent.socket, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))).msg, /too large/);
    assert.match(cniError(await raw(agent.socket, Buffer.alloc(64 << 10, 0xff))).msg, /too large/);
    // A whole frame just over the limit (4 MiB by default), actually sent.
    const huge = cniRequestFrame({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'huge' }, Buffer.alloc(4 << 20, 0x20));
    assert.match(cniError(await raw(agent.socket, huge)).details, /at most 4194304/);
    const frame = cniRequestFrame({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: second!.containerId, CNI_NETNS: second!.path, CNI_IFNAME: 'eth0', CNI_PATH: '/usr/lib/cni' }, Buffer.from(JSON.stringify(builtinConfig(node))));
    assert.match(cniError(await raw(agent.socket, frame.subarray(0, frame.length - 1), 'end')).msg, /incomplete request/);
    assert.deepEqual(await raw(agent.socket, frame.subarray(0, 100), 'destroy'), []);
    assert.deepEqual(await raw(agent.socket, Buffer.alloc(0), 'destroy'), []);
    assert.deepEqual(second!.ipJson('link', 'show').map((l: { ifname: string }) => l.ifname), ['lo'], 'no partial request was run');

    // The real thing still works, and the first pod still has its network.
    const result = await addViaAgent(node, scratch, agent, second!);
    assert.equal(await ping(second!.ns, '10.252.0.2', { count: 1 }), 1);
    assert.equal(result.ips[0].address, '10.252.0.3/32');
    const status = await raw(agent.socket, encodeFrame({ version: 1, op: 'status' }));
    // Seven: a client gone before its request was whole looks like one that stopped writing (the agent
    // sees the end of the stream either way) and counts as an incomplete request.
    assert.equal(status[0].result.requests.badRequests, 7);
    assert.equal(status[0].result.requests.served, 2);
    for (const pod of [first!, second!]) assert.equal((await runShim(node, scratch, 'DEL', builtinConfig(node), { socket: agent.socket, containerId: pod.containerId, netns: pod.path })).code, 0);
  });
});

kernelTest('a client that leaves during ADD: the ADD completes, and the next call for the container finds it', async () => {
  const scratch = new Scratch();
  try {
    await withNode(async (node) => {
      const agent = await startAgent(node, { socket: scratch.path('sluice.sock') });
      const gate = gateIpam(scratch);
      try {
        const pod = node.addPod();
        const config = node.config({ overrides: { ipam: { type: gate.type, dataDir: node.ipamDir, ranges: [[{ subnet: POD_SUBNET_V4 }]] } } });
        const env = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: pod.containerId, CNI_NETNS: pod.path, CNI_IFNAME: 'eth0', CNI_PATH: gate.cniPath, GATE_DIR: gate.dir, PATH: process.env.PATH ?? '/usr/bin:/bin' };
        const socket = createConnection(agent.socket);
        socket.on('error', () => undefined);
        const accepted = new Promise<void>((resolve) => socket.once('data', () => resolve()));
        socket.write(cniRequestFrame(env, Buffer.from(JSON.stringify(config))));
        await accepted;
        await until('the ADD is in its IPAM call', () => gate.started(pod.containerId));
        socket.destroy();
        // The DEL a runtime would send next queues behind the ADD.
        const del = runShim(node, scratch, 'DEL', config, { socket: agent.socket, containerId: pod.containerId, netns: pod.path, env: { CNI_PATH: gate.cniPath, GATE_DIR: gate.dir } });
        gate.open(pod.containerId);
        const out = await del;
        assert.equal(out.code, 0, out.stdout);
        assert.equal(shimPath(out), 'agent');
        assert.ok(agent.records().some((r) => r.msg?.includes('the answer lost')), 'the lost answer is logged');
        assert.deepEqual(pod.ipJson('link', 'show').map((l: { ifname: string }) => l.ifname), ['lo'], 'the DEL ran after the ADD, and removed it');
        assert.deepEqual(node.snapshot().maps, { endpoints_v4: [], endpoints_v6: [], devices: [] });
      } finally {
        gate.openAll();
        assert.equal(await agent.stop(), 0, agent.output());
      }
    });
  } finally {
    scratch.cleanup();
  }
});

/** Runs the shim as uid/gid 65534 in the node (setpriv), as an unprivileged runtime would. */
function shimAsNobody(node: SimNode, scratch: Scratch, socket: string, stdin: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('nsenter', [`--net=${node.path}`, 'setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', SHIM], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', CNI_COMMAND: 'VERSION', SLUICE_SOCKET: socket, SLUICE_PLUGIN: scratch.launcher, SLUICE_SHIM_DEBUG: '1' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

kernelTest('unprivileged peers: shut out by the socket mode, refused by SO_PEERCRED, served when allowed', async () => {
  await withAgent(async (node, scratch, agent) => {
    // The socket is 0600 in a 0700 directory: nobody cannot even connect, and runs the plugin itself.
    const shut = await shimAsNobody(node, scratch, agent.socket, '{"cniVersion":"1.0.0"}');
    assert.match(shut.stderr, /no agent: Permission denied/);
    assert.equal(shimPath({ ...shut, json: undefined }), 'standalone');

    // With the file modes opened, the agent's own check refuses the peer, and says who it was.
    chmodSync(scratch.dir, 0o755);
    chmodSync(agent.socket, 0o666);
    const refused = await shimAsNobody(node, scratch, agent.socket, '{"cniVersion":"1.0.0"}');
    assert.equal(refused.code, 1);
    const error = JSON.parse(refused.stdout);
    assert.equal(error.msg, 'permission denied by the sluice agent');
    assert.match(error.details, new RegExp(`uid ${NOBODY} `));
    assert.ok(agent.records().some((r) => r.msg === 'refused a client that is not allowed' && r.peer?.uid === NOBODY));

    // Root is still served.
    const pod = node.addPod();
    await addViaAgent(node, scratch, agent, pod);
    assert.equal((await runShim(node, scratch, 'DEL', builtinConfig(node), { socket: agent.socket, containerId: pod.containerId, netns: pod.path })).code, 0);
  });

  // An agent told to serve uid 65534 does.
  await withAgent(async (node, scratch, agent) => {
    chmodSync(scratch.dir, 0o755);
    chmodSync(agent.socket, 0o666);
    const served = await shimAsNobody(node, scratch, agent.socket, '{"cniVersion":"0.4.0"}');
    assert.equal(served.code, 0, served.stdout);
    assert.match(served.stderr, /answered/);
    assert.equal(JSON.parse(served.stdout).cniVersion, '0.4.0');
  }, ['--allow-uid', String(NOBODY)]);
});

kernelTest('two calls for one container are serialised; many containers run at once', async () => {
  const scratch = new Scratch();
  try {
    await withNode(async (node) => {
      const agent = await startAgent(node, { socket: scratch.path('sluice.sock') });
      const gate = gateIpam(scratch);
      try {
        const config = node.config({ overrides: { ipam: { type: gate.type, dataDir: node.ipamDir, ranges: [[{ subnet: POD_SUBNET_V4 }]] } } });
        const gated = { CNI_PATH: gate.cniPath, GATE_DIR: gate.dir };
        const pod = node.addPod();
        const call = (command: string) => runShim(node, scratch, command, config, { socket: agent.socket, containerId: pod.containerId, netns: pod.path, env: gated });

        // ADD held in its IPAM call; a second ADD and a DEL for the same container arrive meanwhile.
        const add = call('ADD');
        await until('the first ADD is in its IPAM call', () => gate.started(pod.containerId));
        const again = call('ADD');
        await until('the second ADD is queued', () => countAccepted(agent) >= 2);
        const del = call('DEL');
        await until('the DEL is queued', () => countAccepted(agent) >= 3);
        // The first ADD made its veth while its IPAM call runs (a background step), and holds before
        // the addresses; the second ADD and the DEL have not run.
        const held = pod.ipJson<{ ifname: string; addr_info: unknown[] }[]>('addr', 'show').map((l) => [l.ifname, l.addr_info]);
        assert.deepEqual(held.filter(([name]) => name !== 'lo'), [['eth0', []]], 'one eth0, without addresses yet');
        gate.open(pod.containerId);
        const [first, second, removed] = await Promise.all([add, again, del]);
        assert.equal(first.code, 0, first.stdout);
        assert.equal(second.code, 1, 'the second ADD ran after the first, and found its veth');
        assert.match(second.json.msg, /already exists/);
        assert.equal(removed.code, 0, removed.stdout);
        assert.deepEqual(pod.ipJson('link', 'show').map((l: { ifname: string }) => l.ifname), ['lo'], 'the DEL ran last');

        // Sixteen pods at once, through sixteen shims: all served by the agent, distinct addresses.
        const plain = builtinConfig(node);
        const pods = Array.from({ length: 16 }, () => node.addPod());
        const runs = await Promise.all(pods.map((p) => runShim(node, scratch, 'ADD', plain, { socket: agent.socket, containerId: p.containerId, netns: p.path })));
        assert.deepEqual(runs.map((r) => [r.code, shimPath(r)]), runs.map(() => [0, 'agent']), runs.map((r) => r.stdout).join('\n'));
        const addresses = runs.map((r) => r.json.ips[0].address);
        assert.equal(new Set(addresses).size, 16);
        assert.equal(await ping(pods[0]!.ns, addresses[15].split('/')[0], { count: 1 }), 1);
        const dels = await Promise.all(pods.map((p) => runShim(node, scratch, 'DEL', plain, { socket: agent.socket, containerId: p.containerId, netns: p.path })));
        assert.deepEqual(dels.map((r) => r.code), dels.map(() => 0));
        assert.deepEqual(node.snapshot().maps, { endpoints_v4: [], endpoints_v6: [], devices: [] });
      } finally {
        gate.openAll();
        assert.equal(await agent.stop(), 0, agent.output());
      }
    });
  } finally {
    scratch.cleanup();
  }
});

/** CNI calls the agent has accepted so far, from its log. */
function countAccepted(agent: AgentProcess): number {
  return agent.records().filter((r) => r.msg === 'call accepted').length;
}
