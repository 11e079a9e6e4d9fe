// The benchmarks' shared helpers: statistics, interleaving, number formatting, Markdown tables and the
// JSON writer. No timing is asserted here: only what the helpers compute from given numbers.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { describeMachine, formatMachine } from '../../bench/lib/machine.js';
import { formatInt, formatMs, formatRatio, formatSI, formatSpread, markdownTable, repoRoot, toJson, writeResults } from '../../bench/lib/report.js';
import { integerOption } from '../../bench/lib/options.js';
import { median, pairedRatio, quantile, ratesPerSecond, ratio, summarize } from '../../bench/lib/stats.js';
import { interleaved, iterationsFor, lastResult, timeLoop } from '../../bench/lib/timing.js';

test('median: the middle sample, or the mean of the two middle ones; order does not matter', () => {
  assert.equal(median([5]), 5);
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([10, 10, 10, 1000]), 10);
  assert.equal(median([-1, -3, -2]), -2);
});

test('quantile interpolates linearly between ranks (type 7)', () => {
  const xs = [1, 2, 3, 4, 5];
  assert.equal(quantile(xs, 0), 1);
  assert.equal(quantile(xs, 1), 5);
  assert.equal(quantile(xs, 0.25), 2);
  assert.equal(quantile(xs, 0.75), 4);
  assert.equal(quantile([1, 2, 3, 4], 0.25), 1.75);
  assert.equal(quantile([10, 20], 0.5), 15);
  assert.throws(() => quantile(xs, 1.5), RangeError);
  assert.throws(() => quantile(xs, -0.1), RangeError);
});

test('summarize: median, min, max, quartiles, IQR and mean, without changing its input', () => {
  const samples = [9, 1, 8, 2, 7, 3, 6, 4, 5];
  const s = summarize(samples);
  assert.deepEqual(s, { n: 9, median: 5, min: 1, max: 9, q1: 3, q3: 7, iqr: 4, mean: 5 });
  assert.deepEqual(samples, [9, 1, 8, 2, 7, 3, 6, 4, 5]);
  assert.deepEqual(summarize([42]), { n: 1, median: 42, min: 42, max: 42, q1: 42, q3: 42, iqr: 0, mean: 42 });
});

test('summarize refuses no samples and non-finite ones', () => {
  assert.throws(() => summarize([]), /no samples/);
  assert.throws(() => summarize([1, Number.NaN]), /finite/);
  assert.throws(() => summarize([1, Infinity]), /finite/);
});

test('ratesPerSecond turns durations (ms) into things per second; ratio refuses a zero denominator', () => {
  assert.deepEqual(ratesPerSecond([1000, 500, 250], 100), [100, 200, 400]);
  assert.deepEqual(ratesPerSecond([10, 20], [1, 4]), [100, 200]);
  assert.throws(() => ratesPerSecond([0], 1), /positive/);
  assert.throws(() => ratesPerSecond([1, 1], [1]), /no unit count/);
  assert.equal(ratio(3, 2), 1.5);
  assert.throws(() => ratio(1, 0), RangeError);
});

test('integerOption: an integer of at least the minimum, else an error naming the option and the value', () => {
  assert.equal(integerOption('pods', '300', 10), 300);
  assert.equal(integerOption('pods', '10', 10), 10);
  assert.throws(() => integerOption('pods', '9', 10), /--pods must be an integer >= 10, got 9/);
  assert.throws(() => integerOption('runs', '2.5', 1), /--runs must be an integer >= 1, got 2.5/);
  assert.throws(() => integerOption('runs', undefined, 1), /--runs must be an integer >= 1, got undefined/);
});

test('pairedRatio: the median of per-pair ratios, so drift shared by both sides cancels; a fixed-seed interval around it', () => {
  // The machine slows down through the run (x1 to x3), the candidate is 10% faster on every pod.
  const base = Array.from({ length: 101 }, (_, i) => 10 * (1 + i / 50));
  const candidate = base.map((b) => b * 0.9);
  const r = pairedRatio(base, candidate);
  assert.ok(Math.abs(r.median - 0.9) < 1e-9);
  assert.ok(Math.abs(r.low - 0.9) < 1e-9 && Math.abs(r.high - 0.9) < 1e-9, 'no spread when every pair agrees');
  assert.equal(r.n, 101);
  // Noisy pairs: the interval holds the median, and the same samples give the same interval.
  const noisy = candidate.map((c, i) => c * (0.8 + (0.4 * ((i * 37) % 101)) / 100));
  const a = pairedRatio(base, noisy);
  assert.ok(a.low <= a.median && a.median <= a.high && a.low < a.high);
  assert.deepEqual(pairedRatio(base, noisy), a);
  assert.throws(() => pairedRatio([1, 2], [1]), /paired samples: 2 against 1/);
  assert.throws(() => pairedRatio([], []), /no samples/);
  assert.throws(() => pairedRatio([0], [1]), /cannot divide/);
});

