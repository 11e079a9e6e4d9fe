// The control-plane bench's pure parts: growth buckets, /proc parsing, the results check and the
// report section made from sample results (ratios, and which side each sentence says wins), plus the
// memory pass's maxrss wrapper and the launcher that starts the plugins, when a C compiler is at hand.
// No timing is asserted beyond a launched call lasting at least as long as it sleeps.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { bucketize, bucketSizeFor, growthFactor } from '../../bench/control-plane/growth.js';
import { buildLauncher, Launcher } from '../../bench/control-plane/launcher.js';
import { buildMaxrss, readMaxrss } from '../../bench/control-plane/maxrss.js';
import { parseProcStatus } from '../../bench/control-plane/proc-memory.js';
import { issue7Target, latencySummary, parseResults, type CniLatencyResults, type ContenderKind, type ContenderResult } from '../../bench/control-plane/results.js';
import { describeMachine } from '../../bench/lib/machine.js';
import type { BarChart, LineChart } from '../../bench/lib/report-types.js';
import { outcome, section, versus } from '../../bench/report/control-plane.js';

test('bucketSizeFor: about ten buckets', () => {
  assert.equal(bucketSizeFor(500), 50);
  assert.equal(bucketSizeFor(60), 6);
  assert.equal(bucketSizeFor(65), 7);
  assert.equal(bucketSizeFor(1), 1);
  assert.throws(() => bucketSizeFor(0), RangeError);
});

test('bucketize: consecutive pod counts, 1-based, the last bucket holding what is left', () => {
  const samples = [5, 1, 3, 2, 4, 10, 6, 8, 7, 9, 100, 200];
  const buckets = bucketize(samples, 5);
  assert.deepEqual(buckets.map((b) => [b.from, b.to, b.n, b.median]), [[1, 5, 5, 3], [6, 10, 5, 8], [11, 12, 2, 150]]);
  assert.equal(buckets[0]!.q1, 2);
  assert.equal(buckets[0]!.q3, 4);
  assert.ok(buckets[2]!.p99 > 198 && buckets[2]!.p99 <= 200);
  assert.deepEqual(bucketize([], 5), []);
  assert.throws(() => bucketize(samples, 0), RangeError);
  assert.equal(growthFactor(buckets), 50);
  assert.equal(growthFactor(bucketize([7, 7], 5)), 1);
});

test('parseProcStatus: VmRSS, VmHWM and Threads in KiB', () => {
  const status = 'Name:\tnode\nVmPeak:\t 1200000 kB\nVmHWM:\t  135168 kB\nVmRSS:\t  125000 kB\nThreads:\t11\n';
  assert.deepEqual(parseProcStatus(status), { rssKiB: 125000, hwmKiB: 135168, threads: 11 });
  assert.throws(() => parseProcStatus('Name:\tnode\n'), /VmRSS/);
});

// ---- sample results ----

const constant = (n: number, value: number) => Array<number>(n).fill(value);

function contender(name: string, kind: ContenderKind, ipMasq: boolean, addMs: number[], delMs: number[], more: Partial<ContenderResult> = {}): ContenderResult {
  return {
    name, kind, ipMasq,
    add: latencySummary(addMs.slice(0, 10)), del: latencySummary(delMs.slice(0, 10)),
    growth: { addMs, delMs },
    burstAddMs: 100, burstDelMs: 100,
    memory: { addPeakKiB: [5120, 5000, 4900], delPeakKiB: [5000, 5000, 5000] },
    failures: [],
    ...more,
  };
}

const agentMemory = { addPeakKiB: [1024, 1000, 1010], delPeakKiB: [900, 900, 900], agent: { afterWarmup: { rssKiB: 120000, hwmKiB: 131072, threads: 11 }, atEnd: { rssKiB: 125000, hwmKiB: 135168, threads: 11 } } };

