// A simulated node for the plugin's kernel tests (DESIGN.md, "node namespace"): a uniquely named
// network namespace plays the node, with an uplink of its own (a veth pair inside it carrying the
// default route), its own bpffs pin root (/sys/fs/bpf/sluice-test-<rand>), state directory and IPAM data
// directory. The plugin binary runs inside it as a runtime would run it:
//   nsenter --net=/run/netns/<node> node dist/src/cli/main.js   (CNI_* env, config on stdin)
// Pods are namespaces of their own. cleanup() removes all of it, also after a failure.
import assert from 'node:assert/strict';
import { after } from 'node:test';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { maps, type MapLayout } from '../../src/bpf/layout.js';
import { BpfMap } from '../../src/bpf/maps.js';
import { PinPaths, removePinRoot } from '../../src/bpf/pins.js';
import { objGet } from '../../src/bpf/syscall.js';
import { FORWARDING, readSysctl } from '../../src/datapath/sysctl.js';
import { createNamed, deleteNamed, NetNs } from '../../src/netns.js';
import { pinRootPrefix } from './bpf.js';
import { ipNetnsList, uniqueName } from './kernel.js';
import { pluginAnswer } from '../../src/cni/invoke.js';

export const PLUGIN_MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
export const CNI_BIN_DIR = '/usr/lib/cni';
export const NETWORK = 'sluice-test';
export const UPLINK_MTU = 1450;
export const NODE_V4 = '10.251.0.1';
export const NODE_V6 = 'fd00:251::1';
export const POD_SUBNET_V4 = '10.252.0.0/24';
export const POD_SUBNET_V6 = 'fd00:252::/64';

export interface PluginRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed, when it is JSON. */
  json: any;
}

export interface Namespace {
  readonly name: string;
  readonly path: string;
  readonly ns: NetNs;
  ip(...args: string[]): string;
  ipJson<T = any[]>(...args: string[]): T;
  /** Feeds `ip -n <name> -batch -` these lines. */
  ipBatch(lines: readonly string[]): void;
}

export interface Pod extends Namespace {
  readonly containerId: string;
}

export interface CallOptions {
  containerId: string;
  /** CNI_NETNS; undefined leaves it out. */
  netns?: string | undefined;
  ifname?: string;
  cniArgs?: string;
  /** Extra or replaced environment variables (undefined removes one). */
  env?: Record<string, string | undefined>;
}

export interface NodeSnapshot {
  /** The keys of the endpoint maps (absent while nothing is pinned). */
  maps: Record<string, unknown[]>;
  sysctls: Record<string, string>;
  links: unknown;
  addresses: unknown;
  routes: unknown;
  neighbours: unknown;
  pins: string[];
  ipam: Record<string, string>;
  state: string[];
  pods: Record<string, { links: unknown; addresses: unknown; routes: unknown; neighbours: unknown }>;
}

/** The namespace /run/netns/<name>, with `ip -n <name>` at hand. */
export function namespace(name: string): Namespace {
  const ip = (...args: string[]) => execFileSync('ip', ['-n', name, ...args], { encoding: 'utf8' });
  return {
    name,
    path: `/run/netns/${name}`,
    ns: NetNs.named(name),
    ip,
    ipJson: <T>(...args: string[]) => JSON.parse(ip('-j', ...args) || '[]') as T,
    ipBatch: (lines) => void execFileSync('ip', ['-n', name, '-batch', '-'], { input: `${lines.join('\n')}\n`, encoding: 'utf8' }),
  };
}

/** Files under dir (relative names), recursively; with contents when `withContents`. */
function listTree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string, prefix: string) => {
    for (const name of readdirSync(d).sort()) {
      const path = join(d, name);
      const rel = prefix ? `${prefix}/${name}` : name;
      if (statSync(path).isDirectory()) {
        out.push(`${rel}/`);
        walk(path, rel);
      } else out.push(rel);
    }
  };
  walk(dir, '');
  return out;
}

/** Strips what changes by itself (lifetimes, counters, an IPv6 link-local address leaving DAD) from `ip -j` output. */
function stable(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stable);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (['valid_life_time', 'preferred_life_time', 'used', 'confirmed', 'updated', 'probes', 'refcnt', 'expires', 'tentative'].includes(k)) continue;
      out[k] = stable(v);
    }
    return out;
  }
  return value;
}

export class SimNode implements Namespace {
  readonly name: string;
  readonly path: string;
  readonly ns: NetNs;
  readonly dir: string;
  readonly pinRoot: string;
  readonly stateDir: string;
  readonly ipamDir: string;
  readonly logFile: string;
  readonly pods: Pod[] = [];
  private readonly self: Namespace;
  private cleaned = false;

