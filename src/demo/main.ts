#!/usr/bin/env node
/**
 * `npm run demo` (as root): sluice working on this machine with no configuration.
 *
 *   1. a simulated node (a network namespace of its own, its own pin root and state directories)
 *   2. three pods added by the CNI plugin executable, as a runtime calls it, on an embedded network
 *   3. the endpoint table: the plugin's records and the eBPF counters
 *   4. pod-to-pod and pod-to-host pings, and how the counters moved
 *   5. one TCP stream through sluice against one through a plain veth pair (iperf3)
 *   6. CNI DEL for every pod, then everything of the run removed
 *
 * Nothing outside the run's own namespaces and directories is touched. Everything is removed at the
 * end, on an error, and on SIGINT / SIGTERM / SIGHUP (cleanup.ts); a later run also removes what a
 * demo killed with SIGKILL left (topology.ts).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { PinPaths } from '../bpf/pins.js';
import { EndpointState } from '../datapath/state.js';
import { Cleanup, Interrupted, type TeardownReport } from './cleanup.js';
import { ensureTools, type Tools } from './deps.js';
import { readEndpoints, printEndpoints, printCounterChanges } from './endpoints.js';
import { count, heading, median, micros, millis, note, printPairs, printTable, rate, say } from './format.js';
import { describeFailure, describeResult, NETWORK, networkConfig, runPlugin } from './pods.js';
import {
  createDirectPair, createNamespace, createNode, createRunDir, NODE_V4, NODE_V6, POD_SUBNET_V4, POD_SUBNET_V6, removeRun, RunNames,
  sweepAbandonedRuns, VETH_V4, type NamespaceHandle,
} from './topology.js';
import { iperf3Stream, ping, type PingResult, type StreamResult } from './traffic.js';

const POD_COUNT = 3; // the headings say "three"
const PINGS = 20;
const RTT_SAMPLES = 100;
const STREAM_SECONDS = 2;
const STREAM_ROUNDS = 3;
const SIGNALS = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 } as const;

interface Pod extends NamespaceHandle {
  label: string;
  containerId: string;
  ipv4: string;
  ipv6?: string;
}

async function run(cleanup: Cleanup, names: RunNames, tools: Tools): Promise<void> {
  // ---- 1. the node ----
  heading(1, 'A node of its own');
  createRunDir(names);
  const { node, ipv6 } = createNode(cleanup, names);
  const config = networkConfig(names, ipv6);
  printPairs([
    ['node', `network namespace ${node.name}`],
    ['', `eth0 ${NODE_V4}/24${ipv6 ? ` ${NODE_V6}/64` : ''} (its uplink, to nowhere) and default routes`],
    ['network', `${NETWORK}: mode ebpf, built-in IPAM, pods from ${POD_SUBNET_V4}${ipv6 ? ` and ${POD_SUBNET_V6}` : ''}`],
    ['pin root', `${names.pinRoot} (eBPF program, maps, TCX links)`],
    ['state', `${names.runDir} (attachment records, IPAM store, plugin log)`],
  ]);
  note("the machine's own interfaces, routes, firewall and /sys/fs/bpf/sluice are not touched");

  // ---- 2. pods through the plugin ----
  heading(2, 'Three pods, each added by the CNI plugin as a runtime runs it');
  note(`CNI_COMMAND=ADD nsenter --net=${node.path} node dist/src/cli/main.js < network config`);
  const pods: Pod[] = [];
  const rows: string[][] = [];
  for (let n = 1; n <= POD_COUNT; n++) {
    const ns = createNamespace(cleanup, names.pod(n));
    const containerId = `${names.prefix}-pod${n}`;
    const answer = await runPlugin(cleanup, node.path, config, { command: 'ADD', containerId, netns: ns.path });
    cleanup.check();
    if (answer.code !== 0) throw new Error(`ADD of pod${n} failed: ${describeFailure(answer)}`);
    const result = describeResult(answer.json);
    const ipv4 = result.addresses.find((a) => !a.includes(':'))?.split('/')[0];
    if (!ipv4) throw new Error(`ADD of pod${n} gave no IPv4 address: ${answer.stdout}`);
    const v6 = result.addresses.find((a) => a.includes(':'))?.split('/')[0];
    pods.push({ ...ns, label: `pod${n}`, containerId, ipv4, ...(v6 ? { ipv6: v6 } : {}) });
    rows.push([`pod${n}`, ns.name, result.addresses.join(' '), result.hostVeth ?? '?', millis(answer.ms)]);
  }
  printTable([{ header: 'POD' }, { header: 'NETWORK NAMESPACE' }, { header: 'ADDRESSES' }, { header: 'HOST VETH' }, { header: 'ADD', align: 'right' }], rows);
  // Loaded only now: it brings libbpf.so.1, which ensureTools() may have had to install.
  const { pinnedProgramId } = await import('../datapath/pinned.js');
  const paths = new PinPaths(names.pinRoot);
  const links = safeList(paths.links).length;
  note(`the first ADD loaded the eBPF program (id ${pinnedProgramId(paths) ?? '?'}) and pinned it; the others reused it`);
  note(links >= POD_COUNT ? `each host veth has a TCX link to it (${links} pinned under ${paths.links})` : 'it is attached with tc cls_bpf filters (no TCX on this kernel)');

  // ---- 3. the endpoint table ----
  heading(3, 'Endpoint table: the plugin\'s records and the eBPF counters');
  const podNames = new Map(pods.map((p) => [p.containerId, p.label]));
  const endpoints = () => readEndpoints({ stateDir: names.stateDir, pinRoot: names.pinRoot }, podNames);
  const initial = await endpoints();
  printEndpoints(initial);
  note("one row per attachment (each pod's eth0), as `sluice endpoints --state-dir <dir> --pin-root <dir>` lists them");
  note('TX: what the pod sent; RX: what the program redirected into it (pod-to-pod on this node)');

  // ---- 4. pings ----
  heading(4, 'Traffic: pod to pod and pod to host (ping)');
  const [p1, p2, p3] = pods as [Pod, Pod, Pod];
  const flows: { from: Pod; to: string; address: string; path: string }[] = [
    { from: p1, to: 'pod2', address: p2.ipv4, path: 'eBPF: redirected into the peer pod' },
    { from: p1, to: 'pod3', address: p3.ipv6 ?? p3.ipv4, path: 'eBPF: redirected into the peer pod' },
    { from: p2, to: 'node', address: NODE_V4, path: 'the kernel: delivered to the node' },
    ...(ipv6 ? [{ from: p3, to: 'node', address: NODE_V6, path: 'the kernel: delivered to the node' }] : []),
  ];
  const pingRows: string[][] = [];
  for (const flow of flows) {
    const result = await ping(flow.from.ns, flow.address, PINGS, cleanup);
    pingRows.push([flow.from.label, flow.to, flow.address, flow.path, `${result.received}/${result.sent}`, result.rttUs.length ? micros(median(result.rttUs)) : '-']);
    if (result.received === 0) throw new Error(`no replies from ${flow.to} (${flow.address}) to ${flow.from.label}`);
  }
  printTable([{ header: 'FROM' }, { header: 'TO' }, { header: 'ADDRESS' }, { header: 'PATH' }, { header: 'REPLIES', align: 'right' }, { header: 'RTT (median)', align: 'right' }], pingRows);
  say();
  say('  eBPF counters, change during the pings:');
  const afterPings = await endpoints();
  printCounterChanges(initial, afterPings);
  note("the node's replies go through the kernel, so pod-to-host shows as TX only");

  // ---- 5. throughput ----
  heading(5, `Throughput: one TCP stream, ${STREAM_ROUNDS} runs of ${STREAM_SECONDS} s per path (iperf3), sluice against a plain veth pair`);
  if (!tools.iperf3) {
    note('skipped: iperf3 is not installed and could not be installed (bash scripts/install-deps.sh, as root)');
  } else {
    const [a, b] = createDirectPair(cleanup, names);
    // Alternating runs, the best of each path kept: one short run on a busy VM can be off by 20 %.
    const direct: StreamResult[] = [];
    const viaSluice: StreamResult[] = [];
    const beforeStreams = await endpoints();
    for (let round = 0; round < STREAM_ROUNDS; round++) {
      direct.push(await iperf3Stream(cleanup, { path: b.path, address: VETH_V4[1] }, { path: a.path }, STREAM_SECONDS));
      viaSluice.push(await iperf3Stream(cleanup, { path: p2.path, address: p2.ipv4 }, { path: p1.path }, STREAM_SECONDS));
    }
    const afterStreams = await endpoints();
    const directRtt = await ping(a.ns, VETH_V4[1], RTT_SAMPLES, cleanup);
    const sluiceRtt = await ping(p1.ns, p2.ipv4, RTT_SAMPLES, cleanup);
    const best = (runs: StreamResult[]) => Math.max(...runs.map((r) => r.bitsPerSecond));
    const row = (path: string, runs: StreamResult[], rtt: PingResult) => [
      path,
      rate(best(runs)),
      runs.map((r) => (r.bitsPerSecond / 1e9).toFixed(1)).join(' / '),
      count(runs.reduce((n, r) => n + r.retransmits, 0)),
      rtt.rttUs.length ? micros(median(rtt.rttUs)) : '-',
    ];
    printTable(
      [{ header: 'PATH' }, { header: 'BEST', align: 'right' }, { header: 'EACH RUN (Gbit/s)', align: 'right' }, { header: 'RETRANSMITS', align: 'right' }, { header: 'PING RTT (median)', align: 'right' }],
      [row('a veth pair joining two namespaces (the floor)', direct, directRtt), row('pod1 → pod2 through sluice (bpf_redirect_peer)', viaSluice, sluiceRtt)],
    );
    say();
    say(`  sluice carried ${Math.round((100 * best(viaSluice)) / best(direct))} % of the plain veth's best throughput on this run.`);
    say('  eBPF counters, change during the streams through sluice:');
    printCounterChanges(beforeStreams, afterStreams);
    note('pod1 sent the data (TCP segments of up to 64 KiB each, as GSO hands them over), pod2 the ACKs');
  }

  // ---- 6. cleanup ----
  cleanupHeading();
  const delRows: string[] = [];
  for (const pod of pods) {
    const answer = await runPlugin(cleanup, node.path, config, { command: 'DEL', containerId: pod.containerId, netns: pod.path });
    cleanup.check();
    if (answer.code !== 0) throw new Error(`DEL of ${pod.label} failed: ${describeFailure(answer)}`);
    delRows.push(`${pod.label} ${millis(answer.ms)}`);
  }
  const left = new EndpointState(names.stateDir).list().length;
  say(`  CNI DEL  ${delRows.join(', ')}; attachment records left: ${left}`);
}

let cleanupHeadingShown = false;
function cleanupHeading(): void {
  if (cleanupHeadingShown) return;
  cleanupHeadingShown = true;
  heading(6, 'Cleaning up');
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function printTeardown(report: TeardownReport): void {
  for (const what of report.removed) say(`  removed  ${what}`);
  for (const f of report.failed) say(`  FAILED   ${f.what}: ${f.error instanceof Error ? f.error.message : String(f.error)}`);
}

function logTail(file: string, lines = 15): string[] {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines);
  } catch {
    return [];
  }
}

async function main(): Promise<number> {
  const started = Date.now();
  say('sluice demo: a simulated node in network namespaces on this machine, pods added by the CNI plugin');
  if (process.getuid?.() !== 0) {
    say('it needs root (network namespaces, eBPF): run it as  sudo npm run demo');
    return 1;
  }
  let tools: Tools;
  try {
    const swept = sweepAbandonedRuns();
    if (swept.length) say(`  removed what earlier demos that were killed left behind: ${swept.join(', ')}`);
    tools = ensureTools();
  } catch (err) {
    say(`error: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }

  const names = RunNames.fresh();
  const cleanup = new Cleanup({ SLUICE_DEMO_RUN: names.prefix });
  cleanup.setRemover(() => removeRun(names));
  say(`run ${names.prefix}; Ctrl-C at any time removes everything it made`);

  const onSignal = (signal: keyof typeof SIGNALS) => {
    if (cleanup.stopping) return;
    const report = cleanup.teardown(); // first: a hung-up terminal must not keep it from happening
    say();
    say(`${signal}: stopping and cleaning up`);
    printTeardown(report);
    say(report.failed.length ? 'some of it could not be removed (see above)' : 'nothing left behind');
    process.exit(128 + SIGNALS[signal]);
  };
  for (const signal of Object.keys(SIGNALS) as (keyof typeof SIGNALS)[]) process.on(signal, () => onSignal(signal));
  const onCrash = (err: unknown) => {
    say(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    printTeardown(cleanup.teardown());
    process.exit(1);
  };
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);

  let failure: unknown;
  try {
    await run(cleanup, names, tools);
  } catch (err) {
    failure = err;
  }
  if (failure instanceof Interrupted) return 130; // the signal handler tears down and exits
  if (failure) {
    say();
    say(`error: ${failure instanceof Error ? failure.message : String(failure)}`);
    const tail = logTail(names.logFile);
    if (tail.length) {
      say(`  the end of the plugin's log (${names.logFile}, removed with the run):`);
      for (const line of tail) say(`    ${line}`);
    }
    cleanupHeading();
  }
  const report = cleanup.teardown();
  printTeardown(report);
  if (report.failed.length) {
    say('some of it could not be removed (see above)');
    return 1;
  }
  say(`  nothing left behind`);
  say();
  say(failure ? 'the demo failed (see above)' : `done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return failure ? 1 : 0;
}

// Exit as soon as the demo is done: stdout is synchronous for terminals, pipes and files.
process.exit(await main());
