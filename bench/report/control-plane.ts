// The report's control-plane section, from the JSON bench/cni-latency.ts writes: tables, charts and the
// headline comparisons, sluice against the bridge plugin + host-local, wins and losses said alike.
import { bucketize, growthFactor, type Bucket } from '../control-plane/growth.js';
import { parseResults, type CniLatencyResults, type ContenderResult, type ContenderKind } from '../control-plane/results.js';
import { formatMs, formatRatio, markdownTable, type Align } from '../lib/report.js';
import type { Bar, BarChart, Headline, LineChart, ReportSection } from '../lib/report-types.js';

/** Within this much of the reference, neither side wins (the VM's noise is larger than that). */
const PAR = 0.05;

type Outcome = 'win' | 'lose' | 'par';

/** How sluice's figure compares with the reference's when lower is better. */
export function outcome(sluice: number, reference: number): Outcome {
  const r = sluice / reference;
  if (r < 1 - PAR) return 'win';
  if (r > 1 + PAR) return 'lose';
  return 'par';
}

const VERDICT: Record<'time' | 'memory', Record<Outcome, string>> = {
  time: { win: 'sluice is faster', lose: 'sluice is slower', par: `on a par (within ${PAR * 100}%)` },
  memory: { win: 'sluice uses less', lose: 'sluice uses more', par: `on a par (within ${PAR * 100}%)` },
};

/** "34.0 ms vs 16.5 ms (2.05×): sluice is slower" */
export function versus(sluice: number, reference: number, format: (x: number) => string, kind: 'time' | 'memory' = 'time'): string {
  return `${format(sluice)} vs ${format(reference)} (${formatRatio(sluice / reference)}): ${VERDICT[kind][outcome(sluice, reference)]}`;
}

export function formatMiB(kib: number): string {
  const mib = kib / 1024;
  return `${mib >= 100 ? mib.toFixed(0) : mib.toFixed(1)} MiB`;
}

/** The largest of a contender's measured calls; NaN when none was measured (every call of the pass failed). */
const peak = (kib: readonly number[]) => (kib.length ? Math.max(...kib) : NaN);
const formatPeak = (kib: readonly number[]) => (kib.length ? formatMiB(peak(kib)) : '–');
const measured = (c: ContenderResult) => c.memory.addPeakKiB.length > 0;

function find(results: readonly ContenderResult[], kind: ContenderKind, ipMasq: boolean): ContenderResult | undefined {
  return results.find((r) => r.kind === kind && r.ipMasq === ipMasq);
}

/** The bridge plugin's result to compare a contender with: the one with the same ipMasq, else the plain one. */
function referenceFor(results: readonly ContenderResult[], c: { ipMasq: boolean }): ContenderResult {
  return find(results, 'bridge', c.ipMasq) ?? find(results, 'bridge', false)!;
}

const range = (b: { from: number; to: number }) => (b.from === b.to ? `${b.from}` : `${b.from}–${b.to}`);

// ---- tables ----

function latencyTable(r: CniLatencyResults): string {
  const { pods } = r.config;
  const rows = r.results.map((c) => {
    const ref = referenceFor(r.results, c);
    return [
      c.name,
      formatMs(c.add.median), `${formatMs(c.add.q1)}–${formatMs(c.add.q3)}`, formatMs(c.add.p99), formatRatio(c.add.median / ref.add.median),
      formatMs(c.del.median), formatMs(c.del.p99), formatRatio(c.del.median / ref.del.median),
      burstCell(c.burstAddMs, c.bursts?.addMs), burstCell(c.burstDelMs, c.bursts?.delMs),
    ];
  });
  return markdownTable(
    ['contender', 'ADD median', 'ADD IQR', 'ADD p99', 'ADD vs bridge', 'DEL median', 'DEL p99', 'DEL vs bridge', `${pods} ADDs at once`, `${pods} DELs at once`],
    rows, ['left', ...Array<Align>(9).fill('right')],
  );
}

interface Growth {
  contender: ContenderResult;
  add: Bucket[];
  del: Bucket[];
}

function growthOf(r: CniLatencyResults): Growth[] {
  return r.results.map((c) => ({ contender: c, add: bucketize(c.growth.addMs, r.config.bucket), del: bucketize(c.growth.delMs, r.config.bucket) }));
}

