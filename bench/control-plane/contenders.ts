// The contenders of the control-plane bench and how a runtime calls them. Each runs on a simulated
// node of its own (test/support/plugin.ts: a network namespace with an uplink, its own bpffs pin root,
// state and IPAM directories) with pod namespaces of its own:
//   agent          the native shim (native/build/sluice-shim) talking to `sluice daemon` running in the
//                  node (its defaults: worker threads, the eBPF objects loaded at start-up); sluice's
//                  built-in IPAM ("ipam": {"type": "sluice"})
//   agent-cls      the same, the agent attaching with clsact + cls_bpf instead of TCX links
//   standalone     the shim with no agent, so the standalone plugin: shim -> sluice-plugin (run by node) -> the bundled plugin
//   bridge         /usr/lib/cni/bridge with /usr/lib/cni/host-local (isGateway)
// each without and with ipMasq (bridge: iptables; sluice: its nf_tables masquerade).
import { spawnSync } from 'node:child_process';
import { agentOp } from '../../src/daemon/client.js';
import type { AgentStatus } from '../../src/daemon/agent.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { mount, umount2, MNT_DETACH, MS_NODEV, MS_NOSUID } from '../../src/sys/libc.js';
import { deferredAttachments } from '../../src/datapath/deferred-attach.js';
import { Scratch, SHIM, startAgent, type AgentProcess } from '../../test/support/agent.js';
import { SimNode, type Pod } from '../../test/support/plugin.js';
import { Launcher } from './launcher.js';
import type { ContenderKind } from './results.js';

export const CNI_BIN = '/usr/lib/cni';
const SUBNET = '10.252.0.0/22';

export interface ContenderSpec {
  name: string;
  kind: ContenderKind;
  ipMasq: boolean;
}

export interface Contender extends ContenderSpec {
  node: SimNode;
  /** The growth run's pods, in the order they are added; the first `pods` also make the burst. */
  pods: Pod[];
  /** A pod of its own for the warm-up and the memory pass. */
  warm: Pod;
  executable: string;
  /** Starts and times its calls, inside its node (launcher.c). */
  launcher: Launcher;
  env: Record<string, string>;
  config: Record<string, unknown>;
  agent?: AgentProcess;
  addMs: number[];
  delMs: number[];
  burstAddMs?: number;
  burstDelMs?: number;
  /** Every burst's time, ms (burstAddMs and burstDelMs are their medians). */
  bursts?: { addMs: number[]; delMs: number[] };
  addPeakKiB: number[];
  delPeakKiB: number[];
  /** The agent's deferred TCX attaches, done while the bench waited after a phase (settleDeferred). */
  deferred: DeferredSettle[];
  /** sluice's state directory (tmpfs, as /run/sluice is on a node). */
  stateDir?: string;
  failures: string[];
}

export interface DeferredSettle {
  phase: string;
  /** Links the agent attached after the phase. */
  links: number;
  /** From the phase's last answer until no attach was left (the agent's quiet time included). */
  ms: number;
  quietMs: number;
}

/**
 * The agents answer ADD before attaching the TCX link and attach once quiet for this long (`sluice
 * daemon --promote-quiet`): longer than a round of the other contenders' calls, so the attaches (which
 * hold the kernel's rtnl lock for ~15 ms each) never run during another contender's timed call; the
 * bench waits for them between phases instead (settleDeferred).
 */
export const PROMOTE_QUIET_MS = 1000;

/** Which contenders run, in this order. */
export function plan(options: { masq: boolean; clsBpf: boolean }): ContenderSpec[] {
  const out: ContenderSpec[] = [];
  for (const ipMasq of options.masq ? [false, true] : [false]) {
    const suffix = ipMasq ? ', ipMasq' : '';
    out.push({ name: `sluice agent (shim)${suffix}`, kind: 'agent', ipMasq });
    if (options.clsBpf && !ipMasq) out.push({ name: `sluice agent, cls_bpf attach${suffix}`, kind: 'agent-cls', ipMasq });
    out.push({ name: `sluice standalone${suffix}`, kind: 'standalone', ipMasq });
    out.push({ name: `bridge + host-local${suffix}`, kind: 'bridge', ipMasq });
  }
  return out;
}

