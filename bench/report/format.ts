// Numbers as the report prints them, where bench/lib/report.ts's formats do not fit: ratios that can be
// far from 1 either way (0.0011×, 951×), and a quantity with its unit.
import { formatMs, formatSI } from '../lib/report.js';

/** A ratio with about three significant digits at any size: 0.0011×, 0.37×, 2.73×, 72.6×, 951×. */
export function formatFactor(r: number): string {
  if (!Number.isFinite(r)) return String(r);
  const abs = Math.abs(r);
  if (abs >= 100) return `${r.toFixed(0)}×`;
  if (abs >= 10) return `${r.toFixed(1)}×`;
  if (abs >= 0.1 || abs === 0) return `${r.toFixed(2)}×`;
  return `${Number(r.toPrecision(2))}×`;
}

/** A value with its unit: milliseconds as formatMs prints them, anything else with an SI prefix ("2.51 M msg/s"). */
export function formatQuantity(value: number, unit: string): string {
  if (unit === 'ms') return formatMs(value);
  return `${formatSI(value)}${unit ? ` ${unit}` : ''}`;
}