function growthTable(growth: readonly Growth[], which: 'add' | 'del'): string {
  const columns = growth.reduce<Bucket[]>((longest, g) => (g[which].length > longest.length ? g[which] : longest), []);
  const rows = growth.map((g) => {
    const buckets = g[which];
    return [g.contender.name, ...columns.map((_, i) => (buckets[i] ? formatMs(buckets[i]!.median) : '–')), formatRatio(growthFactor(buckets))];
  });
  return markdownTable(['contender', ...columns.map(range), 'last ÷ first'], rows, ['left', ...Array<Align>(columns.length + 1).fill('right')]);
}

function memoryTable(r: CniLatencyResults): string {
  const rows = r.results.map((c) => {
    const agent = c.memory.agent;
    return [
      c.name,
      formatPeak(c.memory.addPeakKiB), formatPeak(c.memory.delPeakKiB),
      agent ? formatMiB(agent.afterWarmup.hwmKiB) : '–', agent ? formatMiB(agent.atEnd.hwmKiB) : '–', agent ? formatMiB(agent.atEnd.rssKiB) : '–',
    ];
  });
  return markdownTable(
    ['contender', 'one ADD: largest process', 'one DEL: largest process', 'agent: peak after warm-up', 'agent: peak at the end', 'agent: resident at the end'],
    rows, ['left', 'right', 'right', 'right', 'right', 'right'],
  );
}

// ---- sentences ----

function latencySentences(r: CniLatencyResults): string[] {
  const out: string[] = [];
  const { pods } = r.config;
  for (const ipMasq of [false, true]) {
    const agent = find(r.results, 'agent', ipMasq);
    const bridge = find(r.results, 'bridge', ipMasq);
    if (!agent || !bridge) continue;
    const masq = ipMasq ? ' with ipMasq' : '';
    out.push(`Median ADD${masq}, agent vs bridge plugin: ${versus(agent.add.median, bridge.add.median, formatMs)}.`);
    out.push(`Median DEL${masq}, agent vs bridge plugin: ${versus(agent.del.median, bridge.del.median, formatMs)}.`);
  }
  const t = r.target;
  out.push(`Issue 7's target, the agent's median ADD under half the bridge plugin's (${formatMs(t.halfBridgeAdd)}): ${t.met ? 'met' : 'not met'} (${formatMs(t.agentAddMedian)}).`);
  const agent = find(r.results, 'agent', false)!;
  const settles = agent.deferredAttach ?? [];
  for (const phase of [...new Set(settles.map((d) => d.phase))]) {
    const times = settles.filter((d) => d.phase === phase);
    const perLink = times.map((d) => Math.max(0, d.ms - d.quietMs) / d.links);
    const each = times.length > 1 ? `after each of the ${times.length} ${phase} rounds` : `after the ${phase} phase`;
    const range = (xs: number[]) => (xs.length > 1 ? `${formatMs(Math.min(...xs))}–${formatMs(Math.max(...xs))}` : formatMs(xs[0]!));
    out.push(`The agent answers ADD before attaching the pod's TCX link (the pod is in the spoof guard meanwhile) and attaches the links once quiet: ${each}, ${times[0]!.links} links were attached ${range(times.map((d) => d.ms))} after the last answer, its quiet time of ${formatMs(times[0]!.quietMs)} included (${range(perLink)} a link).`);
  }
  const cls = find(r.results, 'agent-cls', false);
  if (cls) out.push(`Attaching with clsact + cls_bpf instead of a TCX link, the agent's median ADD is ${formatMs(cls.add.median)} instead of ${formatMs(agent.add.median)} (${formatRatio(cls.add.median / agent.add.median)}).`);
  for (const ipMasq of [false, true]) {
    const standalone = find(r.results, 'standalone', ipMasq);
    const bridge = find(r.results, 'bridge', ipMasq);
    if (!standalone || !bridge) continue;
    out.push(`Median ADD${ipMasq ? ' with ipMasq' : ''}, standalone plugin (it starts Node for every call) vs bridge plugin: ${versus(standalone.add.median, bridge.add.median, formatMs)}.`);
  }
  const bridge = find(r.results, 'bridge', false)!;
  out.push(`${pods} ADDs at once, agent vs bridge plugin: ${versus(agent.burstAddMs, bridge.burstAddMs, formatMs)}.`);
  out.push(`${pods} DELs at once, agent vs bridge plugin: ${versus(agent.burstDelMs, bridge.burstDelMs, formatMs)}.`);
  return out;
}

