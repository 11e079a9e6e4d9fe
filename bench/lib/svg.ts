// Draws the report's charts (bench/lib/report-types.ts) as self-contained SVG: no scripts, no external
// fonts or styles, a white background (so that it reads on dark pages too), the Okabe–Ito palette
// (distinguishable with the common colour-vision deficiencies), and every piece of text XML-escaped.
// Bar charts are horizontal, one row per bar: long group labels wrap in a column of their own and no
// two labels can collide. Text widths are estimated (no font metrics here), on the generous side.
import type { Bar, BarChart, Chart, LineChart } from './report-types.js';

/** Okabe & Ito's colour-blind-safe palette, yellow left out (too pale on white). */
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#56B4E9', '#CC79A7', '#000000'] as const;
export const REFERENCE_COLOUR = '#8C8C8C';

const WIDTH = 760;
const PAD = 16;
const FONT = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif";
const SIZE = { title: 16, subtitle: 12, label: 12, tick: 11, value: 11, legend: 12, note: 11 } as const;
const LINE = 1.3; // line height, in ems
const INK = '#1A1A1A';
const MUTED = '#555555';
const GRID = '#E3E3E3';

export function renderChart(chart: Chart): string {
  return chart.kind === 'bar' ? renderBarChart(chart) : renderLineChart(chart);
}

// ---- text ----

