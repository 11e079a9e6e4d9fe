// The codec part of the report: sluice's netlink codec against node-netlink, from bench/results/codec.json
// (written by bench/codec.ts).
import type { Machine } from '../lib/machine.js';
import { formatInt, formatRatio, formatSI, formatSpread, markdownTable } from '../lib/report.js';
import type { BarChart, Headline, ReportSection } from '../lib/report-types.js';
import type { Summary } from '../lib/stats.js';
import { asArray, asMachine, asNumber, asObject, asString, asSummary, geometricMean } from './read.js';

export interface CodecRow {
  op: 'decode' | 'encode';
  name: string;
  messages: number;
  /** Messages per second. */
  sluice: Summary;
  nodeNetlink: Summary;
  /** The median of the per-round ratios sluice ÷ node-netlink. */
  ratio: number;
  roundRatios: Summary;
}

export interface CodecResults {
  command: string;
  machine: Machine | undefined;
  nodeNetlink: string;
  config: { runs: number; sampleMs: number; routes: number };
  loadAtEnd: number | undefined;
  rows: CodecRow[];
}

export function readCodec(raw: unknown): CodecResults {
  const o = asObject(raw, 'codec.json');
  const config = asObject(o.config, 'config');
  return {
    command: asString(o.command, 'command'),
    machine: asMachine(o.machine, 'machine'),
    nodeNetlink: asString(o.nodeNetlink, 'nodeNetlink'),
    config: { runs: asNumber(config.runs, 'config.runs'), sampleMs: asNumber(config.sampleMs, 'config.sampleMs'), routes: asNumber(config.routes, 'config.routes') },
    loadAtEnd: o.loadAtEnd === undefined ? undefined : asNumber(o.loadAtEnd, 'loadAtEnd'),
    rows: asArray(o.rows, 'rows').map((r, i) => {
      const row = asObject(r, `rows[${i}]`);
      const op = asString(row.op, `rows[${i}].op`);
      if (op !== 'decode' && op !== 'encode') throw new RangeError(`rows[${i}].op is ${JSON.stringify(op)}, not decode or encode`);
      return {
        op,
        name: asString(row.name, `rows[${i}].name`),
        messages: asNumber(row.messages, `rows[${i}].messages`),
        sluice: asSummary(row.sluice, `rows[${i}].sluice`),
        nodeNetlink: asSummary(row.nodeNetlink, `rows[${i}].nodeNetlink`),
        ratio: asNumber(row.ratio, `rows[${i}].ratio`),
        roundRatios: asSummary(row.roundRatios, `rows[${i}].roundRatios`),
      };
    }),
  };
}

/** The table bench/codec.ts prints and the report shows. */
export function codecTable(rows: readonly CodecRow[]): string {
  return markdownTable(
    ['operation', 'messages', 'sluice msg/s: median (min–max)', 'node-netlink msg/s: median (min–max)', 'sluice ÷ node-netlink: median (IQR) of per-round ratios'],
    rows.map((r) => [
      `${r.op}: ${r.name}`,
      formatInt(r.messages),
      formatSpread(r.sluice, formatSI),
      formatSpread(r.nodeNetlink, formatSI),
      `**${formatRatio(r.ratio)}** (${formatRatio(r.roundRatios.q1)}–${formatRatio(r.roundRatios.q3)})`,
    ]),
    ['left', 'right', 'right', 'right', 'right'],
  );
}

const OPS = [
  { op: 'decode', what: 'decode', cases: 'captured dumps' },
  { op: 'encode', what: 'encode', cases: 'requests' },
] as const;