test('interleaved: every contender once per round, rotating who goes first; warm-up rounds are dropped', async () => {
  const calls: string[] = [];
  const samples = await interleaved(3, { runs: 2, warmup: 1 }, (i, r) => {
    calls.push(`${r}:${i}`);
    return r * 10 + i;
  });
  assert.deepEqual(calls, ['0:0', '0:1', '0:2', '1:1', '1:2', '1:0', '2:2', '2:0', '2:1']);
  assert.deepEqual(samples, [[10, 20], [11, 21], [12, 22]]);
  // Async samples are awaited one at a time, never overlapping.
  let running = 0;
  await interleaved(2, { runs: 3 }, async () => {
    running++;
    assert.equal(running, 1);
    await new Promise((resolve) => setImmediate(resolve));
    running--;
    return 1;
  });
  await assert.rejects(interleaved(0, { runs: 1 }, () => 1), RangeError);
  await assert.rejects(interleaved(1, { runs: 0 }, () => 1), RangeError);
});

test('timeLoop calls its function the given number of times and keeps the last result', () => {
  let calls = 0;
  const ms = timeLoop(() => ++calls, 1000);
  assert.equal(calls, 1000);
  assert.equal(lastResult(), 1000);
  assert.ok(ms >= 0);
  assert.throws(() => timeLoop(() => 0, 0), RangeError);
  const n = iterationsFor(() => 0, 1, { warmupMs: 1, maxIterations: 1e4 });
  assert.ok(Number.isInteger(n) && n >= 1 && n <= 1e4, `${n} iterations`);
  assert.throws(() => iterationsFor(() => 0, 0), RangeError);
});

test('number formatting', () => {
  assert.equal(formatInt(10006), '10,006');
  assert.equal(formatInt(999.6), '1,000');
  assert.equal(formatSI(812), '812');
  assert.equal(formatSI(1.5), '1.50');
  assert.equal(formatSI(12_345), '12.3 k');
  assert.equal(formatSI(123_456), '123 k');
  assert.equal(formatSI(1_234_567), '1.23 M');
  assert.equal(formatSI(999_950), '1.00 M');
  assert.equal(formatSI(2.5e9), '2.50 G');
  assert.equal(formatMs(0.4213), '0.42 ms');
  assert.equal(formatMs(45.12), '45.1 ms');
  assert.equal(formatMs(1234.5), '1,235 ms');
  assert.equal(formatRatio(0.4249), '0.42×');
  assert.equal(formatRatio(3.1), '3.10×');
  assert.equal(formatRatio(12.54), '12.5×');
  assert.equal(formatSpread(summarize([1, 2, 30]), (x) => `${x}`), '2 (1–30)');
});

test('markdownTable: a header, an alignment rule, padded cells, escaped pipes', () => {
  const table = markdownTable(['way', 'ms'], [['sluice', '32.9'], ['ip -j | jq', '42.5']], ['left', 'right']);
  assert.equal(table, [
    '| way         |   ms |',
    '|:------------|-----:|',
    '| sluice      | 32.9 |',
    '| ip -j \\| jq | 42.5 |',
  ].join('\n'));
  // Every line has as many cells as the header (the escaped pipe does not count).
  for (const line of table.split('\n')) assert.equal(line.split(/(?<!\\)\|/).length, 4);
  // Columns are at least three wide (the rule needs ---); newlines in cells become spaces.
  assert.equal(markdownTable(['a'], [['x\ny']]), '| a   |\n|:----|\n| x y |');
  assert.throws(() => markdownTable(['a', 'b'], [['only one']]), /row 0 has 1 cells/);
  assert.throws(() => markdownTable([], []), RangeError);
});

test('writeResults writes pretty JSON (bigints as strings) and refuses odd names', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-lib-'));
  try {
    const path = writeResults('codec', { n: 1, big: 2n ** 64n, rows: [{ ratio: 0.5 }] }, dir);
    assert.equal(path, join(dir, 'codec.json'));
    assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), { n: 1, big: '18446744073709551616', rows: [{ ratio: 0.5 }] });
    assert.ok(readFileSync(path, 'utf8').endsWith('}\n'));
    assert.throws(() => writeResults('../escape', {}, dir), TypeError);
    assert.throws(() => writeResults('', {}, dir), TypeError);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(toJson(1n), '"1"\n');
});

test('repoRoot finds the package and the machine description is complete', () => {
  assert.equal(JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')).name, 'sluice');
  const m = describeMachine(new Date('2026-01-02T03:04:05Z'));
  assert.ok(m.cores >= 1);
  assert.match(m.kernel, /\S+ \S+/);
  assert.equal(m.node, process.version);
  assert.equal(m.date, '2026-01-02T03:04:05.000Z');
  const line = formatMachine(m);
  for (const part of [m.cpu, `${m.cores} core`, m.kernel, m.node]) assert.ok(line.includes(part), `${line} mentions ${part}`);
});
