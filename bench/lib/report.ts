// Presenting results: number formatting, Markdown tables, and the JSON files under bench/results/.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Summary } from './stats.js';

export type Align = 'left' | 'right';

function escapeCell(cell: string): string {
  return cell.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/**
 * A GitHub-flavoured Markdown table, its columns padded to one width so that it reads as well in a
 * terminal as rendered. `align` gives each column's alignment (default: left).
 */
export function markdownTable(headers: readonly string[], rows: readonly (readonly string[])[], align: readonly Align[] = []): string {
  if (headers.length === 0) throw new RangeError('a table needs at least one column');
  rows.forEach((row, i) => {
    if (row.length !== headers.length) throw new RangeError(`row ${i} has ${row.length} cells, the table has ${headers.length} columns`);
  });
  const cells = [headers, ...rows].map((row) => row.map(escapeCell));
  const widths = headers.map((_, c) => Math.max(3, ...cells.map((row) => row[c]!.length)));
  const pad = (text: string, c: number) => (align[c] === 'right' ? text.padStart(widths[c]!) : text.padEnd(widths[c]!));
  const line = (row: readonly string[]) => `| ${row.map(pad).join(' | ')} |`;
  const rule = `|${widths.map((w, c) => (align[c] === 'right' ? `${'-'.repeat(w + 1)}:` : `:${'-'.repeat(w + 1)}`)).join('|')}|`;
  return [line(cells[0]!), rule, ...cells.slice(1).map(line)].join('\n');
}

/** An integer with thousands separators: 10006 -> "10,006". */
export function formatInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Three significant digits with an SI prefix: 1234567 -> "1.23 M", 12345 -> "12.3 k", 812 -> "812". */
export function formatSI(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const units: Array<[number, string]> = [[1e9, ' G'], [1e6, ' M'], [1e3, ' k']];
  for (const [scale, unit] of units) {
    // Round first, so that 999,950 prints as "1.00 M", not "1000 k".
    if (Math.abs(Number((x / scale).toPrecision(3))) >= 1) return `${trimPrecision(x / scale)}${unit}`;
  }
  return trimPrecision(x);
}

function trimPrecision(x: number): string {
  const abs = Math.abs(x);
  if (abs >= 100) return x.toFixed(0);
  if (abs >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

/** Milliseconds: "0.42 ms", "45.1 ms", "1,234 ms". */
export function formatMs(ms: number): string {
  if (ms >= 1000) return `${formatInt(ms)} ms`;
  return `${trimPrecision(ms)} ms`;
}

/** A ratio: "0.42×", "3.10×", "12.5×". */
export function formatRatio(r: number): string {
  if (!Number.isFinite(r)) return String(r);
  return `${r >= 10 ? r.toFixed(1) : r.toFixed(2)}×`;
}

/** "median (min–max)" of a summary, each value formatted by `fmt`. */
export function formatSpread(s: Summary, fmt: (x: number) => string): string {
  return `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})`;
}

/** The repository's root: the nearest folder above this module whose package.json names sluice. */
export function repoRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'sluice') return dir;
      } catch {
        // not a readable package.json: keep looking
      }
    }
    if (dirname(dir) === dir) throw new Error(`no sluice package.json above ${from}`);
  }
}

/** JSON that survives bigints (as decimal strings). */
export function toJson(data: unknown): string {
  return `${JSON.stringify(data, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`;
}

/** Writes `data` to <dir>/<name>.json (dir defaults to bench/results/ of the repository) and returns the path. */
export function writeResults(name: string, data: unknown, dir = join(repoRoot(), 'bench', 'results')): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw new TypeError(`invalid results name ${JSON.stringify(name)}`);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.json`);
  writeFileSync(path, toJson(data));
  return path;
}