function sluiceConfig(node: SimNode, ipMasq: boolean, stateDir: string): Record<string, unknown> {
  return {
    cniVersion: '1.0.0', name: 'bench', type: 'sluice', ipMasq, pinRoot: node.pinRoot, stateDir, logFile: node.logFile, logLevel: 'warn',
    ipam: { type: 'sluice', dataDir: node.ipamDir, ranges: [[{ subnet: SUBNET }]] },
  };
}

function bridgeConfig(node: SimNode, ipMasq: boolean): Record<string, unknown> {
  return {
    cniVersion: '1.0.0', name: 'bench', type: 'bridge', bridge: 'cni-bench0', isGateway: true, ipMasq,
    ipam: { type: 'host-local', dataDir: node.ipamDir, ranges: [[{ subnet: SUBNET }]] },
  };
}

export interface Setup {
  scratch: Scratch;
  /** Distinguishes this contender's sockets in the scratch directory. */
  index: number;
  /** How many pods it adds in the growth run. */
  pods: number;
  /** The launcher binary (buildLauncher). */
  launcher: string;
  /** Registers what undoes a step, as soon as the step is done (the caller runs them, newest first). */
  onCleanup(fn: () => Promise<void> | void): void;
}

/** A node with its pods, and for the agent kinds the agent running in it. */
export async function makeContender(spec: ContenderSpec, setup: Setup): Promise<Contender> {
  const node = new SimNode();
  setup.onCleanup(() => node.cleanup());
  const pods = Array.from({ length: setup.pods }, () => node.addPod());
  const warm = node.addPod();
  const base = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', CNI_PATH: CNI_BIN };
  const launcher = new Launcher(setup.launcher, node.ns);
  setup.onCleanup(() => launcher.close());
  const c: Contender = {
    ...spec, node, pods, warm, executable: SHIM, launcher, env: base, config: {},
    addMs: [], delMs: [], addPeakKiB: [], delPeakKiB: [], deferred: [], failures: [],
  };
  if (spec.kind !== 'bridge') {
    const stateDir = tmpfsDirectory('/run/sluice-bench-');
    setup.onCleanup(() => removeTmpfsDirectory(stateDir));
    c.stateDir = stateDir;
    c.config = sluiceConfig(node, spec.ipMasq, stateDir);
  }
  if (spec.kind === 'bridge') {
    c.executable = `${CNI_BIN}/bridge`;
    c.config = bridgeConfig(node, spec.ipMasq);
  } else if (spec.kind === 'standalone') {
    c.env = { ...base, SLUICE_SOCKET: setup.scratch.path(`none-${setup.index}.sock`), SLUICE_PLUGIN: setup.scratch.launcher };
  } else {
    const socket = setup.scratch.path(`agent-${setup.index}.sock`);
    const agent = await startAgent(node, { socket, args: ['--log-level', 'warn', '--promote-quiet', String(PROMOTE_QUIET_MS), ...(spec.kind === 'agent-cls' ? ['--cls-bpf'] : [])] });
    setup.onCleanup(async () => void (await agent.stop()));
    c.agent = agent;
    c.env = { ...base, SLUICE_SOCKET: socket, SLUICE_PLUGIN: setup.scratch.launcher };
  }
  return c;
}

/**
 * A directory with a tmpfs of its own mounted on it: sluice's state directory, which on a node is
 * /run/sluice, and /run is a tmpfs there (systemd mounts it so). On a machine whose /run is on disk
 * (this kind of VM) every record write would otherwise pay for the disk file system's journal, and
 * ext4's replace-by-rename also starts writeback. The IPAM store stays on disk for every contender,
 * as /var/lib/cni/networks is on a node.
 */