  constructor() {
    this.name = uniqueName();
    createNamed(this.name);
    this.self = namespace(this.name);
    this.path = this.self.path;
    this.ns = this.self.ns;
    this.dir = mkdtempSync(join(tmpdir(), 'sluice-node-'));
    this.pinRoot = `${pinRootPrefix}${randomBytes(4).toString('hex')}`;
    this.stateDir = join(this.dir, 'state');
    this.ipamDir = join(this.dir, 'ipam');
    this.logFile = join(this.dir, 'sluice.log');
    try {
      // An uplink: a veth pair inside the node carrying its addresses and default routes (no traffic
      // ever leaves: the gateways do not exist). No IPv6 link-local addresses, so nothing changes by itself.
      this.ipBatch([
        'link set lo up',
        `link add up0 mtu ${UPLINK_MTU} type veth peer name up1 mtu ${UPLINK_MTU}`,
        'link set up0 addrgenmode none',
        'link set up1 addrgenmode none',
        `addr add ${NODE_V4}/24 dev up0`,
        `addr add ${NODE_V6}/64 dev up0 nodad`,
        'link set up1 up',
        'link set up0 up',
        'route add default via 10.251.0.254 dev up0',
        'route add default via fd00:251::fe dev up0',
      ]);
      // A new namespace copies IPv4 forwarding from the machine's own: start every node from "off",
      // whatever the machine says, so tests see exactly what ADD turned on.
      this.sysctl('net.ipv4.ip_forward', '0');
      this.sysctl('net.ipv6.conf.all.forwarding', '0');
    } catch (err) {
      this.cleanup();
      throw err;
    }
  }

  ip(...args: string[]): string {
    return this.self.ip(...args);
  }

  ipJson<T = any[]>(...args: string[]): T {
    return this.self.ipJson<T>(...args);
  }

  ipBatch(lines: readonly string[]): void {
    this.self.ipBatch(lines);
  }

  sysctl(key: string, value?: string): string {
    const args = value === undefined ? ['-n', key] : ['-w', `${key}=${value}`];
    return execFileSync('ip', ['netns', 'exec', this.name, 'sysctl', ...args], { encoding: 'utf8' }).trim();
  }

  /** A new pod namespace with its loopback up. */
  addPod(): Pod {
    const name = uniqueName();
    createNamed(name);
    const pod: Pod = { ...namespace(name), containerId: `ctr-${name}` };
    this.pods.push(pod);
    pod.ip('link', 'set', 'lo', 'up');
    return pod;
  }

  /**
   * Waits until no address in the pod is tentative any more: the kernel's own IPv6 link-local address
   * on eth0 leaves DAD a second or two after ADD, and its local route appears only then. Snapshots
   * taken before and after must not straddle that.
   */
  async settled(pod: Namespace): Promise<void> {
    for (let i = 0; i < 200; i++) {
      const tentative = pod.ipJson<{ addr_info?: { tentative?: boolean }[] }[]>('addr', 'show').some((l) => l.addr_info?.some((a) => a.tentative));
      if (!tentative) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`addresses in ${pod.name} stay tentative`);
  }

  /** Deletes a pod's namespace (as a runtime does before or after DEL). */
  removePod(pod: Pod): void {
    pod.ns.close();
    deleteNamed(pod.name);
    this.pods.splice(this.pods.indexOf(pod), 1);
  }

  /** The plugin configuration for this node; `overrides` replace top-level keys (undefined removes one). */
  config(options: { cniVersion?: string; ipv4?: boolean; ipv6?: boolean; overrides?: Record<string, unknown> } = {}): Record<string, unknown> {
    const ranges: unknown[] = [];
    if (options.ipv4 ?? true) ranges.push([{ subnet: POD_SUBNET_V4 }]);
    if (options.ipv6 ?? false) ranges.push([{ subnet: POD_SUBNET_V6 }]);
    const config: Record<string, unknown> = {
      cniVersion: options.cniVersion ?? '1.0.0',
      name: NETWORK,
      type: 'sluice',
      pinRoot: this.pinRoot,
      stateDir: this.stateDir,
      logFile: this.logFile,
      logLevel: 'debug',
      ipam: { type: 'host-local', dataDir: this.ipamDir, ranges },
    };
    for (const [k, v] of Object.entries(options.overrides ?? {})) {
      if (v === undefined) delete config[k];
      else config[k] = v;
    }
    return config;
  }

