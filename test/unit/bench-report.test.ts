// The benchmark report (bench/report/): the parts' sections made from their JSON, the summary with its
// wins and losses, the files build.ts writes, the README block it replaces, and how `npm run bench`
// picks its parts. Sample figures in, files out; nothing is measured.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Machine } from '../../bench/lib/machine.js';
import type { ReportSection } from '../../bench/lib/report-types.js';
import type { Summary } from '../../bench/lib/stats.js';
import { BEGIN, buildReport, compare, END, replaceReadmeBlock } from '../../bench/report/build.js';
import { section as codecSection } from '../../bench/report/codec.js';
import { formatFactor } from '../../bench/report/format.js';
import { section as ipamSection } from '../../bench/report/ipam.js';
import { section as routeDumpSection } from '../../bench/report/route-dump.js';
import { PARTS, type Part } from '../../bench/report/sections.js';
import { argsFor, commandLine, packagesFor, selectParts } from '../../bench/run.js';

// ---- sample figures, shaped as the parts write them ----

const machine: Machine = {
  cpu: 'Test CPU', cores: 2, arch: 'x64', memoryGiB: 8, kernel: 'Linux 6.18.0', node: 'v20.0.0', v8: '11.3', load1: 0.5, date: '2026-11-23T10:00:00.000Z',
};

function summary(median: number, spread = 0.1): Summary {
  return { n: 7, median, min: median * (1 - spread), max: median * (1 + spread), q1: median * (1 - spread / 2), q3: median * (1 + spread / 2), iqr: median * spread, mean: median };
}

function codecRow(op: 'decode' | 'encode', name: string, sluice: number, nodeNetlink: number) {
  return {
    op, name, source: 'test', messages: 10, bytes: 1000, iterations: { sluice: 1, nodeNetlink: 1 },
    sluice: summary(sluice), nodeNetlink: summary(nodeNetlink), ratio: sluice / nodeNetlink, ratioOfMedians: sluice / nodeNetlink,
    roundRatios: summary(sluice / nodeNetlink, 0.02), check: { sameValues: true },
  };
}

const codecJson = {
  benchmark: 'codec', command: 'sudo npm run bench:codec', machine, nodeNetlink: '0.3.0',
  config: { runs: 7, warmupRounds: 1, sampleMs: 20, routes: 1000, processPerCase: true }, loadAtEnd: 0.7,
  rows: [
    codecRow('decode', 'link dump', 300_000, 100_000),
    codecRow('decode', 'route dump', 4_000_000, 400_000),
    codecRow('encode', 'RTM_NEWROUTE', 1_000_000, 500_000),
    codecRow('encode', 'RTM_NEWNEIGH', 800_000, 1_000_000), // a loss, to be reported as one
  ],
  table: '(the printed table)',
};

function dumpWay(name: string, ms: number, ipMs: number) {
  return { name, ms: summary(ms), routes: 10009, vsIp: ms / ipMs, vsIpOfMedians: ms / ipMs, roundRatiosVsIp: summary(ms / ipMs, 0.05) };
}

const routeDumpJson = {
  benchmark: 'route-dump', command: 'sudo npm run bench:dump', machine: { ...machine, date: '2026-11-24T10:00:00.000Z', load1: 1.5 }, ip: 'ip utility, iproute2-6.1.0',
  nodeNetlink: { version: '0.3.0', binding: { ok: true, how: 'present' } }, config: { runs: 5, warmupRounds: 1, routes: 10000 }, loadAtEnd: 1,
  results: [
    dumpWay('sluice SyncClient.routeList', 20, 60),
    dumpWay('sluice AsyncClient.routeList', 50, 60),
    dumpWay('ip -j route show table all', 60, 60),
    dumpWay('node-netlink getRoutes', 40, 60),
  ],
  table: '(the printed table)',
};