function growthSentences(r: CniLatencyResults, growth: readonly Growth[]): string[] {
  const out = growth.map((g) => {
    const first = g.add[0]!;
    const last = g.add[g.add.length - 1]!;
    return `${g.contender.name}: ADD ${formatMs(first.median)} over pods ${range(first)}, ${formatMs(last.median)} over pods ${range(last)} (${formatRatio(growthFactor(g.add))}).`;
  });
  const steepest = [...growth].sort((a, b) => growthFactor(b.add) - growthFactor(a.add))[0]!;
  out.push(`Grows the most: ${steepest.contender.name}, ${formatRatio(growthFactor(steepest.add))} from the first bucket to the last.`);
  if (r.config.standaloneGrowth < r.config.growth) {
    out.push(`The standalone plugin added ${r.config.standaloneGrowth} pods, not ${r.config.growth}: each of its calls starts Node, and the whole run has to stay near ten minutes.`);
  }
  return out;
}

function memorySentences(r: CniLatencyResults): string[] {
  const out: string[] = [];
  const agent = find(r.results, 'agent', false)!;
  const bridge = find(r.results, 'bridge', false)!;
  const standalone = find(r.results, 'standalone', false);
  const unmeasured = r.results.filter((c) => !measured(c)).map((c) => c.name);
  if (unmeasured.length) out.push(`No memory figure for ${unmeasured.join(', ')}: every call of its memory pass failed.`);
  if (!measured(bridge)) return out;
  const bridgeAdd = peak(bridge.memory.addPeakKiB);
  const iptables = find(r.results, 'bridge', true) ? ' and, with ipMasq, iptables' : '';
  if (measured(agent)) {
    out.push(`Peak memory of the process a runtime forks for one ADD, the shim vs the bridge plugin: ${versus(peak(agent.memory.addPeakKiB), bridgeAdd, formatMiB, 'memory')} ` +
      `(the bridge plugin's figure is the largest of bridge, host-local${iptables}).`);
  }
  if (standalone && measured(standalone)) out.push(`The standalone plugin (Node) for one ADD vs the bridge plugin: ${versus(peak(standalone.memory.addPeakKiB), bridgeAdd, formatMiB, 'memory')}.`);
  const resident = agent.memory.agent;
  if (resident) {
    const workers = r.config.agentWorkers === undefined ? 'its worker threads' : `its ${r.config.agentWorkers} worker threads`;
    out.push(`But the agent stays resident: its peak (VmHWM: the main thread and ${workers} share one address space) was ${formatMiB(resident.afterWarmup.hwmKiB)} after the warm-up ` +
      `and ${formatMiB(resident.atEnd.hwmKiB)} at the end, held all the time, where a bridge plugin call holds its ${formatMiB(bridgeAdd)} only while it runs. ` +
      `Resident agent vs one bridge plugin call: ${versus(resident.atEnd.hwmKiB, bridgeAdd, formatMiB, 'memory')}.`);
  }
  return out;
}

// ---- charts ----

const bar = (label: string, value: number, spread: { low: number; high: number } | undefined, reference: boolean): Bar =>
  ({ label, value, ...(spread ?? {}), ...(reference ? { reference: true } : {}) });

/** The range of repeated measurements (none for a single one). */
function spreadOf(samples: readonly number[] | undefined): { low: number; high: number } | undefined {
  return samples && samples.length > 1 ? { low: Math.min(...samples), high: Math.max(...samples) } : undefined;
}

/** A burst's median, with the range of the repeated bursts when there were several. */
function burstCell(median: number, samples: readonly number[] | undefined): string {
  const spread = spreadOf(samples);
  return spread ? `${formatMs(median)} (${formatMs(spread.low)}–${formatMs(spread.high)})` : formatMs(median);
}