const INVALID_XML_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Text safe inside an XML element or a quoted attribute; characters XML cannot carry at all are dropped. */
export function escapeXml(text: string): string {
  return text.replace(INVALID_XML_CHARS, '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** An estimate of the rendered width of `text` in a sans-serif font of `size` px, rounded up rather than down. */
export function estimateTextWidth(text: string, size: number): number {
  let ems = 0;
  for (const ch of text) {
    if (ch === ' ') ems += 0.3;
    else if ('il.,:;|!\'`()[]{}'.includes(ch)) ems += 0.34;
    else if ('mwMW@%'.includes(ch)) ems += 0.92;
    else if (ch >= 'A' && ch <= 'Z') ems += 0.7;
    else ems += 0.6;
  }
  return ems * size;
}

/** Splits `text` into lines no wider than `maxWidth` (breaking inside a word only when the word alone is wider). */
export function wrapText(text: string, maxWidth: number, size: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const candidate = line ? `${line} ${word}` : word;
    if (estimateTextWidth(candidate, size) <= maxWidth) {
      line = candidate;
      continue;
    }
    if (line) lines.push(line);
    line = '';
    let rest = word;
    while (estimateTextWidth(rest, size) > maxWidth) {
      let cut = rest.length - 1;
      while (cut > 1 && estimateTextWidth(rest.slice(0, cut), size) > maxWidth) cut--;
      lines.push(rest.slice(0, cut));
      rest = rest.slice(cut);
    }
    line = rest;
  }
  if (line) lines.push(line);
  return lines.length ? lines : [''];
}

// ---- numbers ----

const PREFIXES: Array<[number, string]> = [[1e18, 'E'], [1e15, 'P'], [1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']];

function trimZeros(fixed: string): string {
  return fixed.includes('.') ? fixed.replace(/\.?0+$/, '') : fixed;
}

/** Three significant digits with an SI prefix: 0.0123 -> "0.0123", 812 -> "812", 1234567 -> "1.23 M". */
export function formatCompact(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const abs = Math.abs(x);
  if (abs >= 1e21) return x.toExponential(2);
  for (const [scale, prefix] of PREFIXES) {
    if (Number((abs / scale).toPrecision(3)) >= 1) return `${trimZeros((x / scale).toPrecision(3))} ${prefix}`;
  }
  if (abs < 1e-3) return x.toExponential(2);
  return trimZeros(x.toPrecision(3));
}

/** Tick labels for evenly spaced ticks: one SI prefix for all, as many decimals as the step needs. */
export function formatTicks(ticks: readonly number[]): string[] {
  const top = Math.max(...ticks.map(Math.abs));
  const step = ticks.length > 1 ? Math.abs(ticks[1]! - ticks[0]!) : top || 1;
  if (top >= 1e21 || (top > 0 && top < 1e-3)) return ticks.map((t) => (t === 0 ? '0' : t.toExponential(1)));
  const [scale, prefix] = PREFIXES.find(([s]) => top >= s) ?? [1, ''];
  const scaledStep = step / scale;
  let decimals = 0;
  while (decimals < 6 && Math.abs(Math.round(scaledStep * 10 ** decimals) - scaledStep * 10 ** decimals) > 1e-6) decimals++;
  return ticks.map((t) => {
    const text = trimZeros((t / scale).toFixed(decimals));
    return text === '0' || text === '-0' ? '0' : `${text}${prefix ? ` ${prefix}` : ''}`;
  });
}

/** A value as a bar's label: the number, and the unit when it is short; a unit starting with × is a ratio ("2.8×"). */
export function formatValue(x: number, unit: string): string {
  if (unit.startsWith('×')) return `${formatCompact(x)}×`;
  return unit && !/\s/.test(unit) && unit.length <= 6 ? `${formatCompact(x)} ${unit}` : formatCompact(x);
}

/**
 * "Nice" axis ticks covering [min, max]: steps of 1, 2, 2.5 or 5 times a power of ten, about
 * `target` of them. An empty span (both ends equal) is widened so that the axis still has a length.
 */
export function niceTicks(min: number, max: number, target = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) throw new RangeError(`cannot scale an axis over ${min}..${max}`);
  if (min > max) [min, max] = [max, min];
  if (min === max) {
    if (min === 0) max = 1;
    else if (min > 0) min = 0;
    else max = 0;
  }
  const raw = (max - min) / Math.max(1, target);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw * (1 - 1e-9)) ?? 10 * magnitude;
  const first = Math.floor(min / step + 1e-9);
  const last = Math.ceil(max / step - 1e-9);
  const ticks: number[] = [];
  for (let i = first; i <= last; i++) ticks.push(Number((i * step).toPrecision(12)));
  return ticks;
}

/** Ticks whose labels fit side by side along `length` px: fewer ticks until they do. */
function fittingTicks(min: number, max: number, length: number, size: number): { ticks: number[]; labels: string[] } {
  for (let target = 8; ; target--) {
    const ticks = niceTicks(min, max, target);
    const labels = formatTicks(ticks);
    const widest = Math.max(...labels.map((l) => estimateTextWidth(l, size)));
    if (target <= 2 || (length / Math.max(1, ticks.length - 1)) >= widest + 10) return { ticks, labels };
  }
}

// ---- SVG elements ----

type Attrs = Record<string, string | number | undefined>;

function attrs(a: Attrs): string {
  return Object.entries(a)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${typeof v === 'number' ? round(v) : escapeXml(v!)}"`)
    .join('');
}

function round(n: number): string {
  return String(Math.round(n * 100) / 100);
}

function el(name: string, a: Attrs, content?: string): string {
  return content === undefined ? `<${name}${attrs(a)}/>` : `<${name}${attrs(a)}>${content}</${name}>`;
}

function text(x: number, y: number, content: string, size: number, extra: Attrs = {}): string {
  return el('text', { x, y, 'font-size': size, fill: INK, ...extra }, escapeXml(content));
}

function document(title: string, width: number, height: number, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${round(width)}" height="${round(height)}" viewBox="0 0 ${round(width)} ${round(height)}" role="img" aria-label="${escapeXml(title)}" font-family="${escapeXml(FONT)}">`,
    el('title', {}, escapeXml(title)),
    el('rect', { x: 0, y: 0, width, height, fill: '#FFFFFF' }),
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

/** The title (wrapped) and "lower/higher is better" under it; returns the elements and the y below them. */
function heading(chart: Chart, y: number): { parts: string[]; y: number } {
  const parts: string[] = [];
  for (const line of wrapText(chart.title, WIDTH - 2 * PAD, SIZE.title)) {
    y += SIZE.title * LINE;
    parts.push(text(PAD, y, line, SIZE.title, { 'font-weight': 'bold', class: 'title' }));
  }
  y += SIZE.subtitle * LINE + 2;
  const better = chart.better === 'lower' ? 'Lower is better' : 'Higher is better';
  parts.push(text(PAD, y, better, SIZE.subtitle, { fill: MUTED, class: 'better' }));
  return { parts, y };
}

interface LegendItem {
  label: string;
  swatch: (x: number, yMid: number) => string;
}

/** Legend items laid out in rows, wrapping at the chart's width. */
function legend(items: LegendItem[], y: number): { parts: string[]; y: number } {
  if (items.length === 0) return { parts: [], y };
  const parts: string[] = [];
  const rowHeight = SIZE.legend * LINE + 4;
  let x = PAD;
  y += rowHeight;
  for (const item of items) {
    const width = 22 + estimateTextWidth(item.label, SIZE.legend);
    if (x > PAD && x + width > WIDTH - PAD) {
      x = PAD;
      y += rowHeight;
    }
    const mid = y - SIZE.legend * 0.35;
    parts.push(item.swatch(x, mid), text(x + 20, y, item.label, SIZE.legend, { class: 'legend' }));
    x += width + 18;
  }
  return { parts, y };
}

function boxSwatch(colour: string): (x: number, mid: number) => string {
  return (x, mid) => el('rect', { x, y: mid - 6, width: 14, height: 12, fill: colour, rx: 2 });
}

function noteLines(note: string | undefined, y: number): { parts: string[]; y: number } {
  if (!note) return { parts: [], y };
  const parts: string[] = [];
  y += 6;
  for (const line of wrapText(note, WIDTH - 2 * PAD, SIZE.note)) {
    y += SIZE.note * LINE;
    parts.push(text(PAD, y, line, SIZE.note, { fill: MUTED, 'font-style': 'italic', class: 'note' }));
  }
  return { parts, y };
}

function noData(y: number): { parts: string[]; y: number } {
  y += 40;
  return { parts: [text(WIDTH / 2, y, 'no data', SIZE.label, { fill: MUTED, 'text-anchor': 'middle', class: 'empty' })], y: y + 20 };
}

function checkFinite(what: string, value: number | undefined): void {
  if (value !== undefined && !Number.isFinite(value)) throw new RangeError(`${what} is not a finite number: ${value}`);
}

// ---- bar charts ----

const BAR = 16;
const BAR_GAP = 4;
const GROUP_PAD = 8;

/** Each bar label's colour: the palette in order of first appearance; grey for a label that is only ever the reference. */
function barColours(chart: BarChart): Map<string, string> {
  const colours = new Map<string, string>();
  const bars = chart.groups.flatMap((g) => g.bars);
  const onlyReference = (label: string) => bars.filter((b) => b.label === label).every((b) => b.reference);
  let next = 0;
  for (const bar of bars) {
    if (colours.has(bar.label)) continue;
    colours.set(bar.label, onlyReference(bar.label) ? REFERENCE_COLOUR : PALETTE[next++ % PALETTE.length]!);
  }
  return colours;
}

function barEnd(bar: Bar): number {
  return Math.max(bar.value, bar.high ?? bar.value, bar.low ?? bar.value);
}

export function renderBarChart(chart: BarChart): string {
  for (const g of chart.groups) {
    for (const b of g.bars) {
      checkFinite(`${chart.id}: ${g.label} / ${b.label} value`, b.value);
      checkFinite(`${chart.id}: ${g.label} / ${b.label} low`, b.low);
      checkFinite(`${chart.id}: ${g.label} / ${b.label} high`, b.high);
    }
  }
  const head = heading(chart, 6);
  const parts = [...head.parts];
  const groups = chart.groups.filter((g) => g.bars.length > 0);
  const bars = groups.flatMap((g) => g.bars);
  if (bars.length === 0) {
    const empty = noData(head.y);
    const note = noteLines(chart.note, empty.y);
    return document(chart.title, WIDTH, note.y + PAD, [...parts, ...empty.parts, ...note.parts]);
  }

  const colours = barColours(chart);
  const hasReference = bars.some((b) => b.reference);
  const labels = [...colours.keys()];
  // With one bar per group the group's label names it; the legend then only explains the reference.
  const items: LegendItem[] = groups.some((g) => g.bars.length > 1)
    ? labels.map((label) => ({ label: colours.get(label) === REFERENCE_COLOUR ? `${label} (reference)` : label, swatch: boxSwatch(colours.get(label)!) }))
    : [];
  if (hasReference) {
    items.push({ label: 'reference value', swatch: (x, mid) => el('line', { x1: x + 7, y1: mid - 7, x2: x + 7, y2: mid + 7, stroke: INK, 'stroke-width': 1.5, 'stroke-dasharray': '3 2' }) });
  }
  const leg = legend(items, head.y);
  parts.push(...leg.parts);

  // Columns: group labels | plot | room for the value labels after the longest bar.
  const labelWidth = Math.min(240, Math.max(60, ...groups.map((g) => estimateTextWidth(g.label, SIZE.label))));
  const valueWidth = Math.max(...bars.map((b) => estimateTextWidth(formatValue(b.value, chart.unit), SIZE.value))) + 10;
  const plotLeft = PAD + labelWidth + 10;
  const plotRight = WIDTH - PAD - valueWidth;
  const lo = Math.min(0, ...bars.map((b) => Math.min(b.value, b.low ?? b.value, b.high ?? b.value)));
  const hi = Math.max(0, ...bars.map(barEnd));
  const { ticks, labels: tickLabels } = fittingTicks(lo, hi, plotRight - plotLeft, SIZE.tick);
  const domainLo = ticks[0]!;
  const domainHi = ticks[ticks.length - 1]!;
  const xOf = (v: number) => plotLeft + ((v - domainLo) / (domainHi - domainLo)) * (plotRight - plotLeft);

  const plotTop = leg.y + 14;
  let y = plotTop;
  const zebra: string[] = [];
  const rows: string[] = [];
  groups.forEach((g, gi) => {
    const lines = wrapText(g.label, labelWidth, SIZE.label);
    const barsHeight = g.bars.length * (BAR + BAR_GAP) - BAR_GAP;
    const labelHeight = lines.length * SIZE.label * LINE;
    const height = Math.max(barsHeight, labelHeight) + 2 * GROUP_PAD;
    if (gi % 2 === 1) zebra.push(el('rect', { x: PAD, y, width: WIDTH - 2 * PAD, height, fill: '#F6F6F6' }));
    const labelTop = y + (height - labelHeight) / 2;
    lines.forEach((line, i) => {
      rows.push(text(plotLeft - 8, labelTop + (i + 0.8) * SIZE.label * LINE, line, SIZE.label, { 'text-anchor': 'end', class: 'group-label' }));
    });
    let barTop = y + (height - barsHeight) / 2;
    for (const bar of g.bars) {
      const x0 = xOf(Math.min(0, bar.value));
      const x1 = xOf(Math.max(0, bar.value));
      const mid = barTop + BAR / 2;
      const spread = bar.low !== undefined || bar.high !== undefined
        ? ` (${formatValue(bar.low ?? bar.value, chart.unit)} – ${formatValue(bar.high ?? bar.value, chart.unit)})`
        : '';
      rows.push(el('rect', {
        x: x0, y: barTop, width: x1 - x0, height: BAR, fill: colours.get(bar.label)!, class: 'bar',
        'data-group': g.label, 'data-label': bar.label, 'data-value': bar.value,
      }, el('title', {}, escapeXml(`${g.label} · ${bar.label}: ${formatValue(bar.value, chart.unit)}${spread}`))));
      if (bar.low !== undefined || bar.high !== undefined) {
        const wl = xOf(bar.low ?? bar.value);
        const wh = xOf(bar.high ?? bar.value);
        const whisker = { stroke: INK, 'stroke-width': 1.3 };
        rows.push(el('g', { class: 'whisker', 'data-low': bar.low ?? bar.value, 'data-high': bar.high ?? bar.value }, [
          el('line', { x1: wl, y1: mid, x2: wh, y2: mid, ...whisker }),
          el('line', { x1: wl, y1: mid - 5, x2: wl, y2: mid + 5, ...whisker }),
          el('line', { x1: wh, y1: mid - 5, x2: wh, y2: mid + 5, ...whisker }),
        ].join('')));
      }
      rows.push(text(xOf(Math.max(0, barEnd(bar))) + 5, mid + SIZE.value * 0.36, formatValue(bar.value, chart.unit), SIZE.value, {
        class: 'value', stroke: '#FFFFFF', 'stroke-width': 3, 'paint-order': 'stroke',
      }));
      barTop += BAR + BAR_GAP;
    }
    for (const ref of g.bars.filter((b) => b.reference)) {
      rows.push(el('line', {
        x1: xOf(ref.value), y1: y + 2, x2: xOf(ref.value), y2: y + height - 2, stroke: INK, 'stroke-width': 1.5, 'stroke-dasharray': '3 2', class: 'reference',
      }));
    }
    y += height;
  });
  const plotBottom = y;

  // Drawn under the bars: the zebra rows, then the grid and the axis.
  const axis: string[] = [];
  ticks.forEach((t, i) => {
    const x = xOf(t);
    axis.push(el('line', { x1: x, y1: plotTop, x2: x, y2: plotBottom, stroke: t === 0 ? '#9A9A9A' : GRID, 'stroke-width': 1 }));
    axis.push(text(x, plotBottom + SIZE.tick * LINE + 2, tickLabels[i]!, SIZE.tick, { 'text-anchor': 'middle', fill: MUTED, class: 'tick' }));
  });
  y = plotBottom + SIZE.tick * LINE + 2 + SIZE.label * LINE + 4;
  axis.push(text((plotLeft + plotRight) / 2, y, chart.unit, SIZE.label, { 'text-anchor': 'middle', fill: MUTED, class: 'unit' }));
  const note = noteLines(chart.note, y);
  return document(chart.title, WIDTH, note.y + PAD, [...parts, ...zebra, ...axis, ...rows, ...note.parts]);
}

// ---- line charts ----

const PLOT_HEIGHT = 280;
const MARKERS: Array<(x: number, y: number, colour: string) => string> = [
  (x, y, c) => el('circle', { cx: x, cy: y, r: 4, fill: c }),
  (x, y, c) => el('rect', { x: x - 4, y: y - 4, width: 8, height: 8, fill: c }),
  (x, y, c) => el('path', { d: `M${round(x)} ${round(y - 5)}L${round(x + 5)} ${round(y + 4)}L${round(x - 5)} ${round(y + 4)}Z`, fill: c }),
  (x, y, c) => el('path', { d: `M${round(x)} ${round(y - 5)}L${round(x + 5)} ${round(y)}L${round(x)} ${round(y + 5)}L${round(x - 5)} ${round(y)}Z`, fill: c }),
  (x, y, c) => el('circle', { cx: x, cy: y, r: 4, fill: '#FFFFFF', stroke: c, 'stroke-width': 2 }),
  (x, y, c) => el('rect', { x: x - 4, y: y - 4, width: 8, height: 8, fill: '#FFFFFF', stroke: c, 'stroke-width': 2 }),
];
const DASHES = [undefined, '6 3', '2 3', '8 3 2 3'];

export function renderLineChart(chart: LineChart): string {
  for (const s of chart.series) {
    s.points.forEach(([x, y], i) => {
      checkFinite(`${chart.id}: ${s.label} point ${i} x`, x);
      checkFinite(`${chart.id}: ${s.label} point ${i} y`, y);
    });
  }
  const head = heading(chart, 6);
  const parts = [...head.parts];
  const series = chart.series.filter((s) => s.points.length > 0);
  const points = series.flatMap((s) => s.points);
  if (points.length === 0) {
    const empty = noData(head.y);
    const note = noteLines(chart.note, empty.y);
    return document(chart.title, WIDTH, note.y + PAD, [...parts, ...empty.parts, ...note.parts]);
  }
  const colour = (i: number) => PALETTE[i % PALETTE.length]!;
  const leg = legend(series.map((s, i) => ({
    label: s.label,
    swatch: (x: number, mid: number) => el('line', { x1: x, y1: mid, x2: x + 16, y2: mid, stroke: colour(i), 'stroke-width': 2, 'stroke-dasharray': DASHES[i % DASHES.length] })
      + MARKERS[i % MARKERS.length]!(x + 8, mid, colour(i)),
  })), head.y);
  parts.push(...leg.parts);

  const yTicks = fittingTicks(Math.min(0, ...points.map((p) => p[1])), Math.max(0, ...points.map((p) => p[1])), PLOT_HEIGHT, SIZE.tick);
  const yLabelWidth = Math.max(...yTicks.labels.map((l) => estimateTextWidth(l, SIZE.tick)));
  const plotLeft = PAD + SIZE.label * LINE + 6 + yLabelWidth + 8;
  const plotRight = WIDTH - PAD - 12;
  const xs = points.map((p) => p[0]);
  const xTicks = fittingTicks(Math.min(...xs), Math.max(...xs), plotRight - plotLeft, SIZE.tick);
  const plotTop = leg.y + 18;
  const plotBottom = plotTop + PLOT_HEIGHT;
  const [x0, x1] = [xTicks.ticks[0]!, xTicks.ticks[xTicks.ticks.length - 1]!];
  const [y0, y1] = [yTicks.ticks[0]!, yTicks.ticks[yTicks.ticks.length - 1]!];
  const xOf = (v: number) => plotLeft + ((v - x0) / (x1 - x0)) * (plotRight - plotLeft);
  const yOf = (v: number) => plotBottom - ((v - y0) / (y1 - y0)) * PLOT_HEIGHT;

  yTicks.ticks.forEach((t, i) => {
    parts.push(el('line', { x1: plotLeft, y1: yOf(t), x2: plotRight, y2: yOf(t), stroke: t === 0 ? '#9A9A9A' : GRID, 'stroke-width': 1 }));
    parts.push(text(plotLeft - 6, yOf(t) + SIZE.tick * 0.36, yTicks.labels[i]!, SIZE.tick, { 'text-anchor': 'end', fill: MUTED, class: 'tick' }));
  });
  xTicks.ticks.forEach((t, i) => {
    parts.push(el('line', { x1: xOf(t), y1: plotBottom, x2: xOf(t), y2: plotBottom + 4, stroke: '#9A9A9A', 'stroke-width': 1 }));
    parts.push(text(xOf(t), plotBottom + SIZE.tick * LINE + 4, xTicks.labels[i]!, SIZE.tick, { 'text-anchor': 'middle', fill: MUTED, class: 'tick' }));
  });
  const unitX = PAD + SIZE.label;
  const unitY = (plotTop + plotBottom) / 2;
  parts.push(text(unitX, unitY, chart.unit, SIZE.label, { 'text-anchor': 'middle', fill: MUTED, transform: `rotate(-90 ${round(unitX)} ${round(unitY)})`, class: 'unit' }));
  let y = plotBottom + SIZE.tick * LINE + 4 + SIZE.label * LINE + 4;
  parts.push(text((plotLeft + plotRight) / 2, y, chart.xLabel, SIZE.label, { 'text-anchor': 'middle', fill: MUTED, class: 'x-label' }));

  series.forEach((s, i) => {
    const path = s.points.map(([px, py]) => `${round(xOf(px))},${round(yOf(py))}`).join(' ');
    const marks = s.points.map(([px, py]) => MARKERS[i % MARKERS.length]!(xOf(px), yOf(py), colour(i))).join('');
    parts.push(el('g', { class: 'series', 'data-label': s.label }, [
      el('title', {}, escapeXml(`${s.label}: ${s.points.map(([px, py]) => `${formatCompact(px)} → ${formatValue(py, chart.unit)}`).join(', ')}`)),
      el('polyline', { points: path, fill: 'none', stroke: colour(i), 'stroke-width': 2, 'stroke-dasharray': DASHES[i % DASHES.length], 'stroke-linejoin': 'round' }),
      marks,
    ].join('')));
  });
  const note = noteLines(chart.note, y);
  y = note.y;
  return document(chart.title, WIDTH, y + PAD, [...parts, ...note.parts]);
}
