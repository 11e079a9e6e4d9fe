// The native shim against a live agent, and the same shim with no agent (so the standalone plugin),
// give the same answers: the same calls, in the same order, on two fresh simulated nodes, compared
// answer by answer (exit status and stdout, with what differs by nature — MAC addresses, the pods'
// namespace paths — normalised). Results, errors of every layer, CHECK, STATUS, GC, DEL.
import assert from 'node:assert/strict';
import { before } from 'node:test';
import { ping } from '../support/bpf.js';
import { kernelTest } from '../support/kernel.js';
import { nothingLeftAfterAll, type Pod, POD_SUBNET_V4, POD_SUBNET_V6, type SimNode, withNode } from '../support/plugin.js';
import { ensureShim, runShim, Scratch, shimPath, startAgent } from '../support/agent.js';

before(() => void ensureShim());
nothingLeftAfterAll();

interface Answer {
  step: string;
  code: number | null;
  stdout: string;
  path: 'agent' | 'standalone';
}

/** The calls a runtime could make, good and bad; the answers normalised for comparison. */
async function scenario(node: SimNode, scratch: Scratch, socket: string): Promise<{ answers: Answer[]; pods: Pod[] }> {
  const pods = [node.addPod(), node.addPod(), node.addPod()];
  const [a, b, c] = pods as [Pod, Pod, Pod];
  const ids = { [a.path]: '<pod a>', [b.path]: '<pod b>', [c.path]: '<pod c>' };
  const config = node.config({ cniVersion: '1.1.0', ipv6: true, overrides: { ipam: { type: 'sluice', dataDir: node.ipamDir, ranges: [[{ subnet: POD_SUBNET_V4 }], [{ subnet: POD_SUBNET_V6 }]] } } });
  const old = { ...config, cniVersion: '0.4.0' };
  const answers: Answer[] = [];
  const normalise = (s: string) => {
    let out = s.replace(/([0-9a-f]{2}:){5}[0-9a-f]{2}/g, '<mac>');
    for (const [path, name] of Object.entries(ids)) out = out.replaceAll(path, name);
    return out;
  };
  const call = async (step: string, command: string, stdin: Record<string, unknown> | string | Buffer, extra: Parameters<typeof runShim>[4] extends infer C ? Omit<C & object, 'socket'> : never = {}) => {
    const run = await runShim(node, scratch, command, stdin, { socket, ...extra });
    answers.push({ step, code: run.code, stdout: normalise(run.stdout), path: shimPath(run) });
    return run;
  };
  const at = (pod: Pod, id: string) => ({ containerId: id, netns: pod.path });

  await call('VERSION', 'VERSION', '{"cniVersion":"0.4.0"}');
  const added = await call('ADD a', 'ADD', config, at(a, 'parity-a'));
  await call('ADD b, 0.4.0', 'ADD', old, at(b, 'parity-b'));
  assert.equal(await ping(a.ns, '10.252.0.3', { count: 1 }), 1, 'the pods reach each other');
  await call('ADD a again', 'ADD', config, at(a, 'parity-a'));
  await call('ADD without CNI_NETNS', 'ADD', config, { containerId: 'parity-c' });
  await call('ADD, netns not a namespace', 'ADD', config, { containerId: 'parity-c', netns: '/proc/self/status' });
  await call('ADD, unknown field', 'ADD', { ...config, frobnicate: true }, at(b, 'parity-c'));
  await call('ADD, bad mtu', 'ADD', { ...config, mtu: 12 }, at(b, 'parity-c'));
  await call('ADD, not UTF-8', 'ADD', Buffer.concat([Buffer.from('{"cniVersion":"1.0.0","name":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]), at(b, 'parity-c'));
  await call('ADD, not JSON', 'ADD', 'this is not JSON', at(b, 'parity-c'));
  await call('ADD, no config', 'ADD', '', at(b, 'parity-c'));
  await call('ADD, unsupported version', 'ADD', { ...config, cniVersion: '2.0.0' }, at(b, 'parity-c'));
  // Built-in IPAM failures (with the agent, its allocation runs on a worker thread: the error must come back whole).
  await call('ADD, requested address in no range', 'ADD', { ...config, args: { cni: { ips: ['10.99.0.5'] } } }, at(c, 'parity-c'));
  await call('ADD, requested address not an address', 'ADD', { ...config, args: { cni: { ips: ['ten'] } } }, at(c, 'parity-c'));
  await call('unknown command', 'FROB', config, at(a, 'parity-a'));
  await call('CHECK a', 'CHECK', { ...config, prevResult: JSON.parse(added.stdout) }, at(a, 'parity-a'));
  await call('CHECK a, wrong prevResult', 'CHECK', { ...config, prevResult: { ...JSON.parse(added.stdout), ips: [{ address: '10.252.0.99/32', interface: 1 }] } }, at(a, 'parity-a'));
  await call('STATUS', 'STATUS', config);
  await call('GC keeping a', 'GC', { ...config, 'cni.dev/valid-attachments': [{ containerID: 'parity-a', ifname: 'eth0' }] });
  await call('DEL a', 'DEL', config, at(a, 'parity-a'));
  await call('DEL a again', 'DEL', config, at(a, 'parity-a'));
  await call('DEL b, namespace gone', 'DEL', old, { containerId: 'parity-b', netns: '/run/netns/sl-gone-for-good' });
  return { answers, pods };
}

kernelTest('the shim gives the same answers with a live agent and with none (the standalone plugin)', async () => {
  const scratch = new Scratch();
  try {
    const viaAgent = await withNode(async (node) => {
      const socket = scratch.path('sluice.sock');
      const agent = await startAgent(node, { socket });
      try {
        const { answers } = await scenario(node, scratch, socket);
        assert.deepEqual(node.snapshot().maps, { endpoints_v4: [], endpoints_v6: [], devices: [] }, 'everything deleted');
        return answers;
      } finally {
        assert.equal(await agent.stop(), 0, agent.output());
      }
    });
    const standalone = await withNode(async (node) => (await scenario(node, scratch, scratch.path('nobody-listens.sock'))).answers);

    assert.deepEqual(viaAgent.filter((a) => a.path !== 'agent').map((a) => a.step), [], 'every call went to the agent');
    assert.deepEqual(standalone.filter((a) => a.path !== 'standalone').map((a) => a.step), [], 'every call ran the standalone plugin');
    const strip = (list: Answer[]) => list.map(({ step, code, stdout }) => ({ step, code, stdout }));
    assert.deepEqual(strip(viaAgent), strip(standalone));

    // The answers are the ones expected, not just equal.
    const byStep = Object.fromEntries(viaAgent.map((a) => [a.step, a]));
    const json = (step: string) => JSON.parse(byStep[step]!.stdout);
    assert.deepEqual(json('VERSION'), { cniVersion: '0.4.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
    assert.deepEqual(json('ADD a').ips.map((i: { address: string }) => i.address), ['10.252.0.2/32', 'fd00:252::2/128']);
    assert.equal(json('ADD b, 0.4.0').cniVersion, '0.4.0');
    assert.equal(json('ADD b, 0.4.0').ips[0].version, '4', 'the 0.4.0 shape');
    assert.match(json('ADD, requested address in no range').msg, /requested IP address 10\.99\.0\.5 not in any range set/);
    assert.match(json('ADD, requested address in no range').details ?? '', /range sets: /, 'the details stay apart from msg');
    const codes = Object.fromEntries(viaAgent.filter((a) => a.code !== 0).map((a) => [a.step, json(a.step).code]));
    assert.deepEqual(codes, {
      'ADD a again': 999,
      'ADD without CNI_NETNS': 4,
      'ADD, netns not a namespace': 4,
      'ADD, unknown field': 2,
      'ADD, bad mtu': 7,
      'ADD, not UTF-8': 6,
      'ADD, not JSON': 6,
      'ADD, no config': 6,
      'ADD, unsupported version': 1,
      'ADD, requested address in no range': 999,
      'ADD, requested address not an address': 7,
      'unknown command': 4,
      'CHECK a, wrong prevResult': 999,
    });
    for (const step of ['CHECK a', 'STATUS', 'GC keeping a', 'DEL a', 'DEL a again', 'DEL b, namespace gone']) {
      assert.deepEqual({ step, code: byStep[step]!.code, stdout: byStep[step]!.stdout }, { step, code: 0, stdout: '' });
    }
  } finally {
    scratch.cleanup();
  }
});