function ipamRow(leases: number, addMs: number, hostLocalAddMs: number | null) {
  return {
    leases, firstOpMs: leases / 30, addMs: summary(addMs), addP99Ms: addMs * 3, delMs: summary(addMs * 0.8), delP99Ms: addMs * 2, cpuPerRoundMs: addMs * 1.5,
    hostLocal: hostLocalAddMs === null ? null : { addMs: [hostLocalAddMs, hostLocalAddMs * 1.1, hostLocalAddMs * 0.9], delMs: [hostLocalAddMs * 0.9] },
  };
}

function ipamJson(withHostLocal: boolean) {
  return {
    benchmark: 'ipam', command: 'npm run bench:ipam', machine,
    config: { rounds: 100, sizes: [100, 10000, 65000], subnet: '10.80.0.0/16', hostLocal: withHostLocal ? '/usr/lib/cni/host-local' : null, hostLocalRounds: 5 },
    loadAtEnd: 0.4,
    fileSystems: [
      { dir: '/tmp', type: 'ext4', rows: [ipamRow(100, 1.9, withHostLocal ? 5 : null), ipamRow(10000, 1.6, withHostLocal ? 118 : null), ipamRow(65000, 1.3, withHostLocal ? 1234 : null)] },
      { dir: '/dev/shm', type: 'tmpfs', rows: [ipamRow(100, 0.6, withHostLocal ? 8 : null), ipamRow(65000, 0.5, withHostLocal ? 700 : null)] },
    ],
  };
}

interface Scratch {
  dir: string;
  results: string;
  out: string;
  readme: string;
}

function scratch(files: Record<string, unknown>, readme = '# project\n\nIntro.\n\n## Benchmarks\n\nHow to run them.\n\n## Development\n\nBuild it.\n'): Scratch {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-report-test-'));
  const results = join(dir, 'results');
  mkdirSync(results);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(results, name), typeof content === 'string' ? content : JSON.stringify(content));
  writeFileSync(join(dir, 'README.md'), readme);
  return { dir, results, out: join(dir, 'docs', 'benchmarks'), readme: join(dir, 'README.md') };
}

/** The parts these tests give figures for (the control-plane and data-plane sections have tests of their own). */
const TESTED_PARTS = PARTS.filter((p) => ['codec', 'route-dump', 'ipam'].includes(p.part));

function build(s: Scratch, extra: Partial<Parameters<typeof buildReport>[0]> = {}) {
  return buildReport({ resultsDir: s.results, outDir: s.out, readmePath: s.readme, parts: TESTED_PARTS, ...extra });
}

// ---- the parts' sections ----

test('codec section: headlines per operation, the loss named, charts drawn from the rows', () => {
  const s = codecSection(codecJson);
  assert.equal(s.command, 'sudo npm run bench:codec');
  assert.deepEqual(s.machine, machine);
  assert.equal(s.headlines.length, 2);
  const decode = s.headlines[0]!;
  assert.match(decode.metric, /decode/);
  assert.equal(decode.better, 'higher');
  assert.ok(Math.abs(decode.sluice - Math.sqrt(300_000 * 4_000_000)) < 1e-6, 'geometric mean of the medians');
  assert.ok(Math.abs(decode.reference - Math.sqrt(100_000 * 400_000)) < 1e-6);
  assert.match(s.markdown, /sluice is slower in 1 of 4 cases: encode RTM_NEWNEIGH \(0\.80×\)/);
  assert.match(s.markdown, /\| decode: link dump +\|/);
  assert.deepEqual(s.charts.map((c) => c.id), ['codec-ratio', 'codec-decode', 'codec-encode']);
  const ratio = s.charts[0]!;
  assert.ok(ratio.kind === 'bar' && ratio.groups.length === 4 && ratio.groups.every((g) => g.bars.some((b) => b.reference && b.value === 1)));
});

