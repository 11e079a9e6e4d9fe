// Summary statistics for benchmark samples: median and spread. Pure functions, no I/O.

/** The spread of a set of samples, as reported by the benchmarks. */
export interface Summary {
  /** How many samples. */
  n: number;
  median: number;
  min: number;
  max: number;
  /** First and third quartiles, and their difference (the interquartile range). */
  q1: number;
  q3: number;
  iqr: number;
  mean: number;
}

function checkSamples(samples: readonly number[]): void {
  if (samples.length === 0) throw new RangeError('no samples');
  for (const s of samples) {
    if (typeof s !== 'number' || !Number.isFinite(s)) throw new RangeError(`not a finite sample: ${String(s)}`);
  }
}

/** The samples sorted in ascending order (a copy). */
export function sorted(samples: readonly number[]): number[] {
  return [...samples].sort((a, b) => a - b);
}

/**
 * The q-quantile (0 <= q <= 1) of samples already sorted in ascending order, interpolating linearly
 * between the two nearest ranks (the "type 7" definition of R and NumPy's default).
 */
export function quantileSorted(ascending: readonly number[], q: number): number {
  checkSamples(ascending);
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile must be within [0, 1], got ${q}`);
  const pos = (ascending.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = ascending[lo]!;
  const b = ascending[hi]!;
  return a + (b - a) * (pos - lo);
}

export function quantile(samples: readonly number[], q: number): number {
  return quantileSorted(sorted(samples), q);
}

/** The middle sample, or the mean of the two middle ones for an even count. */
export function median(samples: readonly number[]): number {
  return quantile(samples, 0.5);
}

export function summarize(samples: readonly number[]): Summary {
  checkSamples(samples);
  const s = sorted(samples);
  const q1 = quantileSorted(s, 0.25);
  const q3 = quantileSorted(s, 0.75);
  return {
    n: s.length,
    median: quantileSorted(s, 0.5),
    min: s[0]!,
    max: s[s.length - 1]!,
    q1,
    q3,
    iqr: q3 - q1,
    mean: s.reduce((a, b) => a + b, 0) / s.length,
  };
}

/**
 * Turns durations into rates: `units` things done in each sample of `ms` milliseconds gives things
 * per second. The order is kept (the fastest duration is the highest rate).
 */
export function ratesPerSecond(durationsMs: readonly number[], units: number | readonly number[]): number[] {
  return durationsMs.map((ms, i) => {
    const u = typeof units === 'number' ? units : units[i];
    if (u === undefined) throw new RangeError(`no unit count for sample ${i}`);
    if (!(ms > 0)) throw new RangeError(`a duration must be positive, got ${ms}`);
    return (u * 1000) / ms;
  });
}

/** a / b, refusing a zero or non-finite denominator. */
export function ratio(a: number, b: number): number {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) throw new RangeError(`cannot divide ${a} by ${b}`);
  return a / b;
}

export interface PairedRatio {
  /** The median of candidate[i] / base[i]. */
  median: number;
  /** A 90% bootstrap interval of that median. */
  low: number;
  high: number;
  n: number;
}

/**
 * How `candidate` compares with `base` when sample i of each was taken back to back (pod i of two
 * contenders, say): the median of the per-pair ratios, so that what drifts during a run (the machine's
 * load, a noisy neighbour) cancels out, with a bootstrap interval (fixed seed: the same samples give
 * the same interval).
 */
export function pairedRatio(base: readonly number[], candidate: readonly number[], resamples = 2000): PairedRatio {
  if (base.length !== candidate.length) throw new RangeError(`paired samples: ${base.length} against ${candidate.length}`);
  checkSamples(base);
  checkSamples(candidate);
  const ratios = base.map((b, i) => ratio(candidate[i]!, b));
  let seed = 0x9e3779b9;
  const random = () => {
    // xorshift32: deterministic, and plenty for resampling indexes.
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 0x100000000;
  };
  const medians: number[] = [];
  for (let r = 0; r < resamples; r++) medians.push(median(ratios.map(() => ratios[Math.floor(random() * ratios.length)]!)));
  const s = sorted(medians);
  return { median: median(ratios), low: quantileSorted(s, 0.05), high: quantileSorted(s, 0.95), n: ratios.length };
}
