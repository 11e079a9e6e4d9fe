// The agent's deferred attach (src/daemon/promoter.ts): ADD answers with the pod's host veth in the
// spoof guard and no TCX link yet; a spoofed packet from the pod is dropped on the node meanwhile (and
// gets through once the guard is lifted, so the check can fail); CHECK accepts it; once the agent is
// quiet the link is attached and the guard lifted; an agent started later finishes what an earlier one
// left deferred; DEL of a pod still waiting leaves nothing behind.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { before } from 'node:test';
import { Datapath } from '../../src/bpf/datapath.js';
import { PinPaths } from '../../src/bpf/pins.js';
import { SpoofGuard } from '../../src/datapath/spoof-guard.js';
import { EndpointState } from '../../src/datapath/state.js';
import { ping } from '../support/bpf.js';
import { kernelTest } from '../support/kernel.js';
import { ensureShim, runShim, Scratch, shimPath, startAgent, until, type AgentProcess } from '../support/agent.js';
import { nothingLeftAfterAll, type Pod, POD_SUBNET_V4, POD_SUBNET_V6, type SimNode, withNode } from '../support/plugin.js';

before(() => void ensureShim());
nothingLeftAfterAll();

const NEVER = ['--promote-quiet', '3600000'];
const SOON = ['--promote-quiet', '20'];

function configOf(node: SimNode): Record<string, unknown> {
  return node.config({ cniVersion: '1.1.0', ipv6: true, overrides: { ipam: { type: 'sluice', dataDir: node.ipamDir, ranges: [[{ subnet: POD_SUBNET_V4 }], [{ subnet: POD_SUBNET_V6 }]] } } });
}

async function add(node: SimNode, scratch: Scratch, socket: string, pod: Pod, id: string): Promise<any> {
  const run = await runShim(node, scratch, 'ADD', configOf(node), { socket, containerId: id, netns: pod.path });
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.equal(shimPath(run), 'agent');
  return JSON.parse(run.stdout);
}

function hostVethOf(result: any): string {
  return result.interfaces[0].name;
}

function guarded(node: SimNode, ifindex: number): boolean {
  const guard = SpoofGuard.open({ netns: node.ns });
  try {
    return guard.isGuarded(ifindex);
  } finally {
    guard.close();
  }
}

function ifindexOf(node: SimNode, name: string): number {
  return node.ipJson<{ ifindex: number }[]>('link', 'show', 'dev', name)[0]!.ifindex;
}

/** Echo requests a pod's kernel has received, IPv4 and IPv6 (from /proc/net/snmp and snmp6 in its namespace). */
function echoesReceived(pod: Pod): { v4: number; v6: number } {
  const snmp = execFileSync('ip', ['netns', 'exec', pod.name, 'cat', '/proc/net/snmp', '/proc/net/snmp6'], { encoding: 'utf8' });
  const lines = snmp.split('\n');
  const icmp = lines.filter((l) => l.startsWith('Icmp:'));
  const v4 = Number(icmp[1]!.split(/\s+/)[icmp[0]!.split(/\s+/).indexOf('InEchos')]);
  const v6 = Number(/^Icmp6InEchos\s+(\d+)/m.exec(snmp)![1]);
  return { v4, v6 };
}

async function status(agent: AgentProcess, node: SimNode, socket: string): Promise<any> {
  const out = execFileSync('nsenter', [`--net=${node.path}`, process.execPath, new URL('../../src/cli/main.js', import.meta.url).pathname, 'status', '--json', '--socket', socket, '--pin-root', node.pinRoot], { encoding: 'utf8' });
  return JSON.parse(out).agent;
}

