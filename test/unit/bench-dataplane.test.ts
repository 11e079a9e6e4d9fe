// The data-plane benchmark's pure parts: reading iperf3, sockperf, connrate, /proc/net/tcp and nft
// output (captured from the real tools, in test/fixtures/dataplane/), the rules it loads, and the
// report section made from a results file: ratios to the floor, which comparisons sluice wins and
// loses, and what the text says about where the rules were and what crossed them.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chainCounters, listensOn, parseConnrate, parseIperf3, parseSockperf } from '../../bench/dataplane/parse.js';
import type { DataplaneRaw, SetupId, VariantResult } from '../../bench/dataplane/results.js';
import { rulesetScript, serviceAddress } from '../../bench/dataplane/rules.js';
import { compare, readDataplane, section } from '../../bench/report/dataplane.js';
import { summarize } from '../../bench/lib/stats.js';

const fixture = (name: string) => readFileSync(fileURLToPath(new URL(`../../../test/fixtures/dataplane/${name}`, import.meta.url)), 'utf8');

test('parseIperf3 takes the receiver\'s rate and the sender\'s retransmits from iperf3 --json', () => {
  const s = parseIperf3(fixture('iperf3-client.json'));
  assert.equal(s.bitsPerSecond, 15053595073.299255);
  assert.equal(s.bytes, 1884028928);
  assert.equal(s.retransmits, 90);
});

test('parseIperf3 throws iperf3\'s own error, and says when there is no JSON at all', () => {
  assert.throws(() => parseIperf3(fixture('iperf3-refused.json')), /iperf3: unable to connect to server: Connection refused/);
  assert.throws(() => parseIperf3('iperf3: error - unable to connect'), /iperf3 printed no JSON: iperf3: error/);
  assert.throws(() => parseIperf3('{"end": {}}'), /no received rate/);
});

test('parseSockperf reads round-trip percentiles and the rate over the measured interval, through the colour codes', () => {
  const p = parseSockperf(fixture('sockperf-ping-pong-full-rtt.txt'));
  assert.equal(p.roundTrip, true);
  assert.equal(p.avg, 84.581);
  assert.equal(p.p50, 80.989);
  assert.equal(p.p99, 136.421);
  assert.equal(p.min, 15.863);
  assert.equal(p.max, 3800.134);
  assert.equal(p.messages, 18278);
  assert.equal(p.seconds, 1.55);
  assert.equal(p.perSecond, 18278 / 1.55);
});

test('parseSockperf tells sockperf\'s default half round trips apart, and throws on output without figures', () => {
  const p = parseSockperf(fixture('sockperf-ping-pong.txt'));
  assert.equal(p.roundTrip, false);
  assert.equal(p.avg, 8.793);
  assert.equal(p.p50, 8.352);
  assert.equal(p.p99, 18.867);
  assert.equal(p.messages, 87992);
  assert.throws(() => parseSockperf('sockperf: ERROR: connect failed\n'), /sockperf: no average/);
  const noPercentiles = fixture('sockperf-ping-pong-full-rtt.txt').replace(/^.*percentile 99\.000.*$/m, '');
  assert.throws(() => parseSockperf(noPercentiles), /99th percentile/);
});

test('parseConnrate reads the client\'s JSON line and computes the rate', () => {
  assert.deepEqual(parseConnrate('{"connections":25321,"errors":3,"seconds":2.000322}\n'), { connections: 25321, errors: 3, seconds: 2.000322, perSecond: 25321 / 2.000322 });
  assert.throws(() => parseConnrate('connrate: connect: Connection refused\n'), /connrate printed no result/);
  assert.throws(() => parseConnrate('{"connections":1.5,"errors":0,"seconds":1}'), /malformed/);
});

test('listensOn finds a listening socket in /proc/net/tcp by address and port, in the machine\'s byte order', () => {
  const table = fixture('proc-net-tcp.txt'); // iperf3 listening on 10.9.0.2:5201
  assert.equal(listensOn(table, '10.9.0.2', 5201, 'LE'), true);
  assert.equal(listensOn(table, '10.9.0.2', 5202, 'LE'), false);
  assert.equal(listensOn(table, '10.9.0.1', 5201, 'LE'), false);
  assert.equal(listensOn(table, '10.9.0.2', 5201, 'BE'), false);
  assert.equal(listensOn(table.replace(' 0A ', ' 01 '), '10.9.0.2', 5201, 'LE'), false, 'an established socket is not a listener');
  assert.equal(listensOn('', '10.9.0.2', 5201, 'LE'), false);
});

