// CNI control-plane latency: how long a runtime waits for ADD and DEL, sluice against the reference
// bridge plugin, side by side in one run.
//
//   sudo node dist/bench/cni-latency.js [--pods 100] [--no-cls-bpf] [--no-masq]
//
// Contenders, each on a simulated node of its own (test/support/plugin.ts: a network namespace with an
// uplink, its own bpffs pin root, state and IPAM directories), each with its own 100 pod namespaces:
//   - agent        the native shim (native/build/sluice-shim) talking to `sluice daemon` running in the
//                  node (its defaults: 4 worker threads, the eBPF objects loaded at start-up); sluice's
//                  built-in IPAM ("ipam": {"type": "sluice"})
//   - agent, cls_bpf   the same, the agent attaching with clsact + cls_bpf instead of TCX links
//                  (to show what the TCX attach costs on this kernel); leave it out with --no-cls-bpf
//   - standalone   the shim with no agent, so the standalone plugin: shim -> sluice-plugin (run by node
//                  itself) -> the bundled plugin with its code cache (src/cli/launch.cts)
//   - bridge       /usr/lib/cni/bridge with /usr/lib/cni/host-local (isGateway)
// each without and with ipMasq (bridge: iptables; sluice: its nf_tables masquerade, when this build
// applies it: checked on the node after a trial ADD, and the rows left out when it does not).
//
// A call is what a runtime does: fork and exec the plugin (in the node's namespace: forked while this
// thread is switched into it, see netns.runIn), the config on stdin, wait for it to exit. Timed from
// just before the fork to its exit. Each contender first does a few ADD/DEL pairs on a pod of its
// own (not counted: the first load of the eBPF objects, the bridge's creation, ...).
//   sequential   ADD pod 1, contender by contender (rotating which goes first), then pod 2, ... ; then
//                the DELs the same way: median and p99 per contender
//   burst        all pods' ADDs started at once (one contender at a time), then all DELs: the time
//                until the last one answered
// The standalone plugin loads its bundle from dist/ on every call (replaced atomically by a build, but
// the launcher and koffi are not): run the bench from a tree nobody rebuilds meanwhile.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runIn } from '../src/netns.js';
import { ensureShim, Scratch, SHIM, startAgent, type AgentProcess } from '../test/support/agent.js';
import { SimNode, type Pod } from '../test/support/plugin.js';
import { describeMachine, formatMachine, loadNow } from './lib/machine.js';
import { requireRoot } from './lib/netns.js';
import { formatMs, formatRatio, markdownTable, writeResults } from './lib/report.js';
import { quantile, summarize, type Summary } from './lib/stats.js';
import { msSince } from './lib/timing.js';

const { values: opts } = parseArgs({
  options: {
    pods: { type: 'string', default: '100' },
    'no-cls-bpf': { type: 'boolean', default: false },
    'no-masq': { type: 'boolean', default: false },
    warmup: { type: 'string', default: '3' },
  },
});
const PODS = Number(opts.pods);
const WARMUP = Number(opts.warmup);
if (!Number.isInteger(PODS) || PODS < 10) throw new RangeError('--pods must be an integer >= 10');
requireRoot('bench/cni-latency');

const CNI_BIN = '/usr/lib/cni';
const SUBNET = '10.252.0.0/22';

interface Contender {
  name: string;
  kind: 'agent' | 'agent-cls' | 'standalone' | 'bridge';
  ipMasq: boolean;
  node: SimNode;
  pods: Pod[];
  warm: Pod;
  executable: string;
  env: Record<string, string>;
  config: Record<string, unknown>;
  agent?: AgentProcess;
  add: number[];
  del: number[];
  burstAdd?: number;
  burstDel?: number;
  failures: string[];
}

interface CallResult {
  ms: number;
  code: number | null;
  stdout: string;
}

/** Forks the plugin inside the node's namespace, feeds it the config, waits for its exit. */
function call(c: Contender, command: string, pod: Pod): Promise<CallResult> {
  const env = { ...c.env, CNI_COMMAND: command, CNI_CONTAINERID: pod.containerId, CNI_NETNS: pod.path, CNI_IFNAME: 'eth0' };
  const stdin = JSON.stringify(c.config);
  const start = process.hrtime.bigint();
  const child = runIn(c.node.ns, () => spawn(c.executable, [], { env, stdio: ['pipe', 'pipe', 'ignore'] }));
  return new Promise((resolve) => {
    let stdout = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stdin!.on('error', () => undefined);
    child.once('error', (err) => resolve({ ms: msSince(start), code: -1, stdout: String(err) }));
    child.once('close', (code) => resolve({ ms: msSince(start), code, stdout }));
    child.stdin!.end(stdin);
  });
}

