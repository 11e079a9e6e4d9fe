/**
 * The demo's world, all of it named after one run id so that it can be found and removed by name:
 *
 *   sluice-demo-<id>-node         a network namespace playing the node: loopback, and eth0 (one end
 *                                 of a veth pair) with the node's addresses and default routes; the pods'
 *                                 host veths, routes and the TCX links live here
 *   sluice-demo-<id>-pod<n>       one namespace per pod (loopback up, as a runtime leaves it)
 *   sluice-demo-<id>-veth<1|2>    two namespaces joined by one plain veth pair: the baseline
 *   /sys/fs/bpf/sluice-demo-<id>  the pin root of this run's eBPF program, maps and links
 *   /run/sluice-demo-<id>/        the plugin's state directory, the IPAM store, the log, and `owner`
 *                                 (the demo's pid, so a later run can clean up after a killed one)
 *
 * Nothing is created in the machine's own namespace: links are made through netlink sockets opened
 * inside the namespaces (the veth peers straight into theirs), and the routes and firewall of the
 * machine are never touched.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PinPaths, removePinRoot } from '../bpf/pins.js';
import { ipv6Available, readSysctl } from '../datapath/sysctl.js';
import { AF_INET6, openRtnl, type SyncClient } from '../netlink/client.js';
import { IFA_F } from '../netlink/rtnetlink/address.js';
import { createNamed, deleteNamed, listNamed, NetNs } from '../netns.js';
import { processExists, type Cleanup } from './cleanup.js';

export const PREFIX = 'sluice-demo-';
const BPFFS = '/sys/fs/bpf';
const RUN = '/run';

export const NODE_V4 = '10.250.0.1';
export const NODE_V6 = 'fd00:250::1';
export const POD_SUBNET_V4 = '10.244.0.0/24';
export const POD_SUBNET_V6 = 'fd00:244::/64';
/** The baseline pair's addresses (the two ends of one veth). */
export const VETH_V4 = ['10.99.0.1', '10.99.0.2'] as const;

export class RunNames {
  readonly prefix: string;
  readonly node: string;
  readonly runDir: string;
  readonly pinRoot: string;
  readonly stateDir: string;
  readonly ipamDir: string;
  readonly logFile: string;

  constructor(readonly id: string) {
    this.prefix = `${PREFIX}${id}`;
    this.node = `${this.prefix}-node`;
    this.runDir = join(RUN, this.prefix);
    this.pinRoot = join(BPFFS, this.prefix);
    this.stateDir = join(this.runDir, 'state');
    this.ipamDir = join(this.runDir, 'ipam');
    this.logFile = join(this.runDir, 'sluice.log');
  }

  pod(n: number): string {
    return `${this.prefix}-pod${n}`;
  }

  veth(n: 1 | 2): string {
    return `${this.prefix}-veth${n}`;
  }

  static fresh(): RunNames {
    return new RunNames(randomBytes(3).toString('hex'));
  }
}

/** The namespaces of a run that exist now. */
export function namespacesOf(run: RunNames): string[] {
  return listNamed().filter((n) => n.startsWith(`${run.prefix}-`));
}

/**
 * Removes everything of a run by name: its namespaces (whatever they hold goes with them: veths,
 * routes, sysctls, TCX links), its pin root, its run directory. Idempotent; returns what it removed.
 */
export function removeRun(run: RunNames): string[] {
  const removed: string[] = [];
  const namespaces = namespacesOf(run);
  for (const name of namespaces) {
    try {
      deleteNamed(name);
    } catch (err) {
      if ((err as { code?: string }).code !== 'ENOENT') throw err; // removed meanwhile
    }
  }
  if (namespaces.length) removed.push(`${namespaces.length} network namespace${namespaces.length === 1 ? '' : 's'} (${run.prefix}-*)`);
  if (existsSync(run.pinRoot)) {
    removePinRoot(new PinPaths(run.pinRoot));
    removed.push(`the pin root ${run.pinRoot}`);
  }
  if (existsSync(run.runDir)) {
    rmSync(run.runDir, { recursive: true, force: true });
    removed.push(`${run.runDir} (state, IPAM store, log)`);
  }
  return removed;
}

/**
 * Finds runs whose demo process is gone (killed with SIGKILL, a power cut of the terminal) and removes
 * what they left; a run whose owner still lives is left alone. Returns the ids it cleaned.
 */
