// The data-plane part of the report, from bench/results/dataplane.json (written by bench/dataplane.ts):
// pod-to-pod throughput, request/response round trips and new connections per second on four paths,
// with and without 3,000 netfilter rules, as absolute figures and as ratios to the floor; which
// netfilter chains the pods' packets crossed; and plain sentences on where sluice wins and loses.
import { formatMachine } from '../lib/machine.js';
import { formatInt, formatRatio, formatSI, markdownTable } from '../lib/report.js';
import type { Bar, BarChart, Headline, ReportSection } from '../lib/report-types.js';
import { summarize, type Summary } from '../lib/stats.js';
import { SETUP_IDS, SETUP_LABELS, type DataplaneRaw, type Pattern, type SetupId, type VariantResult } from '../dataplane/results.js';

// ---- reading the JSON ----

function fail(what: string, problem: string): never {
  throw new TypeError(`dataplane.json: ${what} ${problem}`);
}

function numbers(value: unknown, what: string): number[] {
  if (!Array.isArray(value) || value.some((x) => typeof x !== 'number' || !Number.isFinite(x))) fail(what, 'is not a list of numbers');
  return value as number[];
}

/** Checks the shape of what bench/dataplane.ts wrote (the parts the section reads) and returns it typed. */
export function readDataplane(raw: unknown): DataplaneRaw {
  const o = raw as Partial<DataplaneRaw> | null;
  if (!o || typeof o !== 'object' || o.benchmark !== 'dataplane') fail('the document', 'is not the data-plane benchmark\'s results');
  if (!o.config || typeof o.config !== 'object') fail('config', 'is missing');
  for (const key of ['runs', 'seconds', 'rules', 'messageBytes', 'connectors'] as const) {
    if (typeof o.config[key] !== 'number') fail(`config.${key}`, 'is not a number');
  }
  if (!Array.isArray(o.variants)) fail('variants', 'is not a list');
  o.variants.forEach((v, i) => {
    const at = `variants[${i}]`;
    if (!SETUP_IDS.includes(v?.setup)) fail(`${at}.setup`, `is not one of ${SETUP_IDS.join(', ')}`);
    if (typeof v.rules !== 'boolean') fail(`${at}.rules`, 'is not a boolean');
    if (v.stream) numbers(v.stream.bitsPerSecond, `${at}.stream.bitsPerSecond`);
    if (v.rr) for (const k of ['p50Us', 'p99Us', 'perSecond'] as const) numbers(v.rr[k], `${at}.rr.${k}`);
    if (v.crr) numbers(v.crr.perSecond, `${at}.crr.perSecond`);
  });
  return o as DataplaneRaw;
}

// ---- the figures ----

export type MetricKey = 'throughput' | 'rttP50' | 'rttP99' | 'rrRate' | 'connRate';

interface Metric {
  key: MetricKey;
  pattern: Pattern;
  /** As in a sentence: "TCP throughput". */
  name: string;
  /** A table column's heading. */
  column: string;
  unit: string;
  better: 'lower' | 'higher';
  samples: (v: VariantResult) => number[] | undefined;
  format: (x: number) => string;
  chart: { id: string; title: string };
}

const fixed = (digits: number) => (x: number) => x.toFixed(digits);

