// Reading a part's results JSON (bench/results/<part>.json) back: checked accessors that name the path
// of whatever is missing or of the wrong type, so that a report built from an older or truncated file
// fails with "codec.json: rows[2].sluice.median is not a number" rather than drawing NaN.
import type { Machine } from '../lib/machine.js';
import type { Summary } from '../lib/stats.js';

export class ResultsShapeError extends Error {
  override name = 'ResultsShapeError';
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  return typeof x === 'object' ? 'an object' : `${typeof x} ${JSON.stringify(x)}`;
}

export function asObject(x: unknown, path: string): Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new ResultsShapeError(`${path} is not an object (${describe(x)})`);
  return x as Record<string, unknown>;
}

export function asArray(x: unknown, path: string): unknown[] {
  if (!Array.isArray(x)) throw new ResultsShapeError(`${path} is not an array (${describe(x)})`);
  return x;
}

export function asNumber(x: unknown, path: string): number {
  if (typeof x !== 'number' || !Number.isFinite(x)) throw new ResultsShapeError(`${path} is not a number (${describe(x)})`);
  return x;
}

export function asString(x: unknown, path: string): string {
  if (typeof x !== 'string') throw new ResultsShapeError(`${path} is not a string (${describe(x)})`);
  return x;
}

export function asBoolean(x: unknown, path: string): boolean {
  if (typeof x !== 'boolean') throw new ResultsShapeError(`${path} is not a boolean (${describe(x)})`);
  return x;
}

/** A Summary (bench/lib/stats.ts) as the parts write it. */
export function asSummary(x: unknown, path: string): Summary {
  const o = asObject(x, path);
  const n = (k: keyof Summary) => asNumber(o[k], `${path}.${k}`);
  return { n: n('n'), median: n('median'), min: n('min'), max: n('max'), q1: n('q1'), q3: n('q3'), iqr: n('iqr'), mean: n('mean') };
}

/** The machine a part recorded (bench/lib/machine.ts), or undefined when it recorded none. */
export function asMachine(x: unknown, path: string): Machine | undefined {
  if (x === undefined) return undefined;
  const o = asObject(x, path);
  return {
    cpu: asString(o.cpu, `${path}.cpu`),
    cores: asNumber(o.cores, `${path}.cores`),
    arch: asString(o.arch, `${path}.arch`),
    memoryGiB: asNumber(o.memoryGiB, `${path}.memoryGiB`),
    kernel: asString(o.kernel, `${path}.kernel`),
    node: asString(o.node, `${path}.node`),
    v8: asString(o.v8, `${path}.v8`),
    load1: asNumber(o.load1, `${path}.load1`),
    date: asString(o.date, `${path}.date`),
  };
}

/** The geometric mean of positive numbers (how ratios over several cases are averaged). */
export function geometricMean(xs: readonly number[]): number {
  if (xs.length === 0 || xs.some((x) => !(x > 0))) throw new RangeError(`a geometric mean needs positive numbers, got ${xs.join(', ')}`);
  return Math.exp(xs.reduce((sum, x) => sum + Math.log(x), 0) / xs.length);
}
