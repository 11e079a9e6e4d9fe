// How latency grows with the pods on a node: per-pod samples cut into buckets of consecutive pod
// counts (pods 1–50, 51–100, ...), each summarised. Pure functions, no I/O.
import { quantile, summarize } from '../lib/stats.js';

export interface Bucket {
  /** First and last pod count in the bucket (1-based, inclusive). */
  from: number;
  to: number;
  n: number;
  median: number;
  q1: number;
  q3: number;
  p99: number;
}

/** About ten buckets over `pods` pods: 500 -> 50, 60 -> 6. */
export function bucketSizeFor(pods: number): number {
  if (!Number.isInteger(pods) || pods < 1) throw new RangeError(`pods must be a positive integer, got ${pods}`);
  return Math.ceil(pods / 10);
}

/**
 * Cuts `samples` (samples[i] measured with i + 1 pods on the node) into buckets of `size` pods; the
 * last one holds what is left over and may be smaller.
 */
export function bucketize(samples: readonly number[], size: number): Bucket[] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`bucket size must be a positive integer, got ${size}`);
  const out: Bucket[] = [];
  for (let start = 0; start < samples.length; start += size) {
    const slice = samples.slice(start, start + size);
    const s = summarize(slice);
    out.push({ from: start + 1, to: start + slice.length, n: s.n, median: s.median, q1: s.q1, q3: s.q3, p99: quantile(slice, 0.99) });
  }
  return out;
}

/** The last bucket's median over the first's (1 when there is a single bucket). */
export function growthFactor(buckets: readonly Bucket[]): number {
  if (buckets.length === 0) throw new RangeError('no buckets');
  return buckets[buckets.length - 1]!.median / buckets[0]!.median;
}
