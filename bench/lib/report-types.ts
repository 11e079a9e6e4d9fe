// What each part of the benchmark hands the report (bench/report/): a section of Markdown and the
// charts to draw for it. The parts compute; the report lays out and draws (bench/lib/svg.ts).
import type { Machine } from './machine.js';

/** One bar: a median, with its spread (e.g. the interquartile range, or min..max) when there is one. */
export interface Bar {
  label: string;
  value: number;
  low?: number;
  high?: number;
  /** Marks the bar as the reference (the floor, or the bridge plugin) the others compare with. */
  reference?: boolean;
}

export interface BarGroup {
  label: string;
  bars: Bar[];
}

export interface BarChart {
  kind: 'bar';
  /** File name without extension: the chart is written as `<id>.svg`. */
  id: string;
  title: string;
  /** The value axis, e.g. "ms", "Gbit/s", "× the floor". */
  unit: string;
  /** Says which way is better under the title ("lower is better"). */
  better: 'lower' | 'higher';
  groups: BarGroup[];
  note?: string;
}

export interface LineSeries {
  label: string;
  /** [x, y] points, x ascending. */
  points: [number, number][];
}

export interface LineChart {
  kind: 'line';
  id: string;
  title: string;
  xLabel: string;
  unit: string;
  better: 'lower' | 'higher';
  series: LineSeries[];
  note?: string;
}

export type Chart = BarChart | LineChart;

/** One comparison for the report's summary: sluice's figure against the reference's. */
export interface Headline {
  /** What was measured, e.g. "ADD median, agent vs bridge + host-local". */
  metric: string;
  sluice: number;
  reference: number;
  unit: string;
  better: 'lower' | 'higher';
}

export interface ReportSection {
  id: string;
  title: string;
  /** The command that produced the figures. */
  command: string;
  /** Markdown body: tables and honest sentences, including where sluice loses. */
  markdown: string;
  charts: Chart[];
  /** The comparisons the summary at the top lists, wins and losses alike. */
  headlines: Headline[];
  /** The figures the section was made from (goes into the combined JSON). */
  raw: unknown;
  machine?: Machine;
}