  /** Runs `executable` inside the node namespace as a runtime runs a CNI plugin. */
  exec(executable: string[], command: string, stdin: string, call: Partial<CallOptions>): Promise<PluginRun> {
    const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', CNI_COMMAND: command, CNI_PATH: CNI_BIN_DIR };
    if (call.containerId !== undefined) env.CNI_CONTAINERID = call.containerId;
    if (call.netns !== undefined) env.CNI_NETNS = call.netns;
    if (call.containerId !== undefined) env.CNI_IFNAME = call.ifname ?? 'eth0';
    if (call.cniArgs !== undefined) env.CNI_ARGS = call.cniArgs;
    for (const [k, v] of Object.entries(call.env ?? {})) {
      if (v === undefined) delete env[k];
      else env[k] = v;
    }
    const child = spawn('nsenter', [`--net=${this.path}`, ...executable], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    return pluginAnswer(child, stdin);
  }

  /** Runs sluice. */
  run(command: string, config: Record<string, unknown> | string, call: Partial<CallOptions>): Promise<PluginRun> {
    return this.exec([process.execPath, PLUGIN_MAIN], command, typeof config === 'string' ? config : JSON.stringify(config), call);
  }

  /** Runs a reference plugin from /usr/lib/cni. */
  runReference(type: string, command: string, config: Record<string, unknown>, call: Partial<CallOptions>): Promise<PluginRun> {
    return this.exec([join(CNI_BIN_DIR, type)], command, JSON.stringify(config), call);
  }

  /** ADD for a pod, asserting success; returns the result. */
  async add(pod: Pod, config: Record<string, unknown>, call: Partial<CallOptions> = {}): Promise<any> {
    const out = await this.run('ADD', config, { containerId: pod.containerId, netns: pod.path, ...call });
    assert.equal(out.code, 0, `ADD of ${pod.containerId} failed: ${out.stdout}${out.stderr}`);
    return out.json;
  }

  async del(pod: Pod, config: Record<string, unknown>, call: Partial<CallOptions> = {}): Promise<PluginRun> {
    return this.run('DEL', config, { containerId: pod.containerId, netns: pod.path, ...call });
  }

  /** Everything a plugin call could leave behind on this node and in its pods. */
  snapshot(): NodeSnapshot {
    const ipam: Record<string, string> = {};
    for (const rel of listTree(this.ipamDir)) {
      if (!rel.endsWith('/')) ipam[rel] = readFileSync(join(this.ipamDir, rel), 'utf8');
    }
    const pods: NodeSnapshot['pods'] = {};
    for (const pod of this.pods) pods[pod.name] = this.stateOf(pod.name);
    const sysctls: Record<string, string> = {};
    for (const family of [4, 6] as const) sysctls[FORWARDING[family].join('.')] = readSysctl(FORWARDING[family], this.ns);
    return { ...this.stateOf(this.name), maps: this.mapKeys(), sysctls, pins: listTree(this.pinRoot), ipam, state: listTree(this.stateDir), pods };
  }

  /** The keys of the pinned endpoint and device maps. */
  mapKeys(): Record<string, unknown[]> {
    const out: Record<string, unknown[]> = {};
    const paths = this.pinPaths();
    for (const layout of [maps.endpointsV4, maps.endpointsV6, maps.devices] as MapLayout<unknown, unknown>[]) {
      const pin = `${paths.maps}/${layout.name}`;
      if (!existsSync(pin)) continue;
      const map = new BpfMap(layout, objGet(pin));
      try {
        out[layout.name] = [...map.keys()].sort();
      } finally {
        map.close();
      }
    }
    return out;
  }

  private stateOf(name: string): { links: unknown; addresses: unknown; routes: unknown; neighbours: unknown } {
    const j = (...args: string[]) => stable(JSON.parse(execFileSync('ip', ['-n', name, '-j', ...args], { encoding: 'utf8' }) || '[]'));
    return {
      links: j('link', 'show'),
      addresses: j('addr', 'show'),
      routes: [j('-4', 'route', 'show', 'table', 'all'), j('-6', 'route', 'show', 'table', 'all')],
      neighbours: j('neigh', 'show', 'nud', 'permanent'),
    };
  }

  /** The record sluice keeps for an attachment (state.ts). */
  record(hostVeth: string): any {
    const path = join(this.stateDir, 'ebpf', 'endpoints', `${hostVeth}.json`);
    return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : undefined;
  }

  pinPaths(): PinPaths {
    return new PinPaths(this.pinRoot);
  }

  /** The plugin's log so far (for failure messages). */
  log(): string {
    return existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8') : '';
  }

  cleanup(): void {
    if (this.cleaned) return;
    this.cleaned = true;
    const errors: unknown[] = [];
    const attempt = (fn: () => void) => {
      try {
        fn();
      } catch (err) {
        errors.push(err);
      }
    };
    for (const pod of [...this.pods]) attempt(() => this.removePod(pod));
    attempt(() => this.ns.close());
    attempt(() => deleteNamed(this.name));
    attempt(() => removePinRoot(new PinPaths(this.pinRoot)));
    attempt(() => rmSync(this.dir, { recursive: true, force: true }));
    if (errors.length) throw new AggregateError(errors, `cleaning up node ${this.name}`);
  }
}

/** Runs fn with a fresh simulated node; everything is removed afterwards, whatever happens. */
export async function withNode<T>(fn: (node: SimNode) => Promise<T>): Promise<T> {
  const node = new SimNode();
  let failed = false;
  try {
    return await fn(node);
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    try {
      node.cleanup();
    } catch (err) {
      if (!failed) throw err;
      process.stderr.write(`cleanup: ${String(err)}\n`);
    }
  }
}

// ---- fault injection (SLUICE_FAIL_AT_STEP with SLUICE_TEST_HOOKS=1), for either mode ----

/** What runs subtests: node:test's TestContext. */
export interface SubtestRunner {
  test(name: string, fn: () => Promise<void>): Promise<void>;
}

/** A pod added with `config` and settled (its link-local address out of DAD): what the node already holds. */
export async function addResident(node: SimNode, config: Record<string, unknown>): Promise<Pod> {
  const resident = node.addPod();
  await node.add(resident, config);
  await node.settled(resident);
  return resident;
}

/**
 * ADD of a new pod made to fail just before and just after each of `steps` in turn: it fails naming the
 * step, every undo succeeds and the node is as it was (as `comparable` sees it). Then, without the test
 * flag, the variable is ignored: ADD succeeds, and CHECK agrees.
 */
export async function failAtEachStep(t: SubtestRunner, node: SimNode, config: Record<string, unknown>, steps: readonly string[], comparable: () => unknown): Promise<void> {
  const pod = node.addPod();
  for (const step of steps) {
    for (const when of ['before', 'after'] as const) {
      await t.test(`${when} ${step}`, async () => {
        const before = comparable();
        const out = await node.run('ADD', config, {
          containerId: pod.containerId,
          netns: pod.path,
          env: { SLUICE_TEST_HOOKS: '1', SLUICE_FAIL_AT_STEP: when === 'after' ? `${step}:after` : step },
        });
        assert.equal(out.code, 1, out.stdout);
        assert.equal(out.json.msg, `ADD failed at step "${step}": injected failure ${when} step "${step}" (SLUICE_FAIL_AT_STEP)`);
        assert.equal(out.json.details, undefined, 'every undo succeeded');
        assert.deepEqual(comparable(), before, 'nothing is left behind');
      });
    }
  }
  const out = await node.run('ADD', config, { containerId: pod.containerId, netns: pod.path, env: { SLUICE_FAIL_AT_STEP: 'veth' } });
  assert.equal(out.code, 0, out.stdout);
  const check = await node.run('CHECK', { ...config, prevResult: out.json }, { containerId: pod.containerId, netns: pod.path });
  assert.equal(check.code, 0, check.stdout);
}

/** ADD of a new pod killed just after each of `steps` (no undo at all): DEL removes everything it left. */
export async function crashAtEachStep(t: SubtestRunner, node: SimNode, config: Record<string, unknown>, steps: readonly string[], comparable: () => unknown): Promise<void> {
  const pod = node.addPod();
  for (const step of steps) {
    await t.test(`killed after ${step}`, async () => {
      const before = comparable();
      const call = { containerId: pod.containerId, netns: pod.path };
      const out = await node.run('ADD', config, { ...call, env: { SLUICE_TEST_HOOKS: '1', SLUICE_FAIL_AT_STEP: `${step}:crash` } });
      assert.equal(out.code, null, 'the plugin was killed');
      assert.equal(out.stdout, '');
      const del = await node.run('DEL', config, call);
      assert.equal(del.code, 0, del.stdout);
      assert.deepEqual(comparable(), before, 'DEL left nothing behind');
    });
  }
}

/** This process's pin roots still there (other test files may run alongside, with their own). */
export function leftoverPinRoots(): string[] {
  return existsSync('/sys/fs/bpf') ? readdirSync('/sys/fs/bpf').filter((n) => `/sys/fs/bpf/${n}`.startsWith(pinRootPrefix)) : [];
}

/** Registers a check, once the file's tests are over, that every namespace and pin root they made is gone. */
export function nothingLeftAfterAll(): void {
  after(() => {
    assert.deepEqual(ipNetnsList().filter((n) => n.startsWith(`sl-t${process.pid}-`)), [], 'every namespace the tests created is gone');
    assert.deepEqual(leftoverPinRoots(), [], 'every pin root the tests created is gone');
  });
}
