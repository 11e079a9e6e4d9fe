// The four paths between two pods, each made of namespaces of the benchmark's own:
//   floor          two namespaces joined by one veth pair (no node, no CNI): what any veth-based CNI
//                  is measured against
//   bridge-plugin  a simulated node (test/support/plugin.ts) with two pods added by the reference
//                  bridge plugin (/usr/lib/cni/bridge, host-local IPAM, isGateway)
//   sluice-ebpf    a simulated node, two pods added by the sluice plugin in its default mode
//                  (routed veths, tc program, bpf_redirect_peer between local pods), built-in IPAM
//   sluice-bridge  a simulated node, two pods added by sluice in mode bridge (a Linux bridge)
// Every pod gets the same MTU. The plugins run inside the node namespace as a runtime runs them, as
// child processes of the cleanup (killed on Ctrl-C before their namespaces go).
import { execFileSync } from 'node:child_process';
import type { Cleanup } from '../../src/demo/cleanup.js';
import { pluginAnswer } from '../../src/cni/invoke.js';
import { createNamed, deleteNamed } from '../../src/netns.js';
import type { NetNs } from '../../src/netns.js';
import { uniqueName } from '../../test/support/kernel.js';
import { PLUGIN_MAIN, SimNode, type Pod } from '../../test/support/plugin.js';
import type { SetupId } from './results.js';
import { CNI_BIN_DIR } from './tools.js';
import type { PodPair } from './traffic.js';

export const POD_SUBNET = '10.252.0.0/24';
const FLOOR_ADDRESSES = ['10.253.0.1', '10.253.0.2'] as const;

export interface Setup {
  id: SetupId;
  pair: PodPair;
  /** The node's namespace, where the rules go; none for the floor. */
  node?: { name: string; path: string; ns: NetNs };
  /** Pod-to-pod frames are switched by a Linux bridge on the node (else routed, or no node at all). */
  bridged: boolean;
}

/** What each setup's CNI call runs, and the network config it gets. */
const PLUGINS: Record<Exclude<SetupId, 'floor'>, { bridged: boolean; executable: (node: SimNode) => string[]; config: (node: SimNode, mtu: number) => Record<string, unknown> }> = {
  'bridge-plugin': {
    bridged: true,
    executable: () => [`${CNI_BIN_DIR}/bridge`],
    config: (node, mtu) => ({
      cniVersion: '1.0.0', name: 'bench', type: 'bridge', bridge: 'cni-bench0', isGateway: true, mtu,
      ipam: { type: 'host-local', dataDir: node.ipamDir, ranges: [[{ subnet: POD_SUBNET }]] },
    }),
  },
  'sluice-ebpf': {
    bridged: false,
    executable: () => [process.execPath, PLUGIN_MAIN],
    config: (node, mtu) => sluiceConfig(node, mtu, {}),
  },
  'sluice-bridge': {
    bridged: true,
    executable: () => [process.execPath, PLUGIN_MAIN],
    config: (node, mtu) => sluiceConfig(node, mtu, { mode: 'bridge', bridge: 'sl-bench0', isGateway: true }),
  },
};

function sluiceConfig(node: SimNode, mtu: number, extra: Record<string, unknown>): Record<string, unknown> {
  return {
    cniVersion: '1.0.0', name: 'bench', type: 'sluice', mtu, ...extra,
    pinRoot: node.pinRoot, stateDir: node.stateDir, logFile: node.logFile, logLevel: 'warn',
    ipam: { type: 'sluice', dataDir: node.ipamDir, ranges: [[{ subnet: POD_SUBNET }]] },
  };
}

/** CNI ADD of `pod` inside the node; returns the pod's IPv4 address. */
async function addPod(cleanup: Cleanup, node: SimNode, executable: string[], config: Record<string, unknown>, pod: Pod): Promise<string> {
  cleanup.check();
  const env = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    CNI_COMMAND: 'ADD', CNI_CONTAINERID: pod.containerId, CNI_NETNS: pod.path, CNI_IFNAME: 'eth0', CNI_PATH: CNI_BIN_DIR,
  };
  const child = cleanup.spawn('nsenter', [`--net=${node.path}`, ...executable], { env });
  const answer = await pluginAnswer(child, JSON.stringify(config));
  cleanup.check();
  const address = (answer.json?.ips as { address?: string }[] | undefined)?.map((ip) => ip.address?.split('/')[0]).find((a) => a && !a.includes(':'));
  if (answer.code !== 0 || !address) {
    const error = answer.json?.msg ? `${answer.json.msg}${answer.json.details ? ` (${answer.json.details})` : ''}` : (answer.stdout + answer.stderr).trim();
    throw new Error(`ADD of ${pod.containerId} with ${executable.at(-1)} failed (exit ${answer.code}): ${error.slice(0, 500)}`);
  }
  return address;
}

function floor(cleanup: Cleanup, mtu: number): Setup {
  const names = [uniqueName(), uniqueName()] as const;
  for (const name of names) {
    createNamed(name);
    cleanup.onClose(`deleting ${name}`, () => deleteNamed(name));
  }
  const [a, b] = names;
  const ip = (ns: string, lines: string[]) => execFileSync('ip', ['-n', ns, '-batch', '-'], { input: `${lines.join('\n')}\n`, encoding: 'utf8' });
  ip(a, ['link set lo up', `link add eth0 mtu ${mtu} type veth peer name eth0 mtu ${mtu} netns ${b}`, `addr add ${FLOOR_ADDRESSES[0]}/24 dev eth0`, 'link set eth0 up']);
  ip(b, ['link set lo up', `addr add ${FLOOR_ADDRESSES[1]}/24 dev eth0`, 'link set eth0 up']);
  return { id: 'floor', bridged: false, pair: { client: { path: `/run/netns/${a}` }, server: { path: `/run/netns/${b}`, ip: FLOOR_ADDRESSES[1] } } };
}

/** Makes one setup; everything it creates is removed by the cleanup's teardown. */
export async function createSetup(cleanup: Cleanup, id: SetupId, mtu: number): Promise<Setup> {
  cleanup.check();
  if (id === 'floor') return floor(cleanup, mtu);
  const plugin = PLUGINS[id];
  const node = new SimNode();
  cleanup.onClose(`removing node ${node.name} (its pods, pin root and directories)`, () => node.cleanup());
  const executable = plugin.executable(node);
  const config = plugin.config(node, mtu);
  const client = node.addPod();
  const server = node.addPod();
  await addPod(cleanup, node, executable, config, client);
  const serverIp = await addPod(cleanup, node, executable, config, server);
  return {
    id,
    bridged: plugin.bridged,
    node: { name: node.name, path: node.path, ns: node.ns },
    pair: { client: { path: client.path }, server: { path: server.path, ip: serverIp } },
  };
}