function sample(options: { agentAdd?: number } = {}): CniLatencyResults {
  const agentAdd = options.agentAdd ?? 20;
  const results = [
    contender('sluice agent (shim)', 'agent', false, constant(20, agentAdd), constant(20, 15), { burstAddMs: 500, burstDelMs: 90, memory: agentMemory }),
    contender('sluice agent, cls_bpf attach', 'agent-cls', false, constant(20, 12), constant(20, 14), { memory: agentMemory }),
    contender('sluice standalone', 'standalone', false, constant(10, 200), constant(10, 180), { memory: { addPeakKiB: [61440, 61000, 60000], delPeakKiB: [60000, 60000, 60000] } }),
    // 10 ms over pods 1-10, 20 ms over 11-20: grows 2x.
    contender('bridge + host-local', 'bridge', false, [...constant(10, 10), ...constant(10, 20)], constant(20, 20), { burstAddMs: 250, burstDelMs: 100 }),
    contender('sluice agent (shim), ipMasq', 'agent', true, constant(20, 30), constant(20, 50), { memory: agentMemory }),
    contender('bridge + host-local, ipMasq', 'bridge', true, constant(20, 40), constant(20, 80)),
  ];
  return {
    benchmark: 'cni-latency',
    command: 'sudo node dist/bench/cni-latency.js --pods 10 --growth 20 --standalone-growth 10',
    machine: describeMachine(new Date(0)),
    loadAtEnd: 1.5,
    config: { pods: 10, growth: 20, standaloneGrowth: 10, bucket: 5, warmup: 3, memoryCalls: 3, agentWorkers: 4 },
    results,
    skipped: ['sluice standalone, ipMasq: left out for the test'],
    target: issue7Target(results),
    elapsedSeconds: 600,
  };
}

test('versus and outcome: lower is better, within 5% is a par', () => {
  assert.equal(outcome(20, 10), 'lose');
  assert.equal(outcome(7, 10), 'win');
  assert.equal(outcome(10.4, 10), 'par');
  assert.equal(outcome(9.6, 10), 'par');
  assert.equal(versus(20, 10, (x) => `${x} ms`), '20 ms vs 10 ms (2.00×): sluice is slower');
  assert.equal(versus(1, 5, (x) => `${x} MiB`, 'memory'), '1 MiB vs 5 MiB (0.20×): sluice uses less');
});

test('issue7Target: the agent against half the bridge plugin, both without ipMasq', () => {
  assert.deepEqual(sample().target, { agentAddMedian: 20, halfBridgeAdd: 5, met: false });
  assert.deepEqual(sample({ agentAdd: 4 }).target, { agentAddMedian: 4, halfBridgeAdd: 5, met: true });
});

test('parseResults refuses what is not the bench\'s JSON', () => {
  assert.throws(() => parseResults(null), TypeError);
  assert.throws(() => parseResults({ benchmark: 'codec' }), /benchmark/);
  const old = sample() as unknown as { results: Record<string, unknown>[] };
  delete old.results[0]!.kind;
  assert.throws(() => parseResults(old), /results\[0\].*kind/);
  const noBridge = sample();
  noBridge.results = noBridge.results.filter((r) => !(r.kind === 'bridge' && !r.ipMasq));
  assert.throws(() => parseResults(noBridge), /reference/);
  assert.doesNotThrow(() => parseResults(JSON.parse(JSON.stringify(sample()))));
});