async function timed(c: Contender, command: string, pod: Pod): Promise<number> {
  const r = await call(c, command, pod);
  if (r.code !== 0) c.failures.push(`${command} ${pod.containerId}: ${r.stdout.trim().slice(0, 300)}`);
  return r.ms;
}

function sluiceConfig(node: SimNode, ipMasq: boolean): Record<string, unknown> {
  return {
    cniVersion: '1.0.0', name: 'bench', type: 'sluice', ipMasq, pinRoot: node.pinRoot, stateDir: node.stateDir, logFile: node.logFile, logLevel: 'warn',
    ipam: { type: 'sluice', dataDir: node.ipamDir, ranges: [[{ subnet: SUBNET }]] },
  };
}

function bridgeConfig(node: SimNode, ipMasq: boolean): Record<string, unknown> {
  return {
    cniVersion: '1.0.0', name: 'bench', type: 'bridge', bridge: 'cni-bench0', isGateway: true, ipMasq,
    ipam: { type: 'host-local', dataDir: node.ipamDir, ranges: [[{ subnet: SUBNET }]] },
  };
}

/** nf_tables tables in the node (`nft list tables`): how to tell whether an ADD with ipMasq masqueraded. */
function nftTables(node: SimNode): string[] {
  const r = spawnSync('ip', ['netns', 'exec', node.name, 'nft', 'list', 'tables'], { encoding: 'utf8' });
  return r.stdout.split('\n').filter((l) => l.trim() !== '');
}

const scratch = new Scratch();
const contenders: Contender[] = [];
const cleanups: (() => Promise<void> | void)[] = [() => scratch.cleanup()];
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    process.stderr.write(`\n${signal}: cleaning up\n`);
    void cleanup().then(() => process.exit(130));
  });
}

async function cleanup(): Promise<void> {
  for (const fn of cleanups.splice(0).reverse()) {
    try {
      await fn();
    } catch (err) {
      process.stderr.write(`cleanup: ${String(err)}\n`);
    }
  }
}

async function makeContender(name: string, kind: Contender['kind'], ipMasq: boolean): Promise<Contender> {
  const node = new SimNode();
  cleanups.push(() => node.cleanup());
  const pods = Array.from({ length: PODS }, () => node.addPod());
  const warm = node.addPod();
  const base = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', CNI_PATH: CNI_BIN };
  const c: Contender = { name, kind, ipMasq, node, pods, warm, executable: SHIM, env: base, config: sluiceConfig(node, ipMasq), add: [], del: [], failures: [] };
  if (kind === 'bridge') {
    c.executable = `${CNI_BIN}/bridge`;
    c.config = bridgeConfig(node, ipMasq);
  } else if (kind === 'standalone') {
    c.env = { ...base, SLUICE_SOCKET: scratch.path(`none-${contenders.length}.sock`), SLUICE_PLUGIN: scratch.launcher };
  } else {
    const socket = scratch.path(`agent-${contenders.length}.sock`);
    c.agent = await startAgent(node, { socket, args: ['--log-level', 'warn', ...(kind === 'agent-cls' ? ['--cls-bpf'] : [])] });
    const agent = c.agent;
    cleanups.push(async () => void (await agent.stop()));
    c.env = { ...base, SLUICE_SOCKET: socket, SLUICE_PLUGIN: scratch.launcher };
  }
  return c;
}