/** Every figure the section reports, in order. */
export const METRICS: readonly Metric[] = [
  {
    key: 'throughput', pattern: 'stream', name: 'TCP throughput', column: 'throughput (Gbit/s)', unit: 'Gbit/s', better: 'higher',
    samples: (v) => v.stream?.bitsPerSecond.map((b) => b / 1e9), format: fixed(2),
    chart: { id: 'dataplane-throughput', title: 'Pod-to-pod TCP throughput (iperf3, one stream)' },
  },
  {
    key: 'rttP50', pattern: 'rr', name: 'request/response round trip (p50)', column: 'RTT p50 (µs)', unit: 'µs', better: 'lower',
    samples: (v) => v.rr?.p50Us, format: fixed(1),
    chart: { id: 'dataplane-rtt-p50', title: 'Pod-to-pod TCP round trip, median (sockperf ping-pong)' },
  },
  {
    key: 'rttP99', pattern: 'rr', name: 'request/response round trip (p99)', column: 'RTT p99 (µs)', unit: 'µs', better: 'lower',
    samples: (v) => v.rr?.p99Us, format: fixed(1),
    chart: { id: 'dataplane-rtt-p99', title: 'Pod-to-pod TCP round trip, 99th percentile (sockperf ping-pong)' },
  },
  {
    key: 'rrRate', pattern: 'rr', name: 'request/response rate', column: 'round trips/s', unit: 'round trips/s', better: 'higher',
    samples: (v) => v.rr?.perSecond, format: formatSI,
    chart: { id: 'dataplane-rr-rate', title: 'Pod-to-pod TCP round trips per second (sockperf ping-pong)' },
  },
  {
    key: 'connRate', pattern: 'crr', name: 'new TCP connections per second', column: 'connections/s', unit: 'connections/s', better: 'higher',
    samples: (v) => v.crr?.perSecond, format: formatSI,
    chart: { id: 'dataplane-conn-rate', title: 'Pod-to-pod new TCP connections per second (connect, 1 byte, close)' },
  },
];

const metric = (key: MetricKey): Metric => METRICS.find((m) => m.key === key)!;

/** One setup with or without rules, its figures summarised. */
export interface Row {
  setup: SetupId;
  rules: boolean;
  result: VariantResult;
  figures: Partial<Record<MetricKey, Summary>>;
}

export function rowsOf(raw: DataplaneRaw): Row[] {
  const rows = raw.variants.map((result) => {
    const figures: Partial<Record<MetricKey, Summary>> = {};
    for (const m of METRICS) {
      const s = m.samples(result);
      if (s && s.length) figures[m.key] = summarize(s);
    }
    return { setup: result.setup, rules: result.rules, result, figures };
  });
  const order = (r: Row) => SETUP_IDS.indexOf(r.setup) * 2 + (r.rules ? 1 : 0);
  return rows.sort((a, b) => order(a) - order(b));
}

/** Each path in a few words, for the section's opening paragraph. */
const DESCRIPTIONS: Record<SetupId, string> = {
  floor: '**the floor**, two namespaces joined by one veth pair (no node, no CNI: what any veth-based CNI is measured against)',
  'bridge-plugin': '**the bridge plugin** (/usr/lib/cni/bridge with host-local, `isGateway`)',
  'sluice-ebpf': '**sluice ebpf** (the default mode: routed veths, pod-to-pod packets moved by `bpf_redirect_peer`)',
  'sluice-bridge': '**sluice bridge mode** (`"mode": "bridge"`, a Linux bridge like the bridge plugin\'s)',
};

const find = (rows: readonly Row[], setup: SetupId, rules: boolean) => rows.find((r) => r.setup === setup && r.rules === rules);

const NONE = '—';

// ---- comparisons ----

export type Verdict = 'wins' | 'loses' | 'level';

export interface Comparison {
  verdict: Verdict;
  /** subject ÷ reference (medians). */
  ratio: number;
  /** True when the subject's median is the better one (however slightly). */
  aheadOnMedian: boolean;
}

/** Differences smaller than this share of the reference's median are called level whatever the spreads. */
export const LEVEL_WITHIN = 0.03;

/**
 * Whether `subject` beats `reference`: clearly (medians more than 3 % apart and the min–max ranges of
 * their runs apart), or neither (level: within the run-to-run spread).
 */
export function compare(subject: Summary, reference: Summary, better: 'lower' | 'higher'): Comparison {
  const ratio = subject.median / reference.median;
  const aheadOnMedian = better === 'higher' ? subject.median > reference.median : subject.median < reference.median;
  const apart = subject.min > reference.max || subject.max < reference.min;
  const clear = apart && Math.abs(ratio - 1) > LEVEL_WITHIN;
  return { verdict: clear ? (aheadOnMedian ? 'wins' : 'loses') : 'level', ratio, aheadOnMedian };
}

const rulesLabel = (raw: DataplaneRaw) => `${formatInt(raw.config.rules)} rules`;
const variantLabel = (raw: DataplaneRaw, setup: SetupId, rules: boolean) => `${SETUP_LABELS[setup]}${rules ? ` with ${rulesLabel(raw)}` : ''}`;