kernelTest('ADD answers before the TCX link; the spoof guard covers the pod until the agent attaches it', async () => {
  const scratch = new Scratch();
  try {
    await withNode(async (node) => {
      const socket = scratch.path('sluice.sock');
      let agent = await startAgent(node, { socket, args: NEVER });
      const [a, b] = [node.addPod(), node.addPod()] as [Pod, Pod];
      try {
        const ra = await add(node, scratch, socket, a, 'deferred-a');
        const rb = await add(node, scratch, socket, b, 'deferred-b');
        const paths = new PinPaths(node.pinRoot);
        const store = new EndpointState(node.stateDir);
        const [vethA, vethB] = [hostVethOf(ra), hostVethOf(rb)];
        assert.equal(existsSync(paths.link(vethA, 'ingress')), false, 'no TCX link yet');
        assert.deepEqual(store.read(vethA)?.deferredAttach, { pinRoot: node.pinRoot });
        assert.equal(guarded(node, ifindexOf(node, vethA)), true, 'the host veth is guarded');

        const bV4 = rb.ips[0].address.split('/')[0];
        const bV6 = rb.ips[1].address.split('/')[0];
        assert.equal(await ping(a.ns, bV4, { count: 2 }), 2, 'the pods reach each other through the kernel meanwhile');
        assert.equal(await ping(a.ns, bV6, { count: 2 }), 2);

        // Spoofed sources from pod a: not routed back through a's host veth, so the guard drops them.
        a.ip('addr', 'add', '10.252.0.250/32', 'dev', 'eth0');
        a.ip('addr', 'add', 'fd00:252::fa/128', 'dev', 'eth0', 'nodad');
        const before = echoesReceived(b);
        await ping(a.ns, bV4, { count: 3, source: '10.252.0.250', waitMs: 200 });
        await ping(a.ns, bV6, { count: 3, source: 'fd00:252::fa', waitMs: 200 });
        assert.deepEqual(echoesReceived(b), before, 'no spoofed echo request reached pod b');

        const check = await runShim(node, scratch, 'CHECK', { ...configOf(node), prevResult: ra }, { socket, containerId: 'deferred-a', netns: a.path });
        assert.equal(check.code, 0, `CHECK accepts a deferred attach under the guard: ${check.stdout}`);

        // The same spoofed packets with the guard lifted get through: the check above can fail.
        const guard = SpoofGuard.open({ netns: node.ns });
        guard.release(ifindexOf(node, vethA));
        guard.close();
        await ping(a.ns, bV4, { count: 3, source: '10.252.0.250', waitMs: 200 });
        await ping(a.ns, bV6, { count: 3, source: 'fd00:252::fa', waitMs: 200 });
        const unguarded = echoesReceived(b);
        assert.equal(unguarded.v4 - before.v4, 3, 'unguarded, the spoofed IPv4 echoes arrive');
        assert.equal(unguarded.v6 - before.v6, 3, 'unguarded, the spoofed IPv6 echoes arrive');
        const checkUnguarded = await runShim(node, scratch, 'CHECK', { ...configOf(node), prevResult: ra }, { socket, containerId: 'deferred-a', netns: a.path });
        assert.equal(checkUnguarded.code, 1);
        assert.match(checkUnguarded.stdout, /not attached yet .* spoof guard does not cover/);
        a.ip('addr', 'del', '10.252.0.250/32', 'dev', 'eth0');
        a.ip('addr', 'del', 'fd00:252::fa/128', 'dev', 'eth0');

        // An agent started later, quick to promote, finishes what this one, killed, left deferred.
        assert.equal(await agent.stop('SIGKILL'), 'SIGKILL');
        agent = await startAgent(node, { socket, args: SOON });
        await until('both links attached', async () => (await status(agent, node, socket)).deferredAttach.attached === 2);
        for (const veth of [vethA, vethB]) {
          assert.equal(existsSync(paths.link(veth, 'ingress')), true, `${veth} has its TCX link`);
          assert.equal(store.read(veth)?.deferredAttach, undefined, `${veth}'s record no longer says deferred`);
          assert.equal(guarded(node, ifindexOf(node, veth)), false, `${veth} is out of the guard`);
        }
        const dp = await Datapath.open({ pinRoot: node.pinRoot, netns: node.ns });
        try {
          const id = store.read(vethA)!.id;
          const egressBefore = dp.counters(id).egress.packets;
          assert.equal(await ping(a.ns, bV4, { count: 3 }), 3);
          assert.ok(dp.counters(id).egress.packets - egressBefore >= 3n, 'the program now sees pod a\'s packets');
        } finally {
          dp.close();
        }
        const checkAttached = await runShim(node, scratch, 'CHECK', { ...configOf(node), prevResult: ra }, { socket, containerId: 'deferred-a', netns: a.path });
        assert.equal(checkAttached.code, 0, checkAttached.stdout);

        for (const [pod, id] of [[a, 'deferred-a'], [b, 'deferred-b']] as const) {
          const del = await runShim(node, scratch, 'DEL', configOf(node), { socket, containerId: id, netns: pod.path });
          assert.equal(del.code, 0, del.stdout);
        }
        assert.deepEqual(store.list(), []);
        assert.deepEqual(node.snapshot().maps, { endpoints_v4: [], endpoints_v6: [], devices: [] });
      } finally {
        assert.equal(await agent.stop(), 0, agent.output());
      }
    });
  } finally {
    scratch.cleanup();
  }
});