test('section: the latency table and the sentences say who wins, with the right ratios', () => {
  const s = section(sample());
  assert.equal(s.id, 'control-plane');
  assert.equal(s.command, 'sudo node dist/bench/cni-latency.js --pods 10 --growth 20 --standalone-growth 10');
  const md = s.markdown;
  assert.match(md, /\| sluice agent \(shim\) +\| +20\.0 ms \| +20\.0 ms–20\.0 ms \| +20\.0 ms \| +2\.00× \|/);
  assert.ok(md.includes('Median ADD, agent vs bridge plugin: 20.0 ms vs 10.0 ms (2.00×): sluice is slower.'), md);
  assert.ok(md.includes('Median DEL, agent vs bridge plugin: 15.0 ms vs 20.0 ms (0.75×): sluice is faster.'));
  assert.ok(md.includes('Median ADD with ipMasq, agent vs bridge plugin: 30.0 ms vs 40.0 ms (0.75×): sluice is faster.'));
  assert.ok(md.includes('Median DEL with ipMasq, agent vs bridge plugin: 50.0 ms vs 80.0 ms (0.63×): sluice is faster.'));
  assert.ok(md.includes("Issue 7's target, the agent's median ADD under half the bridge plugin's (5.00 ms): not met (20.0 ms)."));
  assert.ok(md.includes('standalone plugin (it starts Node for every call) vs bridge plugin: 200 ms vs 10.0 ms (20.0×): sluice is slower.'));
  assert.ok(md.includes('10 ADDs at once, agent vs bridge plugin: 500 ms vs 250 ms (2.00×): sluice is slower.'));
  assert.ok(md.includes('10 DELs at once, agent vs bridge plugin: 90.0 ms vs 100 ms (0.90×): sluice is faster.'));
  assert.ok(md.includes('left out: sluice standalone, ipMasq: left out for the test'));
  assert.ok(!md.includes('FAILED'));
  assert.ok(section(sample({ agentAdd: 4 })).markdown.includes('(5.00 ms): met (4.00 ms).'));
  assert.ok(section(sample({ agentAdd: 10.3 })).markdown.includes('10.3 ms vs 10.0 ms (1.03×): on a par (within 5%).'));
});

test('section: growth per bucket, shorter runs padded, the steepest named', () => {
  const md = section(sample()).markdown;
  assert.match(md, /\| contender +\| +1–5 \| +6–10 \| +11–15 \| +16–20 \| last ÷ first \|/);
  assert.match(md, /\| bridge \+ host-local +\| +10\.0 ms \| +10\.0 ms \| +20\.0 ms \| +20\.0 ms \| +2\.00× \|/);
  assert.match(md, /\| sluice standalone +\| +200 ms \| +200 ms \| +– \| +– \| +1\.00× \|/);
  assert.ok(md.includes('Grows the most: bridge + host-local, 2.00× from the first bucket to the last.'));
  assert.ok(md.includes('The standalone plugin added 10 pods, not 20'));
});

test('section: memory, the shim wins per call and the resident agent loses, said plainly', () => {
  const md = section(sample()).markdown;
  assert.ok(md.includes('the shim vs the bridge plugin: 1.0 MiB vs 5.0 MiB (0.20×): sluice uses less'), md);
  assert.ok(md.includes('The standalone plugin (Node) for one ADD vs the bridge plugin: 60.0 MiB vs 5.0 MiB (12.0×): sluice uses more.'));
  assert.ok(md.includes('its 4 worker threads'));
  assert.ok(md.includes('Resident agent vs one bridge plugin call: 132 MiB vs 5.0 MiB (26.4×): sluice uses more.'));
  assert.match(md, /\| sluice agent \(shim\) +\| +1\.0 MiB \| +0\.9 MiB \| +128 MiB \| +132 MiB \| +122 MiB \|/);
});

test('section: a contender whose memory pass failed has no memory figure, and says so', () => {
  const r = sample();
  r.results[0]!.memory = { addPeakKiB: [], delPeakKiB: [] };
  const s = section(r);
  assert.ok(s.markdown.includes('No memory figure for sluice agent (shim): every call of its memory pass failed.'));
  assert.ok(!s.markdown.includes('the shim vs the bridge plugin'));
  assert.ok(!/NaN|Infinity/.test(s.markdown), s.markdown);
  assert.match(s.markdown, /\| sluice agent \(shim\) +\| +– \| +– \| +– \| +– \| +– \|/);
  assert.ok(!s.headlines.some((h) => h.unit === 'MiB' && h.metric.includes('shim')));
  const memory = s.charts.find((c) => c.id === 'control-plane-memory') as BarChart;
  assert.ok(!memory.groups[0]!.bars.some((b) => b.label === 'sluice agent (shim)'));
});

