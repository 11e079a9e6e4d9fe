// The data-plane benchmark's machinery on this kernel, very short (1 run of 1 s per pattern): the floor,
// the bridge plugin and sluice ebpf, with and without rules, give figures above zero; the rules'
// counters show the bridge plugin's packets crossing the node's netfilter and sluice ebpf's not; and
// nothing of it is left: namespaces, pin roots, processes, nft tables. Then the bench program itself,
// stopped by SIGINT in the middle of a measurement, cleans up just as completely.
// Nothing here measures time: the timeouts only keep a hung run from blocking the suite.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runDataplane } from '../../bench/dataplane/run.js';
import { PATTERNS, type DataplaneRaw } from '../../bench/dataplane/results.js';
import { section } from '../../bench/report/dataplane.js';
import { Cleanup } from '../../src/demo/cleanup.js';
import { ipNetnsList, isRoot, NEEDS_ROOT } from '../support/kernel.js';

const SAFETY_TIMEOUT_MS = 240_000;
const options = isRoot ? { timeout: SAFETY_TIMEOUT_MS } : { skip: NEEDS_ROOT };
const BENCH = fileURLToPath(new URL('../../bench/dataplane.js', import.meta.url));

/** Pids of live processes whose environment carries `entry` (NAME=value). */
function processesWith(entry: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/environ`, 'utf8').split('\0').includes(entry)) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** What a process `pid` of the benchmark could leave: its namespaces and pin roots (named after its pid). */
function leftoversOf(pid: number): { namespaces: string[]; pinRoots: string[] } {
  return {
    namespaces: ipNetnsList().filter((n) => n.startsWith(`sl-t${pid}-`)),
    pinRoots: readdirSync('/sys/fs/bpf').filter((n) => n.startsWith(`sluice-test-${pid}-`)),
  };
}

const hostTables = () => execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' });

test('the data-plane machinery measures floor, bridge plugin and sluice ebpf with and without rules, and leaves nothing behind', options, async () => {
  const mark = `SLUICE_BENCH_RUN=dataplane-test-${process.pid}-${randomBytes(3).toString('hex')}`;
  const cleanup = new Cleanup({ SLUICE_BENCH_RUN: mark.split('=')[1]! });
  let raw: DataplaneRaw | undefined;
  try {
    raw = await runDataplane({
      setups: ['floor', 'bridge-plugin', 'sluice-ebpf'], patterns: PATTERNS, runs: 1, seconds: 1, rules: 500,
      messageBytes: 64, connectors: 2, mtu: 1500, forceBridgeChain: false, quick: true, command: 'kernel test', log: () => {},
    }, cleanup);
  } finally {
    const teardown = cleanup.teardown();
    assert.deepEqual(teardown.failed, [], 'the teardown removed everything');
  }

  assert.ok(raw);
  assert.deepEqual(raw.variants.map((v) => `${v.setup}${v.rules ? '+rules' : ''}`), ['floor', 'bridge-plugin', 'bridge-plugin+rules', 'sluice-ebpf', 'sluice-ebpf+rules']);
  for (const v of raw.variants) {
    const name = `${v.setup}${v.rules ? ' with rules' : ''}`;
    assert.deepEqual(v.failures, [], name);
    assert.ok(v.stream!.bitsPerSecond[0]! > 0, `${name}: throughput`);
    assert.ok(v.rr!.p50Us[0]! > 0 && v.rr!.p99Us[0]! >= v.rr!.p50Us[0]!, `${name}: round trips ${v.rr!.p50Us} ${v.rr!.p99Us}`);
    assert.ok(v.rr!.perSecond[0]! > 0, `${name}: round trips per second`);
    assert.ok(v.crr!.perSecond[0]! > 0, `${name}: connections per second`);
  }
  const variants = raw.variants;
  const withRules = (setup: string) => variants.find((v) => v.setup === setup && v.rules)!;
  const crossed = (setup: string) => Object.values(withRules(setup).chainPackets ?? {}).reduce((a, b) => a + (b ?? 0), 0);
  assert.deepEqual(withRules('sluice-ebpf').hooks, ['inet forward']);
  assert.equal(crossed('sluice-ebpf'), 0, 'sluice ebpf\'s pod-to-pod packets never met the rules');
  assert.ok(crossed('bridge-plugin') > 0, 'the bridge plugin\'s packets went through the rules');
  assert.match(section(raw).markdown, /sluice ebpf bypasses netfilter, as measured/);

  assert.deepEqual(leftoversOf(process.pid), { namespaces: [], pinRoots: [] });
  assert.deepEqual(processesWith(mark), [], 'no server or client is left running');
  assert.doesNotMatch(hostTables(), /sluice-bench/, 'no rules table of the bench in the machine\'s own namespace');
});

test('bench/dataplane.js stopped by SIGINT during a measurement removes everything it made', options, async () => {
  const child = spawn(process.execPath, [BENCH, '--runs', '1', '--seconds', '30', '--setups', 'floor,sluice-ebpf', '--patterns', 'stream'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const pid = child.pid!;
  // Its iperf3 client runs for 30 s: wait until one does (a process carrying the bench's mark).
  const iperf3Running = () => readdirSync('/proc').some((p) => {
    try {
      return /^\d+$/.test(p) && readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith('iperf3\0--client') && readFileSync(`/proc/${p}/environ`, 'utf8').includes(`SLUICE_BENCH_RUN=dataplane-${pid}-`);
    } catch {
      return false;
    }
  });
  let ended = false;
  void exit.then(() => (ended = true));
  while (!iperf3Running()) {
    assert.ok(!ended, `the bench ended before its iperf3 client started: ${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(leftoversOf(pid).namespaces.length > 0, 'the bench had made its namespaces');
  child.kill('SIGINT');
  assert.equal(await exit, 130, output);
  assert.match(output, /SIGINT: stopped; everything it made is removed/);
  assert.deepEqual(leftoversOf(pid), { namespaces: [], pinRoots: [] });
  const marked = readdirSync('/proc').filter((p) => {
    try {
      return /^\d+$/.test(p) && readFileSync(`/proc/${p}/environ`, 'utf8').includes(`SLUICE_BENCH_RUN=dataplane-${pid}-`);
    } catch {
      return false;
    }
  });
  assert.deepEqual(marked, [], 'no process of the bench is left');
});
