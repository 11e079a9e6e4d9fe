// The IPAM part of the report: sluice's built-in allocator against the reference host-local plugin as
// the lease count grows, from bench/results/ipam.json (written by bench/ipam.ts).
import type { Machine } from '../lib/machine.js';
import { formatInt, formatMs, markdownTable } from '../lib/report.js';
import type { Headline, LineChart, ReportSection } from '../lib/report-types.js';
import { median, type Summary } from '../lib/stats.js';
import { formatFactor } from './format.js';
import { asArray, asMachine, asNumber, asObject, asString, asSummary } from './read.js';

export interface IpamRow {
  leases: number;
  /** The first operation on a store filled by another hand: sluice rebuilds its index once. */
  firstOpMs: number;
  addMs: Summary;
  addP99Ms: number;
  delMs: Summary;
  delP99Ms: number;
  /** CPU time (user + system) of one ADD + DEL round. */
  cpuPerRoundMs: number;
  /** host-local's ADD and DEL, each a fork and exec of the binary, on the same store; null when it is not installed. */
  hostLocal: { addMs: number[]; delMs: number[] } | null;
}

export interface IpamFileSystem {
  dir: string;
  type: string;
  rows: IpamRow[];
}

export interface IpamResults {
  command: string;
  machine: Machine | undefined;
  config: { rounds: number; subnet: string; hostLocal: string | null; hostLocalRounds: number };
  fileSystems: IpamFileSystem[];
}

function numbers(x: unknown, path: string): number[] {
  return asArray(x, path).map((v, i) => asNumber(v, `${path}[${i}]`));
}

export function readIpam(raw: unknown): IpamResults {
  const o = asObject(raw, 'ipam.json');
  const config = asObject(o.config, 'config');
  return {
    command: asString(o.command, 'command'),
    machine: asMachine(o.machine, 'machine'),
    config: {
      rounds: asNumber(config.rounds, 'config.rounds'),
      subnet: asString(config.subnet, 'config.subnet'),
      hostLocal: config.hostLocal === null ? null : asString(config.hostLocal, 'config.hostLocal'),
      hostLocalRounds: asNumber(config.hostLocalRounds, 'config.hostLocalRounds'),
    },
    fileSystems: asArray(o.fileSystems, 'fileSystems').map((f, i) => {
      const fs = asObject(f, `fileSystems[${i}]`);
      return {
        dir: asString(fs.dir, `fileSystems[${i}].dir`),
        type: asString(fs.type, `fileSystems[${i}].type`),
        rows: asArray(fs.rows, `fileSystems[${i}].rows`).map((x, j) => {
          const p = `fileSystems[${i}].rows[${j}]`;
          const r = asObject(x, p);
          const hl = r.hostLocal === null ? null : asObject(r.hostLocal, `${p}.hostLocal`);
          return {
            leases: asNumber(r.leases, `${p}.leases`),
            firstOpMs: asNumber(r.firstOpMs, `${p}.firstOpMs`),
            addMs: asSummary(r.addMs, `${p}.addMs`),
            addP99Ms: asNumber(r.addP99Ms, `${p}.addP99Ms`),
            delMs: asSummary(r.delMs, `${p}.delMs`),
            delP99Ms: asNumber(r.delP99Ms, `${p}.delP99Ms`),
            cpuPerRoundMs: asNumber(r.cpuPerRoundMs, `${p}.cpuPerRoundMs`),
            hostLocal: hl && { addMs: numbers(hl.addMs, `${p}.hostLocal.addMs`), delMs: numbers(hl.delMs, `${p}.hostLocal.delMs`) },
          };
        }),
      };
    }),
  };
}

const dash = '—';

/** host-local's median ADD (or DEL) of a row, when it ran. */
function hostLocalMedian(row: IpamRow, op: 'addMs' | 'delMs'): number | undefined {
  const samples = row.hostLocal?.[op];
  return samples && samples.length ? median(samples) : undefined;
}