test('section: failures are listed, at most five per contender', () => {
  const r = sample();
  r.results[0]!.failures = Array.from({ length: 7 }, (_, i) => `ADD ctr-${i}: boom`);
  const md = section(r).markdown;
  assert.ok(md.includes('FAILED (sluice agent (shim)): ADD ctr-0: boom'));
  assert.ok(!md.includes('ctr-5'));
  assert.ok(md.includes('FAILED (sluice agent (shim)): 2 more failures'));
});

test('section: headlines, wins and losses alike', () => {
  const byMetric = new Map(section(sample()).headlines.map((h) => [h.metric, h]));
  const h = (metric: string) => {
    const found = byMetric.get(metric);
    assert.ok(found, `no headline "${metric}" among ${[...byMetric.keys()].join(' | ')}`);
    return [found.sluice, found.reference, found.unit, found.better];
  };
  assert.deepEqual(h('ADD median, agent (shim) vs bridge + host-local'), [20, 10, 'ms', 'lower']);
  assert.deepEqual(h('ADD median with ipMasq, agent (shim) vs bridge + host-local'), [30, 40, 'ms', 'lower']);
  assert.deepEqual(h('DEL median, agent (shim) vs bridge + host-local'), [15, 20, 'ms', 'lower']);
  assert.deepEqual(h('ADD median, standalone plugin vs bridge + host-local'), [200, 10, 'ms', 'lower']);
  assert.deepEqual(h('10 ADDs at once, agent vs bridge + host-local'), [500, 250, 'ms', 'lower']);
  assert.deepEqual(h('10 DELs at once, agent vs bridge + host-local'), [90, 100, 'ms', 'lower']);
  assert.deepEqual(h('peak memory of one ADD call, shim vs bridge + host-local'), [1, 5, 'MiB', 'lower']);
  assert.deepEqual(h('peak memory, the resident agent vs one bridge + host-local ADD call'), [132, 5, 'MiB', 'lower']);
});

test('section: charts: latency with IQR, burst, growth lines, memory; the standalone plugin noted, not drawn', () => {
  const charts = section(sample()).charts;
  assert.deepEqual(charts.map((c) => [c.kind, c.id]), [['bar', 'control-plane-latency'], ['bar', 'control-plane-burst'], ['line', 'control-plane-growth'], ['bar', 'control-plane-memory']]);
  const latency = charts[0] as BarChart;
  assert.deepEqual(latency.groups.map((g) => g.label), ['ADD', 'DEL']);
  const add = latency.groups[0]!.bars;
  assert.ok(!add.some((b) => b.label.includes('standalone')));
  assert.deepEqual(add.find((b) => b.label === 'bridge + host-local'), { label: 'bridge + host-local', value: 10, low: 10, high: 10, reference: true });
  assert.equal(add.find((b) => b.label === 'sluice agent (shim)')!.reference, undefined);
  assert.match(latency.note!, /sluice standalone: ADD 200 ms, DEL 180 ms/);
  const burst = charts[1] as BarChart;
  assert.deepEqual(burst.groups[0]!.bars.map((b) => b.value), [500, 100, 250, 100, 100]);
  const growth = charts[2] as LineChart;
  assert.deepEqual(growth.series.find((s) => s.label === 'bridge + host-local')!.points, [[5, 10], [10, 10], [15, 20], [20, 20]]);
  assert.ok(!growth.series.some((s) => s.label.includes('standalone')));
  const memory = charts[3] as BarChart;
  assert.equal(memory.unit, 'MiB');
  assert.deepEqual(memory.groups[0]!.bars.find((b) => b.label === 'sluice standalone'), { label: 'sluice standalone', value: 60, low: 60000 / 1024, high: 60 });
  assert.deepEqual(memory.groups[1]!.bars.map((b) => [b.label, b.value]), [['sluice agent (shim)', 132], ['sluice agent, cls_bpf attach', 132], ['sluice agent (shim), ipMasq', 132]]);
});

