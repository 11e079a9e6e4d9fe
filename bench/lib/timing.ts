// Timing with the monotonic clock (process.hrtime.bigint), loops that cannot be optimised away, and
// interleaved rounds so that drift (thermal, other load, GC) affects every contender alike.

/** Where loop results go, so that the JIT cannot drop the work whose result nobody reads. */
let sink: unknown;

/** The last value a timed loop produced (read it once to keep the loops honest). */
export function lastResult(): unknown {
  return sink;
}

/** Milliseconds since `start` (a process.hrtime.bigint() reading). */
export function msSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** How long `fn` takes once, in milliseconds. */
export function timeOnce(fn: () => unknown): number {
  const start = process.hrtime.bigint();
  sink = fn();
  return msSince(start);
}

/** How long `fn` takes once, awaited, in milliseconds. */
export async function timeOnceAsync(fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  sink = await fn();
  return msSince(start);
}

/** How long `iterations` calls of `fn` take, in milliseconds. */
export function timeLoop(fn: () => unknown, iterations: number): number {
  if (!Number.isInteger(iterations) || iterations < 1) throw new RangeError(`iterations must be a positive integer, got ${iterations}`);
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) sink = fn();
  return msSince(start);
}

/**
 * How many calls of `fn` fill about `targetMs`. Calls `fn` for `warmupMs` first (so that the JIT has
 * compiled it: cold first calls would make the count far too small), then refines the count twice on
 * timed loops.
 */
export function iterationsFor(fn: () => unknown, targetMs: number, options: { warmupMs?: number; maxIterations?: number } = {}): number {
  if (!(targetMs > 0)) throw new RangeError(`targetMs must be positive, got ${targetMs}`);
  const warmupMs = options.warmupMs ?? Math.max(200, 2 * targetMs);
  const max = options.maxIterations ?? 1e8;
  const clamp = (n: number) => Math.max(1, Math.min(max, Math.ceil(n)));
  let calls = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < warmupMs && calls < max) {
    sink = fn();
    calls++;
    elapsed = msSince(start);
  }
  let n = clamp((calls * targetMs) / Math.max(elapsed, 1e-6));
  for (let pass = 0; pass < 2; pass++) n = clamp((n * targetMs) / Math.max(timeLoop(fn, n), 1e-6));
  return n;
}

/**
 * Runs `sample(i)` for every contender i in `warmup + runs` rounds, each round in a rotated order
 * (round r starts with contender r mod count), and returns each contender's samples from the
 * measured rounds only, in round order.
 */
export async function interleaved(
  count: number,
  rounds: { runs: number; warmup?: number },
  sample: (contender: number, round: number) => number | Promise<number>,
): Promise<number[][]> {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`count must be a positive integer, got ${count}`);
  if (!Number.isInteger(rounds.runs) || rounds.runs < 1) throw new RangeError(`runs must be a positive integer, got ${rounds.runs}`);
  const warmup = rounds.warmup ?? 0;
  const out: number[][] = Array.from({ length: count }, () => []);
  for (let r = 0; r < warmup + rounds.runs; r++) {
    for (let k = 0; k < count; k++) {
      const i = (r + k) % count;
      const value = await sample(i, r);
      if (r >= warmup) out[i]!.push(value);
    }
  }
  return out;
}