/** One comparison of a sluice path with a reference on one figure, as the section reports it. */
export interface Finding {
  subject: SetupId;
  reference: SetupId;
  /** The subject has the rules (so does the reference, unless it is the floor, which has no node). */
  rules: boolean;
  key: MetricKey;
  subjectMedian: number;
  referenceMedian: number;
  comparison: Comparison;
  /** One plain sentence. */
  text: string;
}

/** Subject against reference on one figure, or undefined when either figure is missing. */
export function finding(raw: DataplaneRaw, rows: readonly Row[], subject: SetupId, reference: SetupId, rules: boolean, key: MetricKey): Finding | undefined {
  const m = metric(key);
  const s = find(rows, subject, rules)?.figures[key];
  const r = find(rows, reference, reference === 'floor' ? false : rules)?.figures[key];
  if (!s || !r) return undefined;
  const comparison = compare(s, r, m.better);
  const who = SETUP_LABELS[subject];
  const against = reference === 'floor'
    ? `the floor (a bare veth pair${rules ? ': no node, no rules' : ''})`
    : `the ${SETUP_LABELS[reference]}${rules ? ' (same rules)' : ''}`;
  const lead = rules ? `With ${rulesLabel(raw)} in the node, ` : '';
  const figures = `${m.format(s.median)} vs ${m.format(r.median)} ${m.unit} (${formatRatio(comparison.ratio)})`;
  const verb = {
    wins: `${who} beats ${against}`,
    loses: `**${who} loses** to ${against}`,
    level: `${who} ${s.median === r.median ? 'is level with' : comparison.aheadOnMedian ? 'is slightly ahead of' : 'is slightly behind'} ${against}`,
  }[comparison.verdict];
  const tail = comparison.verdict === 'level' ? ', within the run-to-run spread' : '';
  const text = `${lead}${verb} on ${m.name}: ${figures}${tail}.`;
  return { subject, reference, rules, key, subjectMedian: s.median, referenceMedian: r.median, comparison, text };
}

/** The comparisons the section spells out: [subject, reference, with rules]. */
const COMPARISONS: ReadonlyArray<[SetupId, SetupId, boolean]> = [
  ['sluice-ebpf', 'bridge-plugin', false],
  ['sluice-ebpf', 'bridge-plugin', true],
  ['sluice-bridge', 'bridge-plugin', false],
  ['sluice-bridge', 'bridge-plugin', true],
  ['sluice-ebpf', 'floor', false],
  ['sluice-ebpf', 'floor', true],
];
const COMPARED: readonly MetricKey[] = ['throughput', 'rttP50', 'rttP99', 'connRate'];

export function findings(raw: DataplaneRaw, rows: readonly Row[]): Finding[] {
  return COMPARISONS.flatMap(([subject, reference, rules]) => COMPARED.flatMap((key) => finding(raw, rows, subject, reference, rules, key) ?? []));
}

function verdictCell(f: Finding): string {
  if (f.comparison.verdict === 'wins') return 'wins';
  if (f.comparison.verdict === 'loses') return '**loses**';
  if (f.subjectMedian === f.referenceMedian) return 'level';
  return f.comparison.aheadOnMedian ? 'level (ahead on the median)' : 'level (behind on the median)';
}

function findingsTable(raw: DataplaneRaw, list: readonly Finding[]): string {
  return markdownTable(
    ['sluice path', 'against', 'rules', 'figure', 'sluice', 'reference', 'ratio', 'verdict'],
    list.map((f) => {
      const m = metric(f.key);
      return [
        SETUP_LABELS[f.subject], f.reference === 'floor' ? 'floor (no rules)' : SETUP_LABELS[f.reference], f.rules ? formatInt(raw.config.rules) : NONE,
        `${m.column}`, m.format(f.subjectMedian), m.format(f.referenceMedian), formatRatio(f.comparison.ratio), verdictCell(f),
      ];
    }),
    ['left', 'left', 'right', 'left', 'right', 'right', 'right', 'left'],
  );
}