export function sweepAbandonedRuns(): string[] {
  const ids = new Set<string>();
  const idOf = (name: string) => /^sluice-demo-([0-9a-f]{6})(?:-|$)/.exec(name)?.[1];
  for (const name of listNamed()) if (idOf(name)) ids.add(idOf(name)!);
  for (const dir of [RUN, BPFFS]) {
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      // not there: nothing to find
    }
    for (const name of names) if (idOf(name) && name === `${PREFIX}${idOf(name)}`) ids.add(idOf(name)!);
  }
  const cleaned: string[] = [];
  for (const id of ids) {
    const run = new RunNames(id);
    let owner = NaN;
    try {
      owner = Number(readFileSync(join(run.runDir, 'owner'), 'utf8').trim());
    } catch {
      // no owner file: its directory is gone (the run directory is made, owner inside, before any namespace)
    }
    if (Number.isInteger(owner) && owner > 0 && isDemo(owner)) continue;
    try {
      removeRun(run);
      cleaned.push(run.prefix);
    } catch {
      // another process is removing it at the same time: leave it to that one
    }
  }
  return cleaned;
}

/** True when `pid` is a live demo process (not merely a process that got a dead demo's pid). */
function isDemo(pid: number): boolean {
  if (!processExists(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('demo');
  } catch {
    return false;
  }
}

/**
 * Makes the run directory, with the owner's pid in it, before anything else of the run exists: it is
 * made aside and renamed into place, so it never exists without its owner.
 */
export function createRunDir(run: RunNames): void {
  const scratch = join(RUN, `.${run.prefix}.${process.pid}`);
  mkdirSync(scratch, { mode: 0o700 });
  try {
    writeFileSync(join(scratch, 'owner'), `${process.pid}\n`);
    renameSync(scratch, run.runDir);
  } catch (err) {
    rmSync(scratch, { recursive: true, force: true });
    throw err;
  }
}

export interface NamespaceHandle {
  readonly name: string;
  readonly path: string;
  readonly ns: NetNs;
  /** A netlink client bound inside the namespace. */
  readonly rtnl: SyncClient;
}

/** Creates a named namespace with its loopback up; its handles are closed by the cleanup. */
export function createNamespace(cleanup: Cleanup, name: string): NamespaceHandle {
  cleanup.check();
  const path = createNamed(name);
  const ns = NetNs.named(name);
  cleanup.onClose(`closing ${name}`, () => ns.close());
  const rtnl = openRtnl({ netns: ns });
  cleanup.onClose(`closing the netlink socket in ${name}`, () => rtnl.close());
  rtnl.linkSet('lo', { up: true });
  return { name, path, ns, rtnl };
}

/**
 * The node: eth0, a veth standing in for its uplink, with addresses and default routes (IPv6
 * too where the kernel has it).
 */
export function createNode(cleanup: Cleanup, run: RunNames): { node: NamespaceHandle; ipv6: boolean } {
  const node = createNamespace(cleanup, run.node);
  const ipv6 = ipv6Available(node.ns) && readSysctl('net.ipv6.conf.default.disable_ipv6', node.ns) === '0';
  // A veth pair inside the node: eth0 carries the addresses and routes, its peer just keeps it up
  // (no traffic leaves: the gateways do not exist). A dummy device would do, where the module exists.
  node.rtnl.linkAdd({ name: 'eth0', kind: 'veth', mtu: 1500, peer: { name: 'uplink', mtu: 1500 }, up: true });
  node.rtnl.linkSet('uplink', { up: true });
  const eth0 = node.rtnl.linkGet('eth0')!.ifinfo.index;
  node.rtnl.addressAdd(eth0, `${NODE_V4}/24`);
  node.rtnl.routeAdd({ dst: 'default', gateway: '10.250.0.254' });
  if (ipv6) {
    node.rtnl.addressAdd(eth0, `${NODE_V6}/64`, { flags: IFA_F.NODAD });
    node.rtnl.routeAdd({ dst: 'default', family: AF_INET6, gateway: 'fd00:250::fe' });
  }
  return { node, ipv6 };
}

/** Two namespaces joined by one veth pair (eth0 on both sides, MTU 1500, IPv4 only): the floor any veth CNI is measured against. */
export function createDirectPair(cleanup: Cleanup, run: RunNames): [NamespaceHandle, NamespaceHandle] {
  const a = createNamespace(cleanup, run.veth(1));
  const b = createNamespace(cleanup, run.veth(2));
  a.rtnl.linkAdd({ name: 'eth0', kind: 'veth', mtu: 1500, peer: { name: 'eth0', mtu: 1500, netnsFd: b.ns.fd } });
  for (const [side, address] of [[a, VETH_V4[0]], [b, VETH_V4[1]]] as const) {
    const index = side.rtnl.linkGet('eth0')!.ifinfo.index;
    side.rtnl.addressAdd(index, `${address}/24`);
    side.rtnl.linkSet(index, { up: true });
  }
  return [a, b];
}