function latencyCharts(r: CniLatencyResults, growth: readonly Growth[]): (BarChart | LineChart)[] {
  const { pods } = r.config;
  const shown = r.results.filter((c) => c.kind !== 'standalone');
  const standalone = r.results.filter((c) => c.kind === 'standalone');
  const leftOut = (figure: (c: ContenderResult) => string) =>
    standalone.length ? `The standalone plugin (${standalone.map((c) => `${c.name}: ${figure(c)}`).join('; ')}) is in the table, left out here so that the others stay readable.` : undefined;
  const note = (text: string, extra: string | undefined) => [text, extra].filter(Boolean).join(' ');
  return [
    {
      kind: 'bar', id: 'control-plane-latency', title: `CNI ADD and DEL, median over pods 1–${pods}`, unit: 'ms', better: 'lower',
      groups: (['add', 'del'] as const).map((verb) => ({
        label: verb.toUpperCase(),
        bars: shown.map((c) => bar(c.name, c[verb].median, { low: c[verb].q1, high: c[verb].q3 }, c.kind === 'bridge')),
      })),
      note: note('Whiskers: the interquartile range.', leftOut((c) => `ADD ${formatMs(c.add.median)}, DEL ${formatMs(c.del.median)}`)),
    },
    {
      kind: 'bar', id: 'control-plane-burst', title: `${pods} pods at once: time until the last answer`, unit: 'ms', better: 'lower',
      groups: [
        { label: `${pods} ADDs`, bars: shown.map((c) => bar(c.name, c.burstAddMs, spreadOf(c.bursts?.addMs), c.kind === 'bridge')) },
        { label: `${pods} DELs`, bars: shown.map((c) => bar(c.name, c.burstDelMs, spreadOf(c.bursts?.delMs), c.kind === 'bridge')) },
      ],
      note: leftOut((c) => `${formatMs(c.burstAddMs)} and ${formatMs(c.burstDelMs)}`),
    },
    {
      kind: 'line', id: 'control-plane-growth', title: 'ADD latency as the node fills up', xLabel: 'pods on the node', unit: 'ms', better: 'lower',
      series: growth.filter((g) => g.contender.kind !== 'standalone').map((g) => ({ label: g.contender.name, points: g.add.map((b) => [b.to, b.median] as [number, number]) })),
      note: note(`Median ADD per ${r.config.bucket} pods.`, leftOut((c) => `${formatMs(growth.find((g) => g.contender === c)!.add[0]!.median)} over its first pods`)),
    },
  ];
}

function memoryChart(r: CniLatencyResults): BarChart {
  const agents = r.results.filter((c) => c.memory.agent);
  const spread = (kib: readonly number[]) => ({ low: Math.min(...kib) / 1024, high: Math.max(...kib) / 1024 });
  return {
    kind: 'bar', id: 'control-plane-memory', title: 'Peak memory (RSS)', unit: 'MiB', better: 'lower',
    groups: [
      { label: 'one ADD: largest process', bars: r.results.filter(measured).map((c) => bar(c.name, peak(c.memory.addPeakKiB) / 1024, spread(c.memory.addPeakKiB), c.kind === 'bridge')) },
      ...(agents.length ? [{ label: 'the agent, resident', bars: agents.map((c) => bar(c.name, c.memory.agent!.atEnd.hwmKiB / 1024, undefined, false)) }] : []),
    ],
    note: `One ADD: the largest of ${r.config.memoryCalls} calls' peaks (ru_maxrss of the plugin and what it ran); the agent: VmHWM at the end of the run, all its threads.`,
  };
}

// ---- headlines ----