// ---- the Markdown ----


function cell(row: Row | undefined, key: MetricKey): [string, string] {
  const s = row?.figures[key];
  if (!s) return [NONE, NONE];
  const f = metric(key).format;
  return [f(s.median), `${f(s.min)}–${f(s.max)}`];
}

function ratioCell(rows: readonly Row[], row: Row, key: MetricKey): string {
  const s = row.figures[key];
  const floor = find(rows, 'floor', false)?.figures[key];
  return s && floor ? formatRatio(s.median / floor.median) : NONE;
}

function rulesCell(raw: DataplaneRaw, row: Row): string {
  if (!row.rules) return NONE;
  return `${formatInt(raw.config.rules)} (${row.result.hooks.join(' + ')})`;
}

function patternTable(raw: DataplaneRaw, rows: readonly Row[], keys: readonly MetricKey[]): string {
  const headers = ['path', 'netfilter rules'];
  const align: Array<'left' | 'right'> = ['left', 'left'];
  for (const key of keys) {
    const m = metric(key);
    headers.push(m.column, 'min–max', '× floor');
    align.push('right', 'right', 'right');
  }
  const body = rows.filter((r) => keys.some((k) => r.figures[k])).map((r) => [
    SETUP_LABELS[r.setup],
    rulesCell(raw, r),
    ...keys.flatMap((k) => [...cell(r, k), ratioCell(rows, r, k)]),
  ]);
  return markdownTable(headers, body, align);
}

function hooksTable(raw: DataplaneRaw, rows: readonly Row[]): string {
  const body = rows.filter((r) => r.rules).map((r) => [
    SETUP_LABELS[r.setup],
    r.result.hooks.join(', '),
    r.result.hooks.map((h) => `${h}: ${formatInt(r.result.chainPackets?.[h] ?? 0)}`).join('; '),
  ]);
  return markdownTable(['path', 'chains holding the rules', 'packets that reached the end of each chain, all runs'], body);
}

function placementText(raw: DataplaneRaw, rows: readonly Row[]): string[] {
  const lines: string[] = [];
  const ruleText = `${formatInt(raw.config.rules)} rules of the form \`ip daddr <service IP> tcp dport 80 accept\`, each with its own address, none matching the pods' traffic, so each packet is compared with every one of them in turn, as with kube-proxy's iptables rules; a \`counter\` at the end of the chain counts the packets that went through them all. They live in an nft table of the benchmark's own in the node's namespace, loaded just before a variant's runs and deleted right after.`;
  lines.push(`**The rules.** ${ruleText}`);
  const bridged = rows.some((r) => r.rules && (r.setup === 'bridge-plugin' || r.setup === 'sluice-bridge'));
  if (bridged) {
    if (raw.bridgedFramesCrossInet && !raw.bridgeChainForced) {
      lines.push('**Bridged setups.** On this kernel br_netfilter is active in every network namespace (`net.bridge.bridge-nf-call-iptables` = 1 in the node; it is built in or was loaded by the machine, not by the benchmark), so frames one pod sends another across the Linux bridge also cross the inet `forward` hook, as on a Kubernetes node. The rules were therefore put on inet `forward` only, where kube-proxy puts its own; the counters below show the bridged packets did cross it.');
    } else if (raw.bridgedFramesCrossInet) {
      lines.push('**Bridged setups.** br_netfilter is active in the node, so bridged frames cross inet `forward`; on request (`--bridge-chain`) the rules were also loaded on a `bridge`-family `forward` chain, so bridged packets went through them twice.');
    } else {
      lines.push('**Bridged setups.** br_netfilter is not active here (and the benchmark does not load it: it is host-wide), so frames bridged between two pods never cross the inet hooks. For the bridged setups the rules were therefore also loaded on a `bridge`-family `forward` chain, which bridged frames do cross. kube-proxy itself never puts rules there: on such a node its rules would not see bridged pod-to-pod traffic at all.');
    }
  }
  const ebpf = find(rows, 'sluice-ebpf', true);
  if (ebpf?.result.chainPackets) {
    const crossed = Object.values(ebpf.result.chainPackets).reduce((a, b) => a + (b ?? 0), 0);
    lines.push(crossed === 0
      ? `**sluice ebpf bypasses netfilter, as measured.** Over all its runs with rules, 0 packets reached the end of the node's ${ebpf.result.hooks.join(' and ')} chain: \`bpf_redirect_peer\` moved every pod-to-pod packet from one pod's host veth straight into the other pod.`
      : `**sluice ebpf did not bypass netfilter completely:** ${formatInt(crossed)} packets reached the end of the node's ${ebpf.result.hooks.join(' and ')} chain during its runs with rules.`);
  }
  return lines;
}