function ipamTable(rows: readonly IpamRow[]): string {
  const ms = (v: number | undefined) => (v === undefined ? dash : formatMs(v));
  return markdownTable(
    ['leases', 'ADD p50', 'ADD p99', 'DEL p50', 'DEL p99', 'CPU per ADD+DEL', 'first op (index rebuild)', 'host-local ADD p50', 'host-local DEL p50', 'host-local ÷ sluice, ADD'],
    rows.map((r) => {
      const hlAdd = hostLocalMedian(r, 'addMs');
      return [
        formatInt(r.leases), ms(r.addMs.median), ms(r.addP99Ms), ms(r.delMs.median), ms(r.delP99Ms), ms(r.cpuPerRoundMs), ms(r.firstOpMs),
        ms(hlAdd), ms(hostLocalMedian(r, 'delMs')), hlAdd === undefined ? dash : `**${formatFactor(hlAdd / r.addMs.median)}**`,
      ];
    }),
    ['right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
  );
}

function where(fs: IpamFileSystem): string {
  return `${fs.dir} (${fs.type})`;
}

/** What the host-local columns of one file system's table say, losses first. */
function hostLocalSentences(fs: IpamFileSystem): string[] {
  const rows = fs.rows.filter((x) => x.hostLocal);
  const ratio = (x: IpamRow) => hostLocalMedian(x, 'addMs')! / x.addMs.median;
  const slower = rows.filter((x) => ratio(x) < 1);
  const faster = rows.filter((x) => ratio(x) >= 1);
  const out: string[] = [];
  for (const x of slower) {
    out.push(`On ${where(fs)} at ${formatInt(x.leases)} leases sluice's ADD (${formatMs(x.addMs.median)}) is slower than ` +
      `host-local's (${formatMs(hostLocalMedian(x, 'addMs')!)}), even though host-local's includes starting its process.`);
  }
  if (faster.length) {
    const ratios = faster.map(ratio);
    const range = faster.length === 1 ? formatFactor(ratios[0]!) : `${formatFactor(Math.min(...ratios))} to ${formatFactor(Math.max(...ratios))}`;
    out.push(`On ${where(fs)} host-local's ADD takes ${range} as long as sluice's at ${faster.map((x) => formatInt(x.leases)).join(', ')} leases: ` +
      'with few leases the gap is mostly host-local starting its process; it grows with the lease count because host-local reads every lease file.');
  }
  return out;
}

export function section(raw: unknown): ReportSection {
  const r = readIpam(raw);
  const disk = r.fileSystems[0];
  const withHostLocal = disk?.rows.filter((x) => x.hostLocal) ?? [];
  const headlines: Headline[] = [];
  const smallest = withHostLocal[0];
  const largest = withHostLocal.at(-1);
  const headline = (row: IpamRow, op: 'addMs' | 'delMs'): Headline => ({
    metric: `${op === 'addMs' ? 'ADD' : 'DEL'} median at ${formatInt(row.leases)} leases in a /16 (${disk!.type}), built-in vs host-local`,
    sluice: row[op].median,
    reference: hostLocalMedian(row, op)!,
    unit: 'ms',
    better: 'lower',
  });
  if (smallest) headlines.push(headline(smallest, 'addMs'));
  if (largest && largest !== smallest) headlines.push(headline(largest, 'addMs'), headline(largest, 'delMs'));
  // The index's one-off price, against what host-local pays on every call at that size.
  if (largest) {
    headlines.push({
      metric: `first operation on a ${formatInt(largest.leases)}-lease store not yet indexed (once per store), built-in vs host-local ADD (${disk!.type})`,
      sluice: largest.firstOpMs,
      reference: hostLocalMedian(largest, 'addMs')!,
      unit: 'ms',
      better: 'lower',
    });
  }

  const text: string[] = [
    `sluice's built-in IPAM (host-local's store and config, with an index) against the numbers of leases in ${r.config.subnet}. ` +
      'The store is filled the way a migration from host-local finds it (lease files written by another hand), so the first ' +
      `operation also shows the one-off index rebuild. Each of the ${formatInt(r.config.rounds)} rounds per size allocates for a new ` +
      'container and releases a random existing one, keeping the count steady while holes spread through the range. sluice ' +
      'is called in-process, as the plugin and the agent call it; host-local is a separate binary, so its figures include ' +
      `starting its process, as a runtime pays it (${r.config.hostLocalRounds} rounds only, on the same store).`,
  ];
  for (const fs of r.fileSystems) text.push('', `**${where(fs)}**, times per operation:`, '', ipamTable(fs.rows));
  text.push('');
  if (r.config.hostLocal === null || withHostLocal.length === 0) {
    text.push('host-local was not installed (`containernetworking-plugins`), so there is no comparison with it.');
  } else {
    for (const fs of r.fileSystems) text.push(...hostLocalSentences(fs));
  }
  const slowFirst = r.fileSystems.flatMap((fs) => fs.rows.map((x) => ({ fs, x }))).sort((a, b) => b.x.firstOpMs - a.x.firstOpMs)[0];
  if (slowFirst) {
    text.push(`The price of sluice's index is the first operation on a store it has not seen: up to ${formatMs(slowFirst.x.firstOpMs)} ` +
      `(${formatInt(slowFirst.x.leases)} leases, ${slowFirst.fs.type}).`);
  }

  const charts: LineChart[] = [];
  if (disk && withHostLocal.length) {
    charts.push({
      kind: 'line',
      id: 'ipam-host-local',
      title: `IPAM: median ADD and DEL against the lease count, built-in vs host-local (${disk.type})`,
      xLabel: 'leases in the /16',
      unit: 'ms per operation',
      better: 'lower',
      series: [
        { label: 'sluice ADD', points: disk.rows.map((x) => [x.leases, x.addMs.median]) },
        { label: 'sluice DEL', points: disk.rows.map((x) => [x.leases, x.delMs.median]) },
        { label: 'host-local ADD', points: withHostLocal.map((x) => [x.leases, hostLocalMedian(x, 'addMs')!]) },
        { label: 'host-local DEL', points: withHostLocal.map((x) => [x.leases, hostLocalMedian(x, 'delMs')!]) },
      ],
      note: 'host-local\'s figures include starting its process; sluice is called in-process.',
    });
  }
  if (r.fileSystems.length) {
    charts.push({
      kind: 'line',
      id: 'ipam-builtin',
      title: 'IPAM: the built-in allocator\'s median ADD and DEL against the lease count, by file system',
      xLabel: 'leases in the /16',
      unit: 'ms per operation',
      better: 'lower',
      series: r.fileSystems.flatMap((fs) => [
        { label: `ADD, ${where(fs)}`, points: fs.rows.map((x): [number, number] => [x.leases, x.addMs.median]) },
        { label: `DEL, ${where(fs)}`, points: fs.rows.map((x): [number, number] => [x.leases, x.delMs.median]) },
      ]),
    });
  }
  return { id: 'ipam', title: 'IPAM: the built-in allocator against host-local', command: r.command, markdown: text.join('\n'), charts, headlines, raw, ...(r.machine ? { machine: r.machine } : {}) };
}
