// `npm run bench:report`: turns the parts' figures (bench/results/*.json) into the committed report:
// docs/benchmarks/REPORT.md (the machine, a summary of every headline comparison, then each part's
// section with its charts), docs/benchmarks/results.json (every raw figure), docs/benchmarks/charts/*.svg,
// and the summary between the `bench:begin` / `bench:end` markers of README.md.
//
//   node dist/bench/report/build.js [--command "sudo npm run bench"] [--results DIR] [--out DIR] [--readme PATH]
//
// The output depends only on the results files (no clock is read), so building twice gives the same files.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Machine } from '../lib/machine.js';
import { markdownTable, repoRoot, toJson } from '../lib/report.js';
import type { Headline, ReportSection } from '../lib/report-types.js';
import { renderChart } from '../lib/svg.js';
import { formatFactor, formatQuantity } from './format.js';
import { PARTS, type Part } from './sections.js';

export const BEGIN = '<!-- bench:begin -->';
export const END = '<!-- bench:end -->';

export type PartOutcome =
  | { part: Part; status: 'ok'; section: ReportSection; charts: Map<string, string> }
  | { part: Part; status: 'not run' }
  | { part: Part; status: 'unreadable' | 'failed'; error: string };

const CHART_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Reads each part's results and makes its section and charts; a missing file is "not run", a bad one
 * "unreadable". A part named in `failed` (its run just failed: whatever file it has is from an earlier
 * run) is "failed", with the reason given.
 */
export function collect(parts: readonly Part[], resultsDir: string, failed: Readonly<Record<string, string>> = {}): PartOutcome[] {
  const chartIds = new Set<string>();
  return parts.map((part): PartOutcome => {
    const failure = failed[part.part];
    if (failure !== undefined) return { part, status: 'failed', error: failure };
    const path = join(resultsDir, part.resultsFile);
    if (!existsSync(path)) return { part, status: 'not run' };
    try {
      const section = part.section(JSON.parse(readFileSync(path, 'utf8')) as unknown);
      const charts = new Map<string, string>();
      for (const chart of section.charts) {
        if (!CHART_ID.test(chart.id)) throw new Error(`chart id ${JSON.stringify(chart.id)} is not a file name`);
        if (chartIds.has(chart.id) || charts.has(chart.id)) throw new Error(`chart id ${chart.id} is used twice`);
        charts.set(chart.id, renderChart(chart));
      }
      for (const id of charts.keys()) chartIds.add(id);
      return { part, status: 'ok', section, charts };
    } catch (e) {
      return { part, status: 'unreadable', error: `${part.resultsFile}: ${e instanceof Error ? e.message : String(e)}` };
    }
  });
}

// ---- headlines ----

/** sluice ÷ reference, and how many times better (above 1) or worse sluice is, whichever way is better. */
export function compare(h: Headline): { ratio: number; factor: number; verdict: 'wins' | 'loses' | 'even' } | undefined {
  if (!(h.reference !== 0 && Number.isFinite(h.sluice / h.reference) && h.sluice / h.reference > 0)) return undefined;
  const ratio = h.sluice / h.reference;
  const factor = h.better === 'higher' ? ratio : 1 / ratio;
  return { ratio, factor, verdict: Math.abs(factor - 1) < 0.02 ? 'even' : factor > 1 ? 'wins' : 'loses' };
}

function verdictText(h: Headline): string {
  const c = compare(h);
  if (!c) return 'no ratio (a reference of zero)';
  if (c.verdict === 'even') return 'even (within 2%)';
  return c.verdict === 'wins' ? `**sluice wins**, ${formatFactor(c.factor)} better` : `**sluice loses**, ${formatFactor(1 / c.factor)} worse`;
}

export function summaryTable(outcomes: readonly PartOutcome[]): string {
  const rows = outcomes.flatMap((o) => (o.status === 'ok' ? o.section.headlines.map((h) => {
    const c = compare(h);
    return [
      o.part.part, h.metric, formatQuantity(h.sluice, h.unit), formatQuantity(h.reference, h.unit),
      c ? formatFactor(c.ratio) : '—', h.better, verdictText(h),
    ];
  }) : []));
  if (rows.length === 0) return '_No part has results yet._';
  return markdownTable(['part', 'comparison', 'sluice', 'reference', 'sluice ÷ reference', 'better', 'verdict'], rows,
    ['left', 'left', 'right', 'right', 'right', 'left', 'left']);
}

// ---- the machine ----

function machineLine(m: Machine): string {
  return `${m.cpu}, ${m.cores} ${m.cores === 1 ? 'core' : 'cores'} (${m.arch}), ${m.memoryGiB} GiB RAM; ${m.kernel}; Node ${m.node} (V8 ${m.v8})`;
}

function machinesOf(outcomes: readonly PartOutcome[]): Map<string, Machine> {
  const out = new Map<string, Machine>();
  for (const o of outcomes) if (o.status === 'ok' && o.section.machine) out.set(o.part.part, o.section.machine);
  return out;
}

function dateOf(m: Machine): string {
  return m.date.replace('T', ' ').replace(/\.\d+Z$/, ' UTC').replace(/Z$/, ' UTC');
}