function rulesCost(raw: DataplaneRaw, rows: readonly Row[]): string[] {
  const out: string[] = [];
  for (const setup of SETUP_IDS) {
    const without = find(rows, setup, false);
    const withRules = find(rows, setup, true);
    if (!without || !withRules) continue;
    const parts = COMPARED.flatMap((key) => {
      const a = without.figures[key];
      const b = withRules.figures[key];
      return a && b ? [`${metric(key).name} ${formatRatio(b.median / a.median)}`] : [];
    });
    if (parts.length) out.push(`- ${SETUP_LABELS[setup]}: ${parts.join(', ')}`);
  }
  return out.length ? [`What the ${rulesLabel(raw)} did to each path (with rules ÷ without, medians):`, '', ...out] : [];
}

// ---- charts and headlines ----

function charts(raw: DataplaneRaw, rows: readonly Row[]): BarChart[] {
  const runs = `median of ${raw.config.runs} run${raw.config.runs === 1 ? '' : 's'} of ${raw.config.seconds} s; whiskers: min–max`;
  return METRICS.filter((m) => rows.some((r) => r.figures[m.key])).map((m) => ({
    kind: 'bar',
    id: m.chart.id,
    title: m.chart.title,
    unit: m.unit,
    better: m.better,
    groups: SETUP_IDS.filter((id) => rows.some((r) => r.setup === id && r.figures[m.key])).map((id) => ({
      label: SETUP_LABELS[id],
      bars: rows.filter((r) => r.setup === id && r.figures[m.key]).map((r): Bar => {
        const s = r.figures[m.key]!;
        return { label: r.rules ? `${formatInt(raw.config.rules)} rules` : 'no rules', value: s.median, low: s.min, high: s.max, ...(id === 'floor' ? { reference: true } : {}) };
      }),
    })),
    note: `${runs}; ${rulesLabel(raw)} in the node's netfilter (the floor has no node)`,
  }));
}

function headlines(raw: DataplaneRaw, rows: readonly Row[]): Headline[] {
  const plan: Array<[SetupId, SetupId, boolean, MetricKey]> = [
    ['sluice-ebpf', 'bridge-plugin', false, 'throughput'],
    ['sluice-ebpf', 'bridge-plugin', true, 'throughput'],
    ['sluice-ebpf', 'bridge-plugin', false, 'rttP50'],
    ['sluice-ebpf', 'bridge-plugin', true, 'rttP50'],
    ['sluice-ebpf', 'bridge-plugin', false, 'connRate'],
    ['sluice-ebpf', 'bridge-plugin', true, 'connRate'],
    ['sluice-bridge', 'bridge-plugin', false, 'throughput'],
    ['sluice-bridge', 'bridge-plugin', false, 'rttP50'],
    ['sluice-bridge', 'bridge-plugin', false, 'connRate'],
    ['sluice-ebpf', 'floor', false, 'throughput'],
  ];
  return plan.flatMap(([subject, reference, rules, key]) => {
    const m = metric(key);
    const s = find(rows, subject, rules)?.figures[key];
    const r = find(rows, reference, rules)?.figures[key];
    if (!s || !r) return [];
    const what = reference === 'floor' ? 'the floor (one veth pair)' : SETUP_LABELS[reference];
    return [{ metric: `pod-to-pod ${m.name}${rules ? `, ${rulesLabel(raw)}` : ''}: ${SETUP_LABELS[subject]} vs ${what}`, sluice: s.median, reference: r.median, unit: m.unit, better: m.better }];
  });
}

// ---- the section ----