test('route-dump section: sluice against ip -j and node-netlink, slower and faster both said', () => {
  const s = routeDumpSection(routeDumpJson);
  assert.deepEqual(s.headlines.map((h) => [h.sluice, h.reference, h.better]), [[20, 60, 'lower'], [50, 40, 'lower']]);
  assert.match(s.markdown, /SyncClient\.routeList is 3\.00× faster than `ip -j`/);
  assert.match(s.markdown, /AsyncClient\.routeList is 1\.20× faster than `ip -j`, and 1\.25× slower than node-netlink/);
  const chart = s.charts[0]!;
  assert.ok(chart.kind === 'bar');
  assert.deepEqual(chart.groups.flatMap((g) => g.bars.filter((b) => b.reference).map((b) => b.label)), ['ip -j route show table all']);

  const noNodeNetlink = routeDumpSection({
    ...routeDumpJson, nodeNetlink: { version: '0.3.0', binding: { ok: false, error: 'no compiler' } }, results: routeDumpJson.results.slice(0, 3),
  });
  assert.equal(noNodeNetlink.headlines.length, 1);
  assert.match(noNodeNetlink.markdown, /node-netlink is missing: .*no compiler/);
});

test('ipam section: host-local compared at the smallest and largest sizes, the index\'s one-off price included', () => {
  const s = ipamSection(ipamJson(true));
  assert.deepEqual(s.headlines.map((h) => [h.sluice, h.reference]), [[1.9, 5], [1.3, 1234], [1.04, 1234 * 0.9], [65000 / 30, 1234]]);
  assert.match(s.headlines[3]!.metric, /first operation/);
  assert.match(s.markdown, /\*\*\/tmp \(ext4\)\*\*/);
  assert.match(s.markdown, /\*\*\/dev\/shm \(tmpfs\)\*\*/);
  assert.match(s.markdown, /On \/tmp \(ext4\) host-local's ADD takes 2\.63× to 949× as long as sluice's at 100, 10,000, 65,000 leases/);
  assert.match(s.markdown, /On \/dev\/shm \(tmpfs\) host-local's ADD takes 13\.3× to 1400×/);
  assert.doesNotMatch(s.markdown, /is slower than host-local/);

  // Where host-local is faster, the section says so before anything else, and the summary counts a loss.
  const loaded = ipamJson(true);
  loaded.fileSystems[0]!.rows[0] = ipamRow(100, 8.71, 8.43);
  const l = ipamSection(loaded);
  assert.match(l.markdown, /On \/tmp \(ext4\) at 100 leases sluice's ADD \(8\.71 ms\) is slower than host-local's \(8\.43 ms\)/);
  assert.match(l.markdown, /host-local's ADD takes 73\.8× to 949× as long as sluice's at 10,000, 65,000 leases/);
  assert.equal(compare(l.headlines[0]!)?.verdict, 'loses');
  assert.deepEqual(s.charts.map((c) => c.id), ['ipam-host-local', 'ipam-builtin']);

  const alone = ipamSection(ipamJson(false));
  assert.equal(alone.headlines.length, 0);
  assert.match(alone.markdown, /host-local was not installed/);
  assert.deepEqual(alone.charts.map((c) => c.id), ['ipam-builtin']);
});

test('a section refuses figures of the wrong shape, naming the field', () => {
  const broken = structuredClone(codecJson) as { rows: Array<{ sluice: { median: unknown } }> };
  broken.rows[2]!.sluice.median = 'fast';
  assert.throws(() => codecSection(broken), /rows\[2\]\.sluice\.median is not a number/);
  assert.throws(() => routeDumpSection({ ...routeDumpJson, results: {} }), /results is not an array/);
  assert.throws(() => ipamSection(null), /ipam\.json is not an object/);
});

// ---- the summary ----

test('compare: which way is better decides who wins, and by how much', () => {
  assert.deepEqual(compare({ metric: 'm', sluice: 20, reference: 60, unit: 'ms', better: 'lower' }), { ratio: 1 / 3, factor: 3, verdict: 'wins' });
  assert.deepEqual(compare({ metric: 'm', sluice: 20, reference: 10, unit: 'ms', better: 'lower' }), { ratio: 2, factor: 0.5, verdict: 'loses' });
  assert.deepEqual(compare({ metric: 'm', sluice: 8, reference: 10, unit: 'Gbit/s', better: 'higher' })?.verdict, 'loses');
  assert.deepEqual(compare({ metric: 'm', sluice: 10.1, reference: 10, unit: 'Gbit/s', better: 'higher' })?.verdict, 'even');
  assert.equal(compare({ metric: 'm', sluice: 1, reference: 0, unit: 'ms', better: 'lower' }), undefined);
  assert.equal(formatFactor(0.00108), '0.0011×');
  assert.equal(formatFactor(951.4), '951×');
  assert.equal(formatFactor(2.734), '2.73×');
});

// ---- the files ----

test('build: REPORT.md with the machine, a summary of wins and losses, every section, and what did not run', () => {
  const s = scratch({ 'codec.json': codecJson, 'ipam.json': ipamJson(true) });
  try {
    const { outcomes } = build(s, { command: 'sudo npm run bench -- --quick' });
    assert.deepEqual(outcomes.map((o) => [o.part.part, o.status]), [['codec', 'ok'], ['route-dump', 'not run'], ['ipam', 'ok']]);
    const report = readFileSync(join(s.out, 'REPORT.md'), 'utf8');
    assert.match(report, /^# sluice benchmarks\n/);
    assert.match(report, /Produced by `sudo npm run bench -- --quick`\. Measured on 2026-11-23\./);
    assert.match(report, /\*\*Machine\*\*: Test CPU, 2 cores \(x64\), 8 GiB RAM; Linux 6\.18\.0; Node v20\.0\.0/);
    const summary = report.slice(report.indexOf('## Summary'), report.indexOf('## Netlink codec'));
    assert.match(summary, /\| codec +\| decode throughput.*\| +5\.48× \| higher \| \*\*sluice wins\*\*, 5\.48× better/);
    // encode: geometric means 894 k against 707 k: a win overall, the per-case range shows the loss.
    assert.match(summary, /encode throughput vs node-netlink, 2 requests \(geometric mean; per case 0\.80×–2\.00×\)/);
    assert.match(summary, /\| ipam +\| first operation on a 65,000-lease store .*\| +2,167 ms \| +1,234 ms \| +1\.76× \| lower +\| \*\*sluice loses\*\*, 1\.76× worse/);
    assert.match(summary, /Not in this report: route-dump \(not run\)\./);
    assert.match(report, /## route-dump: not run\n\nNo figures: bench\/results\/route-dump\.json does not exist\. Run `sudo npm run bench -- --only route-dump`\./);
    assert.match(report, /## Netlink codec: sluice against node-netlink\n\nCommand: `sudo npm run bench:codec` \(measured 2026-11-23 10:00:00 UTC, 1-minute load 0\.5 at start\)\./);
    assert.match(report, /!\[IPAM: median ADD and DEL.*\]\(charts\/ipam-host-local\.svg\)/);
    // Every chart the report shows exists, and only those.
    const linked = [...report.matchAll(/\]\(charts\/([\w.-]+\.svg)\)/g)].map((m) => m[1]).sort();
    assert.deepEqual(readdirSync(join(s.out, 'charts')).sort(), linked);
    for (const f of linked) assert.match(readFileSync(join(s.out, 'charts', f!), 'utf8'), /^<svg xmlns/);

    const results = JSON.parse(readFileSync(join(s.out, 'results.json'), 'utf8')) as { command: string; parts: Array<{ part: string; status: string; raw?: unknown; headlines?: Array<{ verdict: string }> }> };
    assert.equal(results.command, 'sudo npm run bench -- --quick');
    assert.deepEqual(results.parts.map((p) => p.status), ['ok', 'not run', 'ok']);
    assert.deepEqual(results.parts[0]!.raw, codecJson);
    assert.deepEqual(results.parts[2]!.headlines!.map((h) => h.verdict), ['wins', 'wins', 'wins', 'loses']);
  } finally {
    rmSync(s.dir, { recursive: true, force: true });
  }
});

test('build: the README block is added to the Benchmarks section once, then replaced in place, idempotently', () => {
  const s = scratch({ 'codec.json': codecJson });
  try {
    const original = readFileSync(s.readme, 'utf8');
    build(s, { command: 'sudo npm run bench' });
    const first = readFileSync(s.readme, 'utf8');
    const block = first.slice(first.indexOf(BEGIN), first.indexOf(END) + END.length);
    assert.ok(first.indexOf(BEGIN) > first.indexOf('How to run them.') && first.indexOf(END) < first.indexOf('## Development'), 'inside the Benchmarks section');
    assert.equal(first.replace(`${block}\n\n`, ''), original, 'the rest of the README as it was');
    assert.match(block, /\| codec +\| decode throughput/);
    assert.match(block, /Produced by `sudo npm run bench`\. Measured on Test CPU, 2 cores .*, on 2026-11-23\./);
    assert.match(block, /\[docs\/benchmarks\/REPORT\.md\]\(docs\/benchmarks\/REPORT\.md\)/);
    assert.match(block, /Not in this report: route-dump \(not run\), ipam \(not run\)\./);
    const report = readFileSync(join(s.out, 'REPORT.md'), 'utf8');

    build(s, { command: 'sudo npm run bench' });
    assert.equal(readFileSync(s.readme, 'utf8'), first, 'building again changes nothing');
    assert.equal(readFileSync(join(s.out, 'REPORT.md'), 'utf8'), report);

    writeFileSync(join(s.results, 'ipam.json'), JSON.stringify(ipamJson(true)));
    build(s, { command: 'sudo npm run bench' });
    const third = readFileSync(s.readme, 'utf8');
    assert.equal(third.split(BEGIN).length, 2, 'one block, replaced');
    assert.match(third, /\| ipam +\| ADD median at 100 leases/);
    assert.doesNotMatch(third, /ipam \(not run\)/);
    assert.equal(third.slice(0, third.indexOf(BEGIN)), first.slice(0, first.indexOf(BEGIN)));
    assert.equal(third.slice(third.indexOf(END)), first.slice(first.indexOf(END)));
  } finally {
    rmSync(s.dir, { recursive: true, force: true });
  }
});

test('replaceReadmeBlock: a README without a Benchmarks section gets one; broken markers are refused', () => {
  const appended = replaceReadmeBlock('# p\n\ntext\n', 'TABLE');
  assert.equal(appended, `# p\n\ntext\n\n## Benchmarks\n\n${BEGIN}\nTABLE\n${END}\n`);
  assert.equal(replaceReadmeBlock(appended, 'TABLE'), appended);
  assert.equal(replaceReadmeBlock(appended, 'NEW'), appended.replace('TABLE', 'NEW'));
  const last = replaceReadmeBlock('# p\n\n## Benchmarks\n\nrun it\n', 'T');
  assert.equal(last, `# p\n\n## Benchmarks\n\nrun it\n\n${BEGIN}\nT\n${END}\n`);
  assert.throws(() => replaceReadmeBlock(`a ${BEGIN} b`, 'T'), /without the other/);
  assert.throws(() => replaceReadmeBlock(`${END} ${BEGIN}`, 'T'), /wrong order/);
  assert.throws(() => replaceReadmeBlock(`${BEGIN}${END}${BEGIN}${END}`, 'T'), /more than once/);
});

test('build: unreadable and failed parts are reported as such, stale charts removed, chart ids kept apart', () => {
  const s = scratch({ 'codec.json': '{ not json', 'route-dump.json': { ...routeDumpJson, results: 'none' }, 'ipam.json': ipamJson(true) });
  try {
    mkdirSync(join(s.out, 'charts'), { recursive: true });
    writeFileSync(join(s.out, 'charts', 'old-chart.svg'), '<svg/>');
    writeFileSync(join(s.out, 'charts', 'keep.txt'), 'not a chart');
    const { outcomes } = build(s, { command: 'sudo npm run bench -- --only ipam', ran: [], failed: { ipam: 'its run failed (exit 1)' } });
    assert.deepEqual(outcomes.map((o) => o.status), ['unreadable', 'unreadable', 'failed']);
    const report = readFileSync(join(s.out, 'REPORT.md'), 'utf8');
    assert.match(report, /## codec: unreadable\n\nThe figures could not be read: codec\.json: /);
    assert.match(report, /route-dump\.json: results is not an array/);
    assert.match(report, /## ipam: failed\n\nNo figures from this run: its run failed \(exit 1\)\./);
    assert.match(report, /_No part has results yet\._/);
    assert.deepEqual(readdirSync(join(s.out, 'charts')).sort(), ['keep.txt']);

    const twice = (id: string): Part => ({
      part: id, resultsFile: 'codec.json', run: { entry: 'x.js' },
      section: (): ReportSection => ({ id, title: id, command: 'c', markdown: '', headlines: [], raw: null, charts: [{ kind: 'bar', id: 'same', title: 't', unit: 'ms', better: 'lower', groups: [] }] }),
    });
    writeFileSync(join(s.results, 'codec.json'), '{}');
    const second = build(s, { parts: [twice('a'), twice('b')] }).outcomes;
    assert.deepEqual(second.map((o) => o.status), ['ok', 'unreadable']);
    assert.match(readFileSync(join(s.out, 'REPORT.md'), 'utf8'), /chart id same is used twice/);
  } finally {
    rmSync(s.dir, { recursive: true, force: true });
  }
});

test('build: figures from an earlier run are said to be from an earlier run', () => {
  const s = scratch({ 'codec.json': codecJson, 'ipam.json': ipamJson(true) });
  try {
    build(s, { command: 'sudo npm run bench -- --only ipam', ran: ['ipam'] });
    const report = readFileSync(join(s.out, 'REPORT.md'), 'utf8');
    assert.match(report, /`sudo npm run bench -- --only ipam` ran ipam; the figures of codec are from an earlier run \(see the dates\)/);
    build(s);
    assert.match(readFileSync(join(s.out, 'REPORT.md'), 'utf8'), /Collected by `npm run bench:report`/);
    assert.ok(existsSync(join(s.out, 'results.json')));
  } finally {
    rmSync(s.dir, { recursive: true, force: true });
  }
});

// ---- npm run bench ----

test('the registry: every part has a unique name, results file and program; sections are the real ones', () => {
  assert.deepEqual(PARTS.map((p) => p.part), ['codec', 'route-dump', 'ipam', 'control-plane', 'dataplane']);
  for (const key of ['part', 'resultsFile'] as const) assert.equal(new Set(PARTS.map((p) => p[key])).size, PARTS.length);
  assert.equal(new Set(PARTS.map((p) => p.run.entry)).size, PARTS.length);
  assert.equal(PARTS[0]!.section, codecSection);
});

test('npm run bench: --only picks parts in the registry\'s order and names the unknown ones; quick arguments and packages', () => {
  assert.deepEqual(selectParts(PARTS, undefined).parts.map((p) => p.part), ['codec', 'route-dump', 'ipam', 'control-plane', 'dataplane']);
  const some = selectParts(PARTS, 'dataplane, ipam, codec,frobnicate');
  assert.deepEqual(some.parts.map((p) => p.part), ['codec', 'ipam', 'dataplane']);
  assert.deepEqual(some.unknown, ['frobnicate']);
  assert.deepEqual(selectParts(PARTS, '').parts, []);
  const codec = PARTS.find((p) => p.part === 'codec')!;
  assert.deepEqual(argsFor(codec, false), []);
  assert.deepEqual(argsFor(codec, true), ['--runs', '7', '--sample-ms', '20']);
  assert.deepEqual(argsFor({ ...codec, run: { entry: 'x.js' } }, true), []);
  assert.deepEqual(packagesFor(PARTS), ['iproute2', 'containernetworking-plugins', 'iperf3', 'sockperf']);
  assert.equal(commandLine(['--only', 'codec,ipam', '--quick'], true), 'sudo npm run bench -- --only codec,ipam --quick');
  assert.equal(commandLine([], false), 'npm run bench');
});
