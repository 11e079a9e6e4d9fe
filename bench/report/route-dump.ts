// The route-dump part of the report: listing a large routing table end to end, sluice's clients against
// `ip -j route` and node-netlink, from bench/results/route-dump.json (written by bench/route-dump.ts).
import type { Machine } from '../lib/machine.js';
import { formatInt, formatMs, formatRatio, formatSpread, markdownTable } from '../lib/report.js';
import type { BarChart, Headline, ReportSection } from '../lib/report-types.js';
import type { Summary } from '../lib/stats.js';
import { asArray, asMachine, asNumber, asObject, asString, asSummary } from './read.js';

export interface DumpWay {
  name: string;
  ms: Summary;
  routes: number;
  /** The median of the per-round ratios time ÷ ip -j's time. */
  vsIp: number;
  roundRatiosVsIp: Summary;
}

export interface DumpResults {
  command: string;
  machine: Machine | undefined;
  ip: string;
  nodeNetlink: { version: string; available: boolean; error?: string };
  config: { runs: number; routes: number };
  results: DumpWay[];
}

export const WAYS = {
  sync: 'sluice SyncClient.routeList',
  async: 'sluice AsyncClient.routeList',
  ip: 'ip -j route show table all',
  nodeNetlink: 'node-netlink getRoutes',
} as const;

export function readRouteDump(raw: unknown): DumpResults {
  const o = asObject(raw, 'route-dump.json');
  const config = asObject(o.config, 'config');
  const nn = asObject(o.nodeNetlink, 'nodeNetlink');
  const binding = asObject(nn.binding, 'nodeNetlink.binding');
  return {
    command: asString(o.command, 'command'),
    machine: asMachine(o.machine, 'machine'),
    ip: asString(o.ip, 'ip'),
    nodeNetlink: {
      version: asString(nn.version, 'nodeNetlink.version'),
      available: binding.ok === true,
      ...(typeof binding.error === 'string' ? { error: binding.error } : {}),
    },
    config: { runs: asNumber(config.runs, 'config.runs'), routes: asNumber(config.routes, 'config.routes') },
    results: asArray(o.results, 'results').map((x, i) => {
      const w = asObject(x, `results[${i}]`);
      return {
        name: asString(w.name, `results[${i}].name`),
        ms: asSummary(w.ms, `results[${i}].ms`),
        routes: asNumber(w.routes, `results[${i}].routes`),
        vsIp: asNumber(w.vsIp, `results[${i}].vsIp`),
        roundRatiosVsIp: asSummary(w.roundRatiosVsIp, `results[${i}].roundRatiosVsIp`),
      };
    }),
  };
}

/** The table bench/route-dump.ts prints and the report shows. */
export function routeDumpTable(results: readonly DumpWay[]): string {
  return markdownTable(
    ['way (socket open + dump + decode to objects)', 'routes', 'time: median (min–max)', 'time ÷ ip -j time: median (IQR) of per-round ratios'],
    results.map((r) => [r.name, formatInt(r.routes), formatSpread(r.ms, formatMs), `**${formatRatio(r.vsIp)}** (${formatRatio(r.roundRatiosVsIp.q1)}–${formatRatio(r.roundRatiosVsIp.q3)})`]),
    ['left', 'right', 'right', 'right'],
  );
}

/** "2.84× faster than" / "1.20× slower than" / "as fast as", from a time ratio (below 1: faster). */
function compared(timeRatio: number): string {
  if (Math.abs(timeRatio - 1) < 0.02) return 'as fast as';
  return timeRatio < 1 ? `${formatRatio(1 / timeRatio)} faster than` : `${formatRatio(timeRatio)} slower than`;
}

export function section(raw: unknown): ReportSection {
  const r = readRouteDump(raw);
  const way = (name: string) => r.results.find((w) => w.name === name);
  const routes = r.results[0]?.routes ?? r.config.routes;
  const what = `${formatInt(routes)}-route dump to objects`;
  const headlines: Headline[] = [];
  const pairs: Array<[keyof typeof WAYS, keyof typeof WAYS, string]> = [
    ['sync', 'ip', 'SyncClient vs ip -j'],
    ['async', 'nodeNetlink', 'AsyncClient vs node-netlink'],
  ];
  for (const [ours, theirs, label] of pairs) {
    const a = way(WAYS[ours]);
    const b = way(WAYS[theirs]);
    if (a && b) headlines.push({ metric: `${what}, ${label}`, sluice: a.ms.median, reference: b.ms.median, unit: 'ms', better: 'lower' });
  }

  const ip = way(WAYS.ip);
  const nn = way(WAYS.nodeNetlink);
  const sentences: string[] = [];
  for (const ours of [way(WAYS.sync), way(WAYS.async)]) {
    if (!ours) continue;
    const parts: string[] = [];
    if (ip) parts.push(`${compared(ours.vsIp)} \`ip -j\``);
    if (nn) parts.push(`${compared(ours.ms.median / nn.ms.median)} node-netlink (ratio of medians)`);
    if (parts.length) sentences.push(`${ours.name} is ${parts.join(', and ')}.`);
  }
  if (!nn) sentences.push(`node-netlink is missing: its native binding was not available${r.nodeNetlink.error ? ` (${r.nodeNetlink.error})` : ''}.`);
  const markdown = [
    `In a network namespace of its own holding ${formatInt(r.config.routes)} routes (installed with \`ip -batch\`), each way ` +
      'does everything a program pays to get the routes as objects: open a socket in the namespace, dump every table (IPv4 and ' +
      'IPv6), decode, close. All ways must return the same routes. Figures are medians of ' +
      `${r.config.runs} interleaved runs after a warm-up round, with min and max; the ratio is the median of the per-round ` +
      `ratios to \`ip -j\`'s time (below 1× is faster). ${r.ip}; node-netlink ${r.nodeNetlink.version}.`,
    '',
    routeDumpTable(r.results),
    '',
    ...sentences,
  ].join('\n');

  const chart: BarChart = {
    kind: 'bar',
    id: 'route-dump',
    title: `Route dump: ${what}, end to end`,
    unit: 'ms',
    better: 'lower',
    groups: r.results.map((w) => ({
      label: w.name,
      bars: [{ label: w.name, value: w.ms.median, low: w.ms.min, high: w.ms.max, ...(w.name === WAYS.ip ? { reference: true } : {}) }],
    })),
    note: 'Bars: median time of the runs; whiskers: fastest and slowest run. Reference: ip -j.',
  };
  return { id: 'route-dump', title: `Route dump: ${formatInt(r.config.routes)} routes, sluice against ip -j and node-netlink`, command: r.command, markdown, charts: [chart], headlines, raw, ...(r.machine ? { machine: r.machine } : {}) };
}