function tmpfsDirectory(prefix: string): string {
  const dir = mkdtempSync(prefix);
  try {
    mount('tmpfs', dir, 'tmpfs', MS_NOSUID | MS_NODEV, 'mode=0700,size=64m');
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return dir;
}

function removeTmpfsDirectory(dir: string): void {
  umount2(dir, MNT_DETACH);
  rmSync(dir, { recursive: true, force: true });
}

export interface CallResult {
  ms: number;
  code: number;
  stdout: string;
}

/**
 * What a runtime does: starts the plugin inside the node's namespace (vfork and exec, as Go's os/exec
 * does: launcher.c), feeds it the config, waits for its exit. Timed by the launcher from just before
 * the spawn to the exit. `wrapper` runs in front of the plugin (the memory pass's maxrss).
 */
export async function call(c: Contender, command: string, pod: Pod, wrapper: string[] = []): Promise<CallResult> {
  const env = { ...c.env, CNI_COMMAND: command, CNI_CONTAINERID: pod.containerId, CNI_NETNS: pod.path, CNI_IFNAME: 'eth0' };
  const argv = [...wrapper, c.executable];
  const r = await c.launcher.run(argv[0]!, argv, env, JSON.stringify(c.config));
  return { ms: r.ms, code: r.code, stdout: r.stdout };
}

/** A call whose failure is recorded on the contender (the run goes on); returns its time. */
export async function timed(c: Contender, command: string, pod: Pod, wrapper?: string[]): Promise<number> {
  const r = await call(c, command, pod, wrapper);
  if (r.code !== 0) c.failures.push(`${command} ${pod.containerId}: ${r.stdout.trim().slice(0, 300)}`);
  return r.ms;
}

/** nf_tables tables in the node (`nft list tables`): how to tell whether an ADD with ipMasq masqueraded. */
function nftTables(node: SimNode): string[] {
  const r = spawnSync('ip', ['netns', 'exec', node.name, 'nft', 'list', 'tables'], { encoding: 'utf8' });
  return r.stdout.split('\n').filter((l) => l.trim() !== '');
}

/**
 * A few ADD/DEL pairs on the contender's own pod, not counted (the first load of the eBPF objects,
 * the bridge's creation, ...). False when ipMasq was asked of sluice and nothing masquerades.
 */
export async function warmUp(c: Contender, rounds: number): Promise<boolean> {
  const tablesBefore = nftTables(c.node).length;
  for (let i = 0; i < rounds; i++) {
    const add = await call(c, 'ADD', c.warm);
    if (add.code !== 0) throw new Error(`${c.name}: warm-up ADD failed: ${add.stdout}`);
    if (i === 0 && c.ipMasq && c.kind !== 'bridge' && nftTables(c.node).length === tablesBefore) {
      await call(c, 'DEL', c.warm);
      return false;
    }
    const del = await call(c, 'DEL', c.warm);
    if (del.code !== 0) throw new Error(`${c.name}: warm-up DEL failed: ${del.stdout}`);
  }
  return true;
}

/** The agent's own account of itself (pid, calls served, worker threads). */
/** Waits until the agent has attached every TCX link it deferred; what it took goes into c.deferred. */
export async function settleDeferred(c: Contender, phase: string): Promise<void> {
  if (!c.agent || !c.stateDir) return;
  const started = process.hrtime.bigint();
  const links = deferredAttachments(c.stateDir).length;
  for (;;) {
    if (deferredAttachments(c.stateDir).length === 0) break;
    if (Number(process.hrtime.bigint() - started) / 1e6 > 120_000) {
      c.failures.push(`${phase}: the agent still had ${deferredAttachments(c.stateDir).length} deferred attaches after 120 s`);
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  if (links) c.deferred.push({ phase, links, ms: Number(process.hrtime.bigint() - started) / 1e6, quietMs: PROMOTE_QUIET_MS });
}

export async function agentStatus(c: Contender): Promise<AgentStatus> {
  if (!c.agent) throw new Error(`${c.name} has no agent`);
  return (await agentOp(c.agent.socket, 'status')) as AgentStatus;
}