function measuredWhen(machines: Map<string, Machine>): string {
  const dates = [...machines.values()].map((m) => m.date.slice(0, 10)).sort();
  if (dates.length === 0) return '';
  return dates[0] === dates.at(-1) ? ` on ${dates[0]}` : ` between ${dates[0]} and ${dates.at(-1)}`;
}

// ---- the files ----

export interface ReportFiles {
  /** docs/benchmarks/REPORT.md */
  report: string;
  /** docs/benchmarks/results.json */
  results: string;
  /** charts/<id>.svg, by id */
  charts: Map<string, string>;
  /** What goes between the README's markers. */
  readmeBlock: string;
}

export interface RenderOptions {
  /** The command that produced the figures (as the runner was started); without it, each part's own. */
  command?: string;
  /** The parts `command` ran; the others' figures are from earlier runs. Without it: all of them. */
  ran?: readonly string[];
  /** The report's path as seen from the README's folder, for the link. */
  reportLink: string;
}

const RATIO_NOTE = 'sluice ÷ reference is the ratio of the two medians; "better" says which way wins. The sections ' +
  'also give paired ratios (the median of per-round ratios), which load on the machine disturbs less.';

function producedBy(outcomes: readonly PartOutcome[], command: string | undefined, ran: readonly string[] | undefined): string {
  if (!command) return 'Collected by `npm run bench:report` from the figures each part\'s own command left (named in its section)';
  const earlier = outcomes.filter((o) => o.status === 'ok' && ran && !ran.includes(o.part.part)).map((o) => o.part.part);
  if (earlier.length === 0) return `Produced by \`${command}\``;
  const now = ran!.length ? `\`${command}\` ran ${ran!.join(', ')}; ` : '';
  return `${now}the figures of ${earlier.join(', ')} are from an earlier run (see the dates)`;
}

function notRunLine(outcomes: readonly PartOutcome[]): string {
  const missing = outcomes.filter((o) => o.status !== 'ok');
  if (missing.length === 0) return '';
  return `Not in this report: ${missing.map((o) => `${o.part.part} (${o.status})`).join(', ')}.`;
}

export function renderReport(outcomes: readonly PartOutcome[], options: RenderOptions): ReportFiles {
  const machines = machinesOf(outcomes);
  const distinct = new Set([...machines.values()].map(machineLine));
  const out: string[] = ['# sluice benchmarks', ''];
  const produced = producedBy(outcomes, options.command, options.ran);
  out.push(`${produced}.${machines.size ? ` Measured${measuredWhen(machines)}.` : ''} Every figure is a median of several runs with its spread; ` +
    'the parts run the compared ways side by side, in interleaved rounds, on the same machine.', '');
  if (distinct.size === 1) out.push(`**Machine**: ${[...distinct][0]}.`, '');
  if (machines.size > 0) {
    out.push(markdownTable(
      distinct.size === 1 ? ['part', 'measured', '1-minute load at start'] : ['part', 'machine', 'measured', '1-minute load at start'],
      [...machines].map(([part, m]) => (distinct.size === 1 ? [part, dateOf(m), String(m.load1)] : [part, machineLine(m), dateOf(m), String(m.load1)])),
    ), '');
    out.push('Other work on the machine makes the absolute figures noisier; the ratios, measured in the same rounds, much less so.', '');
  }
  out.push('## Summary', '', summaryTable(outcomes), '', RATIO_NOTE, '');
  const notRun = notRunLine(outcomes);
  if (notRun) out.push(notRun, '');

  const charts = new Map<string, string>();
  for (const o of outcomes) {
    if (o.status !== 'ok') {
      out.push(`## ${o.part.part}: ${o.status}`, '');
      out.push(o.status === 'not run'
        ? `No figures: bench/results/${o.part.resultsFile} does not exist. Run \`sudo npm run bench -- --only ${o.part.part}\`.`
        : o.status === 'failed' ? `No figures from this run: ${o.error}.` : `The figures could not be read: ${o.error}`, '');
      continue;
    }
    const s = o.section;
    out.push(`## ${s.title}`, '');
    const when = s.machine ? ` (measured ${dateOf(s.machine)}, 1-minute load ${s.machine.load1} at start)` : '';
    out.push(`Command: \`${s.command}\`${when}.`, '');
    out.push(s.markdown.trim(), '');
    for (const chart of s.charts) out.push(`![${chart.title}](charts/${chart.id}.svg)`, '');
    for (const [id, svg] of o.charts) charts.set(id, svg);
  }

  const results = {
    command: options.command ?? null,
    parts: outcomes.map((o) => (o.status === 'ok'
      ? {
        part: o.part.part, status: o.status, resultsFile: o.part.resultsFile, title: o.section.title, command: o.section.command,
        machine: o.section.machine ?? null,
        headlines: o.section.headlines.map((h) => ({ ...h, ...(compare(h) ?? {}) })),
        charts: o.section.charts.map((c) => `charts/${c.id}.svg`),
        raw: o.section.raw,
      }
      : { part: o.part.part, status: o.status, resultsFile: o.part.resultsFile, ...(o.status === 'not run' ? {} : { error: o.error }) })),
  };

  const block = [
    summaryTable(outcomes),
    '',
    RATIO_NOTE,
    '',
    `${produced}.${machines.size ? ` Measured${distinct.size === 1 ? ` on ${[...distinct][0]},` : ''}${measuredWhen(machines)}.` : ''} ` +
      `${notRun ? `${notRun} ` : ''}The full report, with each part's tables and charts: [${options.reportLink}](${options.reportLink}).`,
  ].join('\n');
  return { report: `${out.join('\n').trimEnd()}\n`, results: toJson(results), charts, readmeBlock: block };
}