function throughputChart(rows: readonly CodecRow[], op: 'decode' | 'encode'): BarChart {
  return {
    kind: 'bar',
    id: `codec-${op}`,
    title: `Codec: ${op === 'decode' ? 'decoding kernel dumps into objects' : 'encoding requests to bytes'}, messages per second`,
    unit: 'messages per second',
    better: 'higher',
    groups: rows.filter((r) => r.op === op).map((r) => ({
      label: r.name,
      bars: [
        { label: 'sluice', value: r.sluice.median, low: r.sluice.min, high: r.sluice.max },
        { label: 'node-netlink', value: r.nodeNetlink.median, low: r.nodeNetlink.min, high: r.nodeNetlink.max, reference: true },
      ],
    })),
    note: 'Bars: medians of the runs; whiskers: slowest and fastest run.',
  };
}

export function section(raw: unknown): ReportSection {
  const r = readCodec(raw);
  const headlines: Headline[] = [];
  for (const { op, what, cases } of OPS) {
    const rows = r.rows.filter((x) => x.op === op);
    if (rows.length === 0) continue;
    const ratios = rows.map((x) => x.ratio);
    headlines.push({
      metric: `${what} throughput vs node-netlink, ${rows.length} ${cases} (geometric mean; per case ${formatRatio(Math.min(...ratios))}–${formatRatio(Math.max(...ratios))})`,
      sluice: geometricMean(rows.map((x) => x.sluice.median)),
      reference: geometricMean(rows.map((x) => x.nodeNetlink.median)),
      unit: 'msg/s',
      better: 'higher',
    });
  }

  const slower = r.rows.filter((x) => x.ratio < 1);
  const ratios = r.rows.map((x) => x.ratio);
  const verdict = r.rows.length === 0
    ? 'No case was measured.'
    : slower.length === 0
      ? `sluice is faster in all ${r.rows.length} cases, by ${formatRatio(Math.min(...ratios))} to ${formatRatio(Math.max(...ratios))}.`
      : `sluice is slower in ${slower.length} of ${r.rows.length} cases: ${slower.map((x) => `${x.op} ${x.name} (${formatRatio(x.ratio)})`).join('; ')}.`;
  const markdown = [
    `sluice's netlink codec against [node-netlink](https://www.npmjs.com/package/netlink) ${r.nodeNetlink} on the same ` +
      `messages: captured kernel dumps (including a ${formatInt(r.config.routes)}-route dump captured fresh) decoded into objects, ` +
      'and requests encoded to the bytes a socket sends. Before anything is timed, both decodings are compared field by field and ' +
      'both encodings must carry the same values. Each case runs in a fresh Node process; every figure is the median of ' +
      `${r.config.runs} interleaved runs of about ${r.config.sampleMs} ms, after a warm-up round. The ratio is the median of the ` +
      'per-round ratios (a paired comparison), with their interquartile range. Above 1× sluice is faster.',
    '',
    codecTable(r.rows),
    '',
    verdict,
    'The work is not identical: node-netlink leaves IP addresses, MACs and route metrics as Buffers and IFLA_LINKINFO, ' +
      'IFLA_AF_SPEC and RTA_MULTIPATH undecoded, while sluice decodes all of them into values and records the order of the ' +
      'attributes for byte-exact re-encoding.',
  ].join('\n');

  const ratioChart: BarChart = {
    kind: 'bar',
    id: 'codec-ratio',
    title: 'Codec: sluice\'s speed relative to node-netlink, per case',
    unit: '× node-netlink (median of per-round ratios)',
    better: 'higher',
    groups: r.rows.map((x) => ({
      label: `${x.op}: ${x.name}`,
      bars: [
        { label: 'sluice', value: x.ratio, low: x.roundRatios.q1, high: x.roundRatios.q3 },
        { label: 'node-netlink', value: 1, reference: true },
      ],
    })),
    note: 'Whiskers: interquartile range of the per-round ratios. Above 1× sluice is faster.',
  };
  const charts = [ratioChart, ...OPS.filter(({ op }) => r.rows.some((x) => x.op === op)).map(({ op }) => throughputChart(r.rows, op))];
  return { id: 'codec', title: 'Netlink codec: sluice against node-netlink', command: r.command, markdown, charts, headlines, raw, ...(r.machine ? { machine: r.machine } : {}) };
}