kernelTest('DEL of a pod still waiting for its link leaves nothing, not even its guard element', async () => {
  const scratch = new Scratch();
  try {
    await withNode(async (node) => {
      const socket = scratch.path('sluice.sock');
      const agent = await startAgent(node, { socket, args: NEVER });
      try {
        const pod = node.addPod();
        const result = await add(node, scratch, socket, pod, 'waiting');
        const ifindex = ifindexOf(node, hostVethOf(result));
        assert.equal(guarded(node, ifindex), true);
        const del = await runShim(node, scratch, 'DEL', configOf(node), { socket, containerId: 'waiting', netns: pod.path });
        assert.equal(del.code, 0, del.stdout);
        assert.equal(guarded(node, ifindex), false, 'the guard element went with the attachment');
        assert.deepEqual(new EndpointState(node.stateDir).list(), []);
        assert.deepEqual(node.ipJson('link', 'show', 'type', 'veth').map((l: any) => l.ifname).sort(), ['up0', 'up1'], 'only the uplink is left');
      } finally {
        assert.equal(await agent.stop(), 0, agent.output());
      }
    });
  } finally {
    scratch.cleanup();
  }
});

kernelTest('an agent told to stop attaches what it deferred before it exits', async () => {
  const scratch = new Scratch();
  try {
    await withNode(async (node) => {
      const socket = scratch.path('sluice.sock');
      const agent = await startAgent(node, { socket, args: NEVER });
      const pod = node.addPod();
      const veth = hostVethOf(await add(node, scratch, socket, pod, 'stopping'));
      assert.equal(existsSync(new PinPaths(node.pinRoot).link(veth, 'ingress')), false);
      assert.equal(await agent.stop(), 0, agent.output());
      assert.equal(existsSync(new PinPaths(node.pinRoot).link(veth, 'ingress')), true, 'the link was attached on the way out');
      assert.equal(new EndpointState(node.stateDir).read(veth)?.deferredAttach, undefined);
      assert.equal(guarded(node, ifindexOf(node, veth)), false);
      const del = await runShim(node, scratch, 'DEL', configOf(node), { socket, containerId: 'stopping', netns: pod.path });
      assert.equal(del.code, 0, del.stdout);
    });
  } finally {
    scratch.cleanup();
  }
});

kernelTest('with --no-defer-attach the agent attaches the TCX link before answering', async () => {
  const scratch = new Scratch();
  try {
    await withNode(async (node) => {
      const socket = scratch.path('sluice.sock');
      const agent = await startAgent(node, { socket, args: ['--no-defer-attach'] });
      try {
        const pod = node.addPod();
        const result = await add(node, scratch, socket, pod, 'at-once');
        assert.equal(existsSync(new PinPaths(node.pinRoot).link(hostVethOf(result), 'ingress')), true);
        assert.equal(new EndpointState(node.stateDir).read(hostVethOf(result))?.deferredAttach, undefined);
        const del = await runShim(node, scratch, 'DEL', configOf(node), { socket, containerId: 'at-once', netns: pod.path });
        assert.equal(del.code, 0, del.stdout);
      } finally {
        assert.equal(await agent.stop(), 0, agent.output());
      }
    });
  } finally {
    scratch.cleanup();
  }
});