function headlines(r: CniLatencyResults): Headline[] {
  const out: Headline[] = [];
  const ms = (metric: string, sluice: number, reference: number): Headline => ({ metric, sluice, reference, unit: 'ms', better: 'lower' });
  const mib = (metric: string, sluiceKiB: number, referenceKiB: number): Headline => ({ metric, sluice: sluiceKiB / 1024, reference: referenceKiB / 1024, unit: 'MiB', better: 'lower' });
  const bridge = find(r.results, 'bridge', false)!;
  const agent = find(r.results, 'agent', false)!;
  out.push(ms('ADD median, agent (shim) vs bridge + host-local', agent.add.median, bridge.add.median));
  const agentMasq = find(r.results, 'agent', true);
  const bridgeMasq = find(r.results, 'bridge', true);
  if (agentMasq && bridgeMasq) out.push(ms('ADD median with ipMasq, agent (shim) vs bridge + host-local', agentMasq.add.median, bridgeMasq.add.median));
  out.push(ms('DEL median, agent (shim) vs bridge + host-local', agent.del.median, bridge.del.median));
  const standalone = find(r.results, 'standalone', false);
  if (standalone) out.push(ms('ADD median, standalone plugin vs bridge + host-local', standalone.add.median, bridge.add.median));
  out.push(ms(`${r.config.pods} ADDs at once, agent vs bridge + host-local`, agent.burstAddMs, bridge.burstAddMs));
  out.push(ms(`${r.config.pods} DELs at once, agent vs bridge + host-local`, agent.burstDelMs, bridge.burstDelMs));
  if (!measured(bridge)) return out;
  if (measured(agent)) out.push(mib('peak memory of one ADD call, shim vs bridge + host-local', peak(agent.memory.addPeakKiB), peak(bridge.memory.addPeakKiB)));
  if (agent.memory.agent) out.push(mib('peak memory, the resident agent vs one bridge + host-local ADD call', agent.memory.agent.atEnd.hwmKiB, peak(bridge.memory.addPeakKiB)));
  return out;
}

// ---- the section ----

const bullets = (lines: readonly string[]) => lines.map((l) => `- ${l}`).join('\n');

export function section(raw: unknown): ReportSection {
  const r = parseResults(raw);
  const growth = growthOf(r);
  const { pods, growth: growthPods, bucket } = r.config;
  const failures = r.results.flatMap((c) => [
    ...c.failures.slice(0, 5).map((f) => `FAILED (${c.name}): ${f}`),
    ...(c.failures.length > 5 ? [`FAILED (${c.name}): ${c.failures.length - 5} more failures`] : []),
  ]);
  const markdown = [
    `Load ${r.machine.load1} at the start, ${r.loadAtEnd} at the end${r.elapsedSeconds === undefined ? '' : `; the run took ${Math.round(r.elapsedSeconds / 60)} min`}.`,
    '',
    `A call is what a runtime does: start the plugin in the node's namespace, the config on stdin, wait for its exit. ` +
      `A small C launcher per node starts it with posix_spawn (vfork and exec), as Go's os/exec in containerd or podman does, and times it from the spawn to the exit; ` +
      `Node's own child_process would fork the whole bench process and add about a millisecond to every contender's every call. ` +
      `Median, interquartile range and p99 over pods 1–${pods} of ${growthPods} added one after the other (DELs newest first, so both see the same pod counts); ` +
      `"at once": ${pods} calls started together, the time until the last one answered (the median of the repeated bursts, their range in brackets). Ratios are to the bridge plugin with the same ipMasq setting. ` +
      `sluice's state directory is a tmpfs of the bench's own, as a node's /run is; every contender's IPAM store is on the disk, as /var/lib/cni/networks is.`,
    '',
    latencyTable(r),
    '',
    bullets(latencySentences(r)),
    '',
    `**ADD latency as the node fills up** (median per ${bucket} pods; the column is the pod count the ADD brought the node to):`,
    '',
    growthTable(growth, 'add'),
    '',
    bullets(growthSentences(r, growth)),
    '',
    `**DEL latency as the node empties** (the column is the pod count before the DEL):`,
    '',
    growthTable(growth, 'del'),
    '',
    `**Peak memory** (the largest process of one call: ru_maxrss over ${r.config.memoryCalls} calls, a pass of its own, not timed; the agent: its VmHWM and VmRSS from /proc):`,
    '',
    memoryTable(r),
    '',
    bullets(memorySentences(r)),
    ...(r.skipped.length || failures.length ? ['', bullets([...r.skipped.map((s) => `left out: ${s}`), ...failures])] : []),
  ].join('\n');
  return {
    id: 'control-plane',
    title: 'Control plane: CNI ADD and DEL',
    command: r.command,
    markdown,
    charts: [...latencyCharts(r, growth), memoryChart(r)],
    headlines: headlines(r),
    raw: r,
    machine: r.machine,
  };
}