export function section(input: unknown): ReportSection {
  const raw = readDataplane(input);
  const rows = rowsOf(raw);
  const c = raw.config;
  const list = findings(raw, rows);
  const losses = list.filter((f) => f.comparison.verdict === 'loses');
  const failures = raw.variants.flatMap((v) => v.failures.map((f) => `${variantLabel(raw, v.setup, v.rules)}: ${f}`));
  const has = (p: Pattern) => c.patterns.includes(p) && rows.some((r) => METRICS.some((m) => m.pattern === p && r.figures[m.key]));

  const md: string[] = [];
  const present = SETUP_IDS.filter((id) => rows.some((r) => r.setup === id));
  const withRules = rows.some((r) => r.rules);
  md.push(
    `Two pods on one simulated node (a network namespace playing the node), the server in one pod and the client in the other, over ${present.length === 1 ? 'one path' : `${present.length} paths`}: ` +
      `${present.map((id) => DESCRIPTIONS[id]).join('; ')}. Pod MTU ${c.mtu} everywhere.` +
      `${withRules ? ` Each node path again with ${rulesLabel(raw)} loaded in the node (below).` : ''} Every figure is the median of ${c.runs} run${c.runs === 1 ? '' : 's'} ` +
      `of ${c.seconds} s with the min–max of the runs; the runs of all paths are interleaved; "× floor" is the ratio to the floor's median.`,
  );
  if (raw.machine) md.push('', `Machine: ${formatMachine(raw.machine)}; load ${raw.loadAtEnd} at the end.`);
  if (raw.tools) md.push('', `Tools: ${raw.tools.iperf3}; sockperf ${raw.tools.sockperf}; connrate built with ${raw.tools.cc}.`);
  if (c.quick) md.push('', '*A quick run (`--quick`): too few and too short runs to judge by; run it without `--quick` for figures to quote.*');

  md.push('', '### Where sluice stands', '');
  if (losses.length) {
    md.push(`Where sluice loses on this run (medians more than ${LEVEL_WITHIN * 100} % apart and the runs' min–max ranges apart):`, '', ...losses.map((l) => `- ${l.text}`));
  } else if (list.length) {
    md.push(`sluice clearly lost none of the comparisons below on this run (clearly: medians more than ${LEVEL_WITHIN * 100} % apart and the runs' min–max ranges apart).`);
  }
  if (list.length) md.push('', 'Every comparison ("level": no clear winner, the difference is within the run-to-run spread):', '', findingsTable(raw, list));

  if (has('stream')) md.push('', `### TCP stream (iperf3, one stream, ${c.seconds} s per run)`, '', patternTable(raw, rows, ['throughput']));
  if (has('rr')) md.push('', `### Request/response (sockperf ping-pong over TCP, ${c.messageBytes}-byte messages, round-trip times)`, '', patternTable(raw, rows, ['rttP50', 'rttP99', 'rrRate']));
  if (has('crr')) {
    md.push('', `### New connections (connect, one byte from the server, close; ${c.connectors} connecting thread${c.connectors === 1 ? '' : 's'}, ${c.seconds} s per run)`, '', patternTable(raw, rows, ['connRate']));
    md.push('', 'The benchmark\'s own tool (bench/native/connrate.c): both sides close with `SO_LINGER` 0 (a RST), so no socket waits in TIME_WAIT and ports never run out.');
  }

  if (rows.some((r) => r.rules)) {
    md.push('', `### ${rulesLabel(raw)} in the node's netfilter`, '', ...placementText(raw, rows).flatMap((l) => [l, '']), hooksTable(raw, rows));
    const cost = rulesCost(raw, rows);
    if (cost.length) md.push('', ...cost);
  }
  if (failures.length) md.push('', '### Failed runs (left out of the figures)', '', ...failures.map((f) => `- ${f}`));

  return {
    id: 'dataplane',
    title: 'Data plane: pod to pod on one node',
    command: raw.command,
    markdown: `${md.join('\n')}\n`,
    charts: charts(raw, rows),
    headlines: headlines(raw, rows),
    raw,
    ...(raw.machine ? { machine: raw.machine } : {}),
  };
}
