/**
 * Pods the way a container runtime makes them: the plugin executable (dist/src/cli/main.js, what
 * /opt/cni/bin/sluice runs when no agent listens) started inside the node's namespace with the CNI_*
 * environment and the network config on stdin, its answer read from stdout.
 *
 * The network is embedded: mode ebpf, the built-in IPAM (`"type": "sluice"`) handing out one IPv4 and
 * (where the kernel has IPv6) one IPv6 address per pod, and every path of the node (pin root, state,
 * IPAM store, log) pointing into this run's own directories.
 */
import { fileURLToPath } from 'node:url';
import type { Cleanup } from './cleanup.js';
import { POD_SUBNET_V4, POD_SUBNET_V6, type RunNames } from './topology.js';
import { pluginAnswer } from '../cni/invoke.js';

export const NETWORK = 'sluice-demo';
const PLUGIN_MAIN = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const CNI_PATH = '/opt/cni/bin:/usr/lib/cni';

export function networkConfig(run: RunNames, ipv6: boolean): Record<string, unknown> {
  const ranges: unknown[] = [[{ subnet: POD_SUBNET_V4 }]];
  if (ipv6) ranges.push([{ subnet: POD_SUBNET_V6 }]);
  return {
    cniVersion: '1.1.0',
    name: NETWORK,
    type: 'sluice',
    mode: 'ebpf',
    pinRoot: run.pinRoot,
    stateDir: run.stateDir,
    logFile: run.logFile,
    logLevel: 'info',
    ipam: { type: 'sluice', dataDir: run.ipamDir, ranges },
  };
}

export interface PluginCall {
  command: 'ADD' | 'DEL' | 'CHECK';
  containerId: string;
  /** CNI_NETNS: the pod's namespace file. */
  netns?: string;
  ifname?: string;
}

export interface PluginAnswer {
  code: number | null;
  stdout: string;
  stderr: string;
  json: any;
  /** Wall time of the call, process start to exit. */
  ms: number;
}

/** Runs the plugin once inside the node namespace, as a runtime would. */
export async function runPlugin(cleanup: Cleanup, nodePath: string, config: Record<string, unknown>, call: PluginCall): Promise<PluginAnswer> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    CNI_COMMAND: call.command,
    CNI_CONTAINERID: call.containerId,
    CNI_IFNAME: call.ifname ?? 'eth0',
    CNI_PATH,
  };
  if (call.netns) env.CNI_NETNS = call.netns;
  const started = process.hrtime.bigint();
  const child = cleanup.spawn('nsenter', [`--net=${nodePath}`, process.execPath, PLUGIN_MAIN], { env });
  const answer = await pluginAnswer(child, JSON.stringify(config));
  return { ...answer, ms: Number(process.hrtime.bigint() - started) / 1e6 };
}

/** The CNI result's addresses of the pod's interface, and the host veth's name. */
export function describeResult(result: any): { addresses: string[]; hostVeth: string | undefined; mac: string | undefined } {
  const interfaces: { name: string; mac?: string; sandbox?: string }[] = result?.interfaces ?? [];
  const podIndex = interfaces.findIndex((i) => i.sandbox);
  return {
    addresses: (result?.ips ?? []).filter((ip: { interface?: number }) => ip.interface === podIndex).map((ip: { address: string }) => ip.address),
    hostVeth: interfaces.find((i) => !i.sandbox)?.name,
    mac: interfaces[podIndex]?.mac,
  };
}

/** The error a failed call printed (the spec's error object), in one line. */
export function describeFailure(answer: PluginAnswer): string {
  const error = answer.json as { code?: number; msg?: string; details?: string } | undefined;
  if (error?.msg) return `CNI error ${error.code}: ${error.msg}${error.details ? ` (${error.details})` : ''}`;
  return `exit status ${answer.code}: ${(answer.stdout + answer.stderr).trim() || 'no output'}`;
}
