// What the interim spoof guard (src/datapath/spoof-guard.ts) costs an ADD and a DEL.
//
//   sudo npm run bench:guard                       (or: npx tsc -p . && sudo node dist/bench/spoof-guard.js)
//   options: --runs N (default 200, at least 20)
//
// In a namespace of its own (uniquely named, deleted at the end and on Ctrl-C), with `--runs` host
// veths' worth of interface indexes, it times:
//   - first guard() on a fresh node: an instance opened, the table, set, chain and rule created with
//     the element (once per run, each run in a table of its own)
//   - guard() by a new instance on a node that has the table: a process's first call (generation,
//     the chain's rules, then the element)
//   - guard() warm: an instance that has seen the rule in place (the agent's case): the element only
//   - ensure() with everything in place, release() and isGuarded()
// Figures are medians with min and max, in milliseconds, of the whole synchronous call.
import { parseArgs } from 'node:util';
import { DEFAULT_GUARD_TABLE, removeSpoofGuard, SpoofGuard } from '../src/datapath/spoof-guard.js';
import { createTempNamespace, requireRoot } from './lib/netns.js';
import { formatMs, markdownTable } from './lib/report.js';
import { summarize, type Summary } from './lib/stats.js';
import { timeOnce } from './lib/timing.js';

const { values: opts } = parseArgs({ options: { runs: { type: 'string', default: '200' } } });
const runs = Number(opts.runs);
if (!Number.isInteger(runs) || runs < 20) throw new RangeError('--runs must be an integer >= 20');
requireRoot('bench/spoof-guard');

const node = createTempNamespace('sluice-bench-guard');
const results: Array<[string, Summary]> = [];
try {
  const fresh: number[] = [];
  for (let i = 0; i < Math.min(runs, 50); i++) {
    const table = `${DEFAULT_GUARD_TABLE}_${i}`;
    fresh.push(timeOnce(() => {
      const g = SpoofGuard.open({ netns: node.ns, table });
      g.guard(1000);
      g.close();
    }));
    removeSpoofGuard({ netns: node.ns, table });
  }
  results.push(['first guard() on a fresh node (open, create, element, close)', summarize(fresh)]);

  const setup = SpoofGuard.open({ netns: node.ns });
  setup.guard(1);
  const newInstance: number[] = [];
  for (let i = 0; i < runs; i++) {
    const g = SpoofGuard.open({ netns: node.ns });
    newInstance.push(timeOnce(() => g.guard(2000 + i)));
    g.close();
  }
  results.push(['guard() by a new instance, table in place', summarize(newInstance)]);

  results.push(['ensure() with everything in place', summarize(Array.from({ length: runs }, () => timeOnce(() => setup.ensure())))]);
  const warm = (ifindex: number) => timeOnce(() => setup.guard(ifindex));
  results.push(['guard() warm (new element)', summarize(Array.from({ length: runs }, (_, i) => warm(10_000 + i)))]);
  results.push(['guard() warm (element already there)', summarize(Array.from({ length: runs }, (_, i) => warm(10_000 + i)))]);
  results.push(['isGuarded()', summarize(Array.from({ length: runs }, (_, i) => timeOnce(() => setup.isGuarded(10_000 + i))))]);
  results.push(['release() warm', summarize(Array.from({ length: runs }, (_, i) => timeOnce(() => setup.release(10_000 + i))))]);
  results.push(['release() of an element not there', summarize(Array.from({ length: runs }, (_, i) => timeOnce(() => setup.release(10_000 + i))))]);
  setup.close();
} finally {
  node.close();
}

process.stdout.write(`spoof guard, ${runs} runs (fresh node: ${Math.min(runs, 50)}); milliseconds\n\n`);
process.stdout.write(`${markdownTable(['call', 'median', 'min', 'max'], results.map(([what, s]) => [what, formatMs(s.median), formatMs(s.min), formatMs(s.max)]), ['left', 'right', 'right', 'right'])}\n`);