test('chainCounters sums the counters of each chain in `nft -j list table`', () => {
  assert.deepEqual(chainCounters(fixture('nft-list-table.json')), { 'inet forward': 114785 });
  assert.deepEqual(chainCounters('{"nftables": []}'), {});
});

test('the rules: distinct service addresses, none of them a pod\'s, the counter after all of them', () => {
  assert.equal(serviceAddress(0), '10.96.0.1');
  assert.equal(serviceAddress(254), '10.96.0.255');
  assert.equal(serviceAddress(255), '10.96.1.0');
  assert.throws(() => serviceAddress(65535), RangeError);
  const script = rulesetScript('inet forward', 3000);
  const rules = script.split('\n').filter((l) => l.includes('tcp dport 80 accept'));
  assert.equal(rules.length, 3000);
  assert.equal(new Set(rules).size, 3000);
  assert.ok(rules.every((r) => /^ {4}ip daddr 10\.96\.\d+\.\d+ tcp dport 80 accept$/.test(r)));
  assert.match(script, /^table inet sluice-bench \{\n {2}chain forward \{\n {4}type filter hook forward priority filter; policy accept;\n/);
  assert.match(script, /tcp dport 80 accept\n {4}counter\n {2}\}\n\}\n$/);
  assert.match(rulesetScript('bridge forward', 1), /^table bridge sluice-bench \{/);
});

test('compare: a clear win or loss needs medians more than 3 % apart and the runs\' ranges apart', () => {
  const s = (xs: number[]) => summarize(xs);
  assert.equal(compare(s([10, 10.1, 10.2]), s([8, 8.1, 8.2]), 'higher').verdict, 'wins');
  assert.equal(compare(s([8, 8.1, 8.2]), s([10, 10.1, 10.2]), 'higher').verdict, 'loses');
  assert.equal(compare(s([8, 8.1, 8.2]), s([10, 10.1, 10.2]), 'lower').verdict, 'wins');
  const overlapping = compare(s([7, 9, 11]), s([9.5, 10, 10.5]), 'higher');
  assert.equal(overlapping.verdict, 'level');
  assert.equal(overlapping.aheadOnMedian, false);
  assert.equal(compare(s([10.2, 10.2]), s([10, 10]), 'higher').verdict, 'level', '2 % apart is level even with ranges apart');
  assert.equal(compare(s([12]), s([10]), 'higher').ratio, 1.2);
});

// ---- the section, from a results file with chosen numbers ----

function variant(setup: SetupId, rules: boolean, f: { gbit: number[]; p50: number[]; p99: number[]; conn: number[] }, chainPackets?: VariantResult['chainPackets']): VariantResult {
  return {
    setup, rules, hooks: rules ? ['inet forward'] : [], failures: [],
    stream: { bitsPerSecond: f.gbit.map((g) => g * 1e9), retransmits: f.gbit.map(() => 0) },
    rr: { p50Us: f.p50, p99Us: f.p99, perSecond: f.p50.map((p) => 1e6 / p) },
    crr: { perSecond: f.conn, errors: f.conn.map(() => 0) },
    ...(chainPackets ? { chainPackets } : {}),
  };
}

function sample(overrides: Partial<DataplaneRaw> = {}, ebpfWithRulesPackets = 0): DataplaneRaw {
  return {
    benchmark: 'dataplane',
    command: 'sudo npm run bench:dataplane',
    machine: { cpu: 'Test CPU', cores: 2, arch: 'x64', memoryGiB: 8, kernel: 'Linux 6.18.0', node: 'v20.0.0', v8: '11.3', load1: 0.5, date: '2026-01-01T00:00:00.000Z' },
    loadAtEnd: 0.7,
    config: { runs: 3, seconds: 3, rules: 3000, messageBytes: 64, connectors: 2, mtu: 1500, quick: false, patterns: ['stream', 'rr', 'crr'] },
    bridgedFramesCrossInet: true,
    bridgeChainForced: false,
    tools: { iperf3: 'iperf 3.12', sockperf: '3.7', cc: 'cc 12' },
    variants: [
      variant('floor', false, { gbit: [15.9, 16, 16.1], p50: [40, 40, 40], p99: [60, 60, 60], conn: [20000, 20000, 20000] }),
      variant('bridge-plugin', false, { gbit: [14.9, 15, 15.1], p50: [44, 44, 44], p99: [70, 70, 70], conn: [18000, 18100, 18200] }),
      variant('bridge-plugin', true, { gbit: [7.5, 7.6, 7.7], p50: [74, 75, 76], p99: [120, 120, 120], conn: [5000, 5000, 5000] }, { 'inet forward': 500000 }),
      variant('sluice-ebpf', false, { gbit: [15.0, 15.8, 16.5], p50: [42, 42, 42], p99: [65, 66, 67], conn: [18000, 18200, 18400] }),
      variant('sluice-ebpf', true, { gbit: [15.6, 15.8, 16.0], p50: [41, 42, 43], p99: [66, 66, 66], conn: [18100, 18200, 18300] }, { 'inet forward': ebpfWithRulesPackets }),
      // mode bridge clearly behind the bridge plugin on throughput, level on the rest
      variant('sluice-bridge', false, { gbit: [13.0, 13.5, 14.0], p50: [44, 45, 46], p99: [70, 71, 72], conn: [17900, 18000, 18300] }),
      variant('sluice-bridge', true, { gbit: [7.4, 7.6, 7.8], p50: [74, 75, 77], p99: [119, 121, 122], conn: [4900, 5000, 5100] }, { 'inet forward': 400000 }),
    ],
    ...overrides,
  };
}

function tableRow(markdown: string, heading: string, ...cells: string[]): string {
  const table = markdown.slice(markdown.indexOf(heading));
  const row = table.split('\n').find((l) => cells.every((c) => l.includes(`| ${c} `) || l.includes(` ${c} |`)));
  assert.ok(row, `a row with ${cells.join(', ')} under ${heading}`);
  return row!;
}

test('the section gives every figure as median, min–max and ratio to the floor', () => {
  const s = section(sample());
  assert.equal(s.id, 'dataplane');
  assert.equal(s.command, 'sudo npm run bench:dataplane');
  const stream = '### TCP stream';
  assert.match(tableRow(s.markdown, stream, 'floor: one veth pair'), /\| +16\.00 \| +15\.90–16\.10 \| +1\.00× \|$/);
  assert.match(tableRow(s.markdown, stream, 'bridge plugin', '—'), /\| +15\.00 \| +14\.90–15\.10 \| +0\.94× \|$/);
  assert.match(tableRow(s.markdown, stream, 'bridge plugin', '3,000 (inet forward)'), /\| +7\.60 \| +7\.50–7\.70 \| +0\.47× \|$/);
  // 75 µs / 40 µs at p50; the rate is round trips per second
  assert.match(tableRow(s.markdown, '### Request/response', 'bridge plugin', '3,000 (inet forward)'), /\| +75\.0 \| +74\.0–76\.0 \| +1\.88× \|/);
  assert.match(tableRow(s.markdown, '### New connections', 'sluice ebpf', '—'), /\| +18\.2 k \| +18\.0 k–18\.4 k \| +0\.91× \|$/);
  assert.ok(s.markdown.includes('Test CPU, 2 cores (x64)'), 'the machine is described');
  assert.deepEqual(s.machine, sample().machine);
});

test('where sluice loses, the section says so plainly, first; wins and ties are told apart in the table', () => {
  const s = section(sample());
  const stands = s.markdown.slice(s.markdown.indexOf('### Where sluice stands'), s.markdown.indexOf('### TCP stream'));
  assert.ok(stands.includes('- **sluice bridge mode loses** to the bridge plugin on TCP throughput: 13.50 vs 15.00 Gbit/s (0.90×).'), stands);
  // sluice ebpf against the floor: 42 vs 40 µs at p50, tight ranges: a loss, and said so
  assert.ok(stands.includes('- **sluice ebpf loses** to the floor (a bare veth pair) on request/response round trip (p50): 42.0 vs 40.0 µs (1.05×).'));
  assert.ok(stands.includes('- With 3,000 rules in the node, **sluice ebpf loses** to the floor (a bare veth pair: no node, no rules) on new TCP connections per second'));
  assert.ok(!/sluice ebpf loses\*\* to the bridge plugin/.test(stands), 'no loss to the bridge plugin is claimed where there is none');
  assert.match(tableRow(stands, '| sluice path', 'sluice ebpf', 'bridge plugin', '3,000', 'throughput (Gbit/s)'), /\| 2\.08× \| wins +\|$/);
  assert.match(tableRow(stands, '| sluice path', 'sluice bridge mode', 'bridge plugin', '—', 'throughput (Gbit/s)'), /\| 0\.90× \| \*\*loses\*\* +\|$/);
  assert.match(tableRow(stands, '| sluice path', 'sluice bridge mode', 'bridge plugin', '—', 'RTT p50 (µs)'), /\| level \(behind on the median\) \|$/);
  assert.match(tableRow(stands, '| sluice path', 'sluice ebpf', 'bridge plugin', '—', 'throughput (Gbit/s)'), /\| level \(ahead on the median\) +\|$/);
});

test('with no clear loss the section says that, and nothing is listed as lost', () => {
  const raw = sample();
  raw.variants = raw.variants.filter((v) => v.setup !== 'sluice-bridge' && v.setup !== 'floor');
  const s = section(raw);
  assert.ok(s.markdown.includes('sluice clearly lost none of the comparisons below on this run'));
  assert.ok(!s.markdown.includes('loses'));
  assert.match(tableRow(s.markdown, '### TCP stream', 'sluice ebpf', '—'), /\| +— \|$/, 'ratios to a missing floor are left empty');
});

test('the rules: where they were, what crossed them, and whether sluice ebpf bypassed them', () => {
  const bypass = section(sample()).markdown;
  assert.ok(bypass.includes('**sluice ebpf bypasses netfilter, as measured.** Over all its runs with rules, 0 packets reached the end of the node\'s inet forward chain'));
  assert.ok(bypass.includes('br_netfilter is active'));
  assert.match(tableRow(bypass, '| path ', 'bridge plugin', 'inet forward'), /inet forward: 500,000/);
  const crossed = section(sample({}, 1234)).markdown;
  assert.ok(crossed.includes('**sluice ebpf did not bypass netfilter completely:** 1,234 packets reached the end'));
  const noBrNetfilter = section(sample({ bridgedFramesCrossInet: false })).markdown;
  assert.ok(noBrNetfilter.includes('`bridge`-family `forward` chain, which bridged frames do cross'));
  assert.match(bypass, /- bridge plugin: TCP throughput 0\.51×/, 'what the rules cost each path');
});

test('charts: one per figure, the floor as the reference, whiskers from the runs\' min and max', () => {
  const { charts } = section(sample());
  assert.deepEqual(charts.map((c) => c.id), ['dataplane-throughput', 'dataplane-rtt-p50', 'dataplane-rtt-p99', 'dataplane-rr-rate', 'dataplane-conn-rate']);
  const throughput = charts[0]!;
  assert.equal(throughput.kind, 'bar');
  if (throughput.kind !== 'bar') return;
  assert.equal(throughput.better, 'higher');
  assert.deepEqual(throughput.groups.map((g) => g.label), ['floor: one veth pair', 'bridge plugin', 'sluice ebpf', 'sluice bridge mode']);
  assert.deepEqual(throughput.groups[0]!.bars, [{ label: 'no rules', value: 16, low: 15.9, high: 16.1, reference: true }]);
  assert.deepEqual(throughput.groups[1]!.bars.map((b) => [b.label, b.value, b.reference]), [['no rules', 15, undefined], ['3,000 rules', 7.6, undefined]]);
  assert.equal(charts[1]!.better, 'lower');
});

test('headlines: sluice ebpf against the bridge plugin with and without rules, mode bridge, and the floor', () => {
  const { headlines } = section(sample());
  const h = (metric: string) => headlines.find((x) => x.metric === metric);
  assert.deepEqual(h('pod-to-pod TCP throughput, 3,000 rules: sluice ebpf vs bridge plugin'), { metric: 'pod-to-pod TCP throughput, 3,000 rules: sluice ebpf vs bridge plugin', sluice: 15.8, reference: 7.6, unit: 'Gbit/s', better: 'higher' });
  assert.deepEqual(h('pod-to-pod request/response round trip (p50): sluice ebpf vs bridge plugin'), { metric: 'pod-to-pod request/response round trip (p50): sluice ebpf vs bridge plugin', sluice: 42, reference: 44, unit: 'µs', better: 'lower' });
  assert.equal(h('pod-to-pod TCP throughput: sluice bridge mode vs bridge plugin')?.sluice, 13.5);
  assert.equal(h('pod-to-pod new TCP connections per second, 3,000 rules: sluice ebpf vs bridge plugin')?.reference, 5000);
  assert.equal(h('pod-to-pod TCP throughput: sluice ebpf vs the floor (one veth pair)')?.reference, 16);
  assert.equal(headlines.length, 10);
});

test('failed runs are listed; a file that is not the data-plane results is refused', () => {
  const raw = sample();
  raw.variants[1]!.failures.push('stream, run 2: iperf3: unable to connect to server');
  assert.ok(section(raw).markdown.includes('- bridge plugin: stream, run 2: iperf3: unable to connect to server'));
  assert.throws(() => readDataplane({ benchmark: 'codec' }), /not the data-plane benchmark/);
  assert.throws(() => readDataplane({ ...sample(), variants: [{ setup: 'weave', rules: false }] }), /variants\[0\]\.setup/);
  assert.throws(() => readDataplane({ ...sample(), variants: [{ ...sample().variants[0], stream: { bitsPerSecond: ['fast'] } }] }), /stream\.bitsPerSecond/);
});
