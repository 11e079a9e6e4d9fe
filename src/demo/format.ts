/**
 * The demo's output: headings, aligned tables and numbers with units. Everything goes to stdout as
 * whole lines; bold headings only on a terminal, so a pipe or a log file gets plain text.
 */

const tty = process.stdout.isTTY === true;
const bold = (s: string): string => (tty ? `\x1b[1m${s}\x1b[22m` : s);
const dim = (s: string): string => (tty ? `\x1b[2m${s}\x1b[22m` : s);

export function say(line = ''): void {
  process.stdout.write(`${line}\n`);
}

/** A numbered section heading, with an empty line before it. */
export function heading(number: number | string, title: string): void {
  say();
  say(bold(`${number}. ${title}`));
}

/** An explanatory line under a table, set off a little. */
export function note(text: string): void {
  say(dim(`  ${text}`));
}

export interface Column {
  header: string;
  /** Numbers read best right-aligned. */
  align?: 'left' | 'right';
}

/** The lines of a table: a header row, then the rows, columns padded to their widest cell. */
export function table(columns: readonly Column[], rows: readonly (readonly string[])[], indent = '  '): string[] {
  const widths = columns.map((c, i) => Math.max(width(c.header), ...rows.map((r) => width(r[i] ?? ''))));
  const line = (cells: readonly string[]) =>
    indent +
    columns
      .map((c, i) => {
        const cell = cells[i] ?? '';
        const pad = ' '.repeat(widths[i]! - width(cell));
        return c.align === 'right' ? pad + cell : cell + pad;
      })
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...rows.map(line)];
}

export function printTable(columns: readonly Column[], rows: readonly (readonly string[])[]): void {
  for (const l of table(columns, rows)) say(l);
}

/** "key   value" lines, the values aligned. */
export function printPairs(pairs: readonly (readonly [string, string])[]): void {
  const w = Math.max(...pairs.map(([k]) => width(k)));
  for (const [k, v] of pairs) say(`  ${k}${' '.repeat(w - width(k))}  ${v}`.trimEnd());
}

/** Display width: characters, not UTF-16 units (µ, →, · are one column each). */
function width(s: string): number {
  return [...s].length;
}

/** 1234567 -> "1,234,567". */
export function count(n: number | bigint): string {
  return BigInt(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** Bytes in binary units: "0 B", "98 B", "1.9 KiB", "5.87 GiB". */
export function bytes(n: number | bigint): string {
  let value = Number(n);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${value} B`;
  return `${value.toFixed(Math.abs(value) < 10 ? 2 : 1)} ${units[unit]}`;
}

/** Bits per second: "16.3 Gbit/s", "850 Mbit/s". */
export function rate(bitsPerSecond: number): string {
  if (bitsPerSecond >= 1e9) return `${(bitsPerSecond / 1e9).toFixed(1)} Gbit/s`;
  if (bitsPerSecond >= 1e6) return `${(bitsPerSecond / 1e6).toFixed(0)} Mbit/s`;
  return `${(bitsPerSecond / 1e3).toFixed(0)} kbit/s`;
}

/** A duration given in microseconds: "42 µs", "1.3 ms", "2.1 s". */
export function micros(us: number): string {
  if (us < 1000) return `${Math.round(us)} µs`;
  if (us < 1e6) return `${(us / 1000).toFixed(us < 10_000 ? 1 : 0)} ms`;
  return `${(us / 1e6).toFixed(1)} s`;
}

export function millis(ms: number): string {
  return micros(ms * 1000);
}

/** A signed change: "+1,234" / "+1.9 KiB"; zero stays "0". */
export function delta(n: bigint, format: (n: bigint) => string): string {
  return n === 0n ? '0' : `${n > 0n ? '+' : ''}${format(n)}`;
}

/** The median of a non-empty list. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