/**
 * The README with `block` between the markers; markers that are missing are added at the end of the
 * "Benchmarks" section (a new section at the end when there is none). The rest is left as it was.
 */
export function replaceReadmeBlock(readme: string, block: string): string {
  const wrapped = `${BEGIN}\n${block.trim()}\n${END}`;
  const begin = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  if (begin !== -1 || end !== -1) {
    if (begin === -1 || end === -1 || end < begin) throw new Error(`README.md has one of ${BEGIN} and ${END} without the other, or in the wrong order`);
    if (readme.indexOf(BEGIN, begin + 1) !== -1 || readme.indexOf(END, end + 1) !== -1) throw new Error('README.md has the bench markers more than once');
    return readme.slice(0, begin) + wrapped + readme.slice(end + END.length);
  }
  const lines = readme.split('\n');
  const heading = lines.findIndex((l) => /^##\s+Benchmarks\s*$/.test(l));
  if (heading === -1) return `${readme.trimEnd()}\n\n## Benchmarks\n\n${wrapped}\n`;
  let next = lines.findIndex((l, i) => i > heading && /^#{1,2}\s/.test(l));
  if (next === -1) next = lines.length;
  const before = lines.slice(0, next).join('\n').trimEnd();
  const after = lines.slice(next).join('\n');
  return `${before}\n\n${wrapped}\n${after ? `\n${after}` : ''}`;
}

export interface BuildOptions {
  resultsDir: string;
  outDir: string;
  /** README.md to update; left alone when it does not exist. */
  readmePath?: string;
  command?: string;
  /** The parts `command` ran (see RenderOptions.ran). */
  ran?: readonly string[];
  /** Parts whose run failed just now, with why: reported as failed, their earlier figures left out. */
  failed?: Readonly<Record<string, string>>;
  parts?: readonly Part[];
}

export function buildReport(options: BuildOptions): { outcomes: PartOutcome[]; written: string[] } {
  const outcomes = collect(options.parts ?? PARTS, options.resultsDir, options.failed);
  const reportPath = join(options.outDir, 'REPORT.md');
  const reportLink = options.readmePath ? relative(dirname(resolve(options.readmePath)), resolve(reportPath)).split(sep).join('/') : 'REPORT.md';
  const files = renderReport(outcomes, { reportLink, ...(options.command ? { command: options.command } : {}), ...(options.ran ? { ran: options.ran } : {}) });
  const chartsDir = join(options.outDir, 'charts');
  mkdirSync(chartsDir, { recursive: true });
  // Charts of an earlier report that this one no longer draws would otherwise linger.
  for (const name of readdirSync(chartsDir)) {
    if (name.endsWith('.svg') && !files.charts.has(name.slice(0, -4))) rmSync(join(chartsDir, name));
  }
  const written: string[] = [];
  const write = (path: string, content: string) => {
    writeFileSync(path, content);
    written.push(path);
  };
  write(reportPath, files.report);
  write(join(options.outDir, 'results.json'), files.results);
  for (const [id, svg] of files.charts) write(join(chartsDir, `${id}.svg`), svg);
  if (options.readmePath && existsSync(options.readmePath)) {
    const readme = readFileSync(options.readmePath, 'utf8');
    const updated = replaceReadmeBlock(readme, files.readmeBlock);
    if (updated !== readme) write(options.readmePath, updated);
  }
  return { outcomes, written };
}

function main(): void {
  const { values } = parseArgs({
    options: {
      command: { type: 'string' },
      results: { type: 'string' },
      out: { type: 'string' },
      readme: { type: 'string' },
    },
  });
  const root = repoRoot();
  const { outcomes, written } = buildReport({
    resultsDir: values.results ?? join(root, 'bench', 'results'),
    outDir: values.out ?? join(root, 'docs', 'benchmarks'),
    readmePath: values.readme ?? join(root, 'README.md'),
    ...(values.command ? { command: values.command } : {}),
  });
  for (const o of outcomes) {
    const detail = o.status === 'ok' ? `${o.section.headlines.length} headlines, ${o.charts.size} charts` : o.status === 'not run' ? `no bench/results/${o.part.resultsFile}` : o.error;
    console.log(`${o.part.part.padEnd(14)} ${o.status.padEnd(10)} ${detail}`);
  }
  console.log(`\nwrote ${written.map((p) => relative(root, p)).join(', ')}`);
  if (outcomes.some((o) => o.status === 'unreadable')) process.exitCode = 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