/** A few ADD/DEL pairs on the contender's own pod; false when ipMasq was asked for and nothing masquerades. */
async function warmUp(c: Contender): Promise<boolean> {
  const tablesBefore = nftTables(c.node).length;
  for (let i = 0; i < WARMUP; i++) {
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

try {
  ensureShim();
  for (const bin of ['bridge', 'host-local']) if (!existsSync(`${CNI_BIN}/${bin}`)) throw new Error(`${CNI_BIN}/${bin} is missing (scripts/install-deps.sh installs the reference plugins)`);
  const machine = describeMachine();
  const masqs = opts['no-masq'] ? [false] : [false, true];
  const plan: [string, Contender['kind'], boolean][] = [];
  for (const ipMasq of masqs) {
    const suffix = ipMasq ? ', ipMasq' : '';
    plan.push([`sluice agent (shim)${suffix}`, 'agent', ipMasq]);
    if (!opts['no-cls-bpf'] && !ipMasq) plan.push([`sluice agent, cls_bpf attach${suffix}`, 'agent-cls', ipMasq]);
    plan.push([`sluice standalone${suffix}`, 'standalone', ipMasq]);
    plan.push([`bridge + host-local${suffix}`, 'bridge', ipMasq]);
  }
  process.stderr.write(`${formatMachine(machine)}\nsetting up ${plan.length} simulated nodes with ${PODS} pods each...\n`);
  const skipped: string[] = [];
  for (const [name, kind, ipMasq] of plan) {
    const c = await makeContender(name, kind, ipMasq);
    if (await warmUp(c)) contenders.push(c);
    else skipped.push(`${name}: this build does not masquerade yet (no nf_tables table appeared after an ADD with ipMasq)`);
  }

  // Sequential, interleaved: pod i's ADD for every contender, the first one rotating.
  process.stderr.write(`sequential ADDs and DELs (${PODS} pods x ${contenders.length} contenders)...\n`);
  for (const command of ['ADD', 'DEL'] as const) {
    for (let i = 0; i < PODS && !interrupted; i++) {
      for (let k = 0; k < contenders.length; k++) {
        const c = contenders[(i + k) % contenders.length]!;
        (command === 'ADD' ? c.add : c.del).push(await timed(c, command, c.pods[i]!));
      }
    }
  }

  // Bursts: every pod at once, one contender at a time.
  process.stderr.write('bursts...\n');
  for (const c of contenders) {
    for (const command of ['ADD', 'DEL'] as const) {
      const start = process.hrtime.bigint();
      await Promise.all(c.pods.map((p) => timed(c, command, p)));
      const wall = msSince(start);
      if (command === 'ADD') c.burstAdd = wall;
      else c.burstDel = wall;
    }
  }

  // The agents served every call themselves (no fallback to the standalone plugin).
  for (const c of contenders) {
    if (!c.agent) continue;
    const status = spawnSync(process.execPath, [new URL('../src/cli/main.js', import.meta.url).pathname, 'status', '--json', '--socket', c.env.SLUICE_SOCKET!, '--pin-root', c.node.pinRoot], { encoding: 'utf8' });
    const served = (JSON.parse(status.stdout) as { agent: { requests: { served: number } } }).agent.requests.served;
    const expected = 2 * WARMUP + 4 * PODS;
    if (served !== expected) c.failures.push(`the agent served ${served} calls, expected ${expected}: some went to the standalone plugin`);
  }

  const bridge = contenders.find((c) => c.kind === 'bridge' && !c.ipMasq)!;
  const bridgeAdd = summarize(bridge.add).median;
  const rows = contenders.map((c) => {
    const add = summarize(c.add);
    const del = summarize(c.del);
    return [
      c.name,
      formatMs(add.median), formatMs(quantile(c.add, 0.99)), formatRatio(add.median / bridgeAdd),
      formatMs(del.median), formatMs(quantile(c.del, 0.99)),
      formatMs(c.burstAdd!), formatMs(c.burstDel!),
    ];
  });
  const table = markdownTable(
    ['contender', 'ADD median', 'ADD p99', 'ADD vs bridge', 'DEL median', 'DEL p99', `${PODS} ADDs at once`, `${PODS} DELs at once`],
    rows, ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
  );
  const agent = contenders.find((c) => c.kind === 'agent' && !c.ipMasq)!;
  const standalone = contenders.find((c) => c.kind === 'standalone' && !c.ipMasq)!;
  const agentAdd = summarize(agent.add).median;
  const verdict = agentAdd < bridgeAdd / 2 ? 'met' : 'NOT met';
  const lines = [
    '',
    `${formatMachine(machine)}; load ${loadNow()} at the end`,
    '',
    table,
    '',
    `agent vs standalone: ADD ${formatRatio(agentAdd / summarize(standalone.add).median)}, DEL ${formatRatio(summarize(agent.del).median / summarize(standalone.del).median)}`,
    `target "agent median ADD < half the bridge plugin's" (${formatMs(agentAdd)} vs ${formatMs(bridgeAdd / 2)}): ${verdict}`,
    ...skipped.map((s) => `left out: ${s}`),
    ...contenders.flatMap((c) => c.failures.slice(0, 5).map((f) => `FAILED (${c.name}): ${f}`)),
    '',
  ];
  process.stdout.write(lines.join('\n'));
  const summaryOf = (s: Summary, samples: number[]) => ({ ...s, p99: quantile(samples, 0.99) });
  const path = writeResults('cni-latency', {
    benchmark: 'cni-latency',
    command: 'sudo node dist/bench/cni-latency.js',
    machine,
    loadAtEnd: loadNow(),
    config: { pods: PODS, warmup: WARMUP },
    results: contenders.map((c) => ({
      name: c.name, ipMasq: c.ipMasq,
      add: summaryOf(summarize(c.add), c.add), del: summaryOf(summarize(c.del), c.del),
      burstAddMs: c.burstAdd, burstDelMs: c.burstDel, failures: c.failures,
    })),
    skipped,
    target: { agentAddMedian: agentAdd, halfBridgeAdd: bridgeAdd / 2, met: verdict === 'met' },
  });
  process.stderr.write(`results written to ${path}\n`);
  if (contenders.some((c) => c.failures.length)) process.exitCode = 1;
} finally {
  await cleanup();
}