test('section: repeated bursts give the median with their range, in the table and as whiskers', () => {
  const r = sample();
  const agent = r.results.find((c) => c.kind === 'agent' && !c.ipMasq)!;
  agent.bursts = { addMs: [400, 500, 700], delMs: [90, 90, 95] };
  const s = section(r);
  assert.match(s.markdown, /\| 500 ms \(400 ms–700 ms\) \| 90\.0 ms \(90\.0 ms–95\.0 ms\) \|/);
  const bars = (s.charts[1] as BarChart).groups[0]!.bars;
  assert.deepEqual(bars.find((b) => b.label === 'sluice agent (shim)'), { label: 'sluice agent (shim)', value: 500, low: 400, high: 700 });
  assert.equal(bars.find((b) => b.label === 'bridge + host-local')!.low, undefined, 'a single burst has no whiskers');
});

const hasCompiler = spawnSync('cc', ['--version']).status === 0;

test('maxrss: passes stdin, stdout and the exit status through and writes the peak RSS', { skip: !hasCompiler && 'no C compiler (cc)' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-maxrss-'));
  try {
    const maxrss = buildMaxrss(dir);
    const out = join(dir, 'figure');
    assert.equal(execFileSync(maxrss, [out, 'cat'], { input: 'hello', encoding: 'utf8' }), 'hello');
    assert.ok(readMaxrss(out) > 0);
    assert.equal(spawnSync(maxrss, [out, 'sh', '-c', 'exit 3']).status, 3);
    assert.equal(spawnSync(maxrss, [out, 'sh', '-c', 'kill -TERM $$']).status, 128 + 15);
    // A grandchild's peak counts (the bridge plugin runs host-local), and a big one shows.
    execFileSync(maxrss, [out, 'sh', '-c', `${JSON.stringify(process.execPath)} -e "Buffer.alloc(96 * 2 ** 20).fill(1)"; true`]);
    assert.ok(readMaxrss(out) >= 96 * 1024, `peak ${readMaxrss(out)} KiB`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('launcher: runs calls side by side with exactly the argv, environment and stdin given, and times them', { skip: !hasCompiler && 'no C compiler (cc)' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-launcher-'));
  const launcher = new Launcher(buildLauncher(dir));
  try {
    const big = 'x'.repeat(300_000);
    const [echo, env, status, killed, slow, missing] = await Promise.all([
      launcher.run('/bin/cat', ['cat'], {}, big),
      launcher.run('/bin/sh', ['sh', '-c', 'echo "$0:$FOO:${HOME-unset}"'], { FOO: 'bar baz' }, ''),
      launcher.run('/bin/sh', ['sh', '-c', 'exit 3'], {}, ''),
      launcher.run('/bin/sh', ['sh', '-c', 'kill -TERM $$'], {}, ''),
      launcher.run('/bin/sh', ['sh', '-c', 'sleep 0.2; echo late'], {}, ''),
      launcher.run('/nonexistent/plugin', ['plugin'], {}, ''),
    ]);
    assert.equal(echo.code, 0);
    assert.equal(echo.stdout, big);
    assert.deepEqual([env.code, env.stdout], [0, 'sh:bar baz:unset\n']);
    assert.equal(status.code, 3);
    assert.equal(killed.code, 128 + 15);
    assert.deepEqual([slow.code, slow.stdout], [0, 'late\n']);
    assert.ok(slow.ms >= 190, `a call that sleeps 0.2 s was timed at ${slow.ms} ms`);
    assert.equal(missing.code, -1);
    assert.match(missing.stdout, /cannot run \/nonexistent\/plugin: No such file or directory/);
    await launcher.close();
    await assert.rejects(launcher.run('/bin/true', ['true'], {}, ''), /the launcher exited \(0\)/);
  } finally {
    await launcher.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
