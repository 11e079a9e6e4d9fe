// A/B of the agent's ADD: this tree's agent against another build's, to tell whether a change made
// pod start-up faster. Differences of a few percent drown in this kind of VM's drift from one run to
// the next, so both agents run side by side, each on a simulated node of its own, pod i of one added
// right after pod i of the other (who goes first alternates); the verdict is the median of the
// per-pod ratios with a bootstrap interval. Calls go through the native shim as a runtime makes them
// (bench/control-plane/contenders.ts), with sluice's built-in IPAM or, with --ipam host-local, the
// reference IPAM plugin.
//
//   git worktree add /tmp/sluice-base <rev> && (cd /tmp/sluice-base && npm ci && npm run build)
//   sudo node dist/bench/agent-ab.js --base /tmp/sluice-base [--pods 300] [--ipam sluice|host-local] [--warmup 3]
//
// Prints the medians and the ratio; writes nothing. Ctrl-C stops between two pods and cleans up.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureShim, Scratch, startAgent } from '../test/support/agent.js';
import { buildLauncher } from './control-plane/launcher.js';
import { call, makeContender, PROMOTE_QUIET_MS, settleDeferred, type Contender } from './control-plane/contenders.js';
import { requireRoot } from './lib/netns.js';
import { integerOption } from './lib/options.js';
import { formatMs } from './lib/report.js';
import { median, pairedRatio } from './lib/stats.js';

const { values: opts } = parseArgs({
  options: {
    base: { type: 'string' },
    pods: { type: 'string', default: '300' },
    ipam: { type: 'string', default: 'sluice' },
    warmup: { type: 'string', default: '3' },
  },
});

const PODS = integerOption('pods', opts.pods, 10);
const WARMUP = integerOption('warmup', opts.warmup, 0);
if (opts.ipam !== 'sluice' && opts.ipam !== 'host-local') throw new RangeError(`--ipam must be sluice or host-local, got ${opts.ipam}`);
if (!opts.base) throw new RangeError('--base DIR is required: a checkout of the build to compare with, built (npm run build)');
const baseMain = join(resolve(opts.base), 'dist', 'src', 'cli', 'main.js');
if (!existsSync(baseMain)) throw new RangeError(`--base: ${baseMain} does not exist (run npm run build there)`);
requireRoot('bench/agent-ab');

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void (interrupted = true));

const scratch = new Scratch();
const cleanups: (() => Promise<void> | void)[] = [() => scratch.cleanup()];
let launcher = '';
const setup = (index: number) => ({ scratch, index, pods: PODS, launcher, onCleanup: (fn: () => Promise<void> | void) => void cleanups.push(fn) });

try {
  ensureShim();
  launcher = buildLauncher(scratch.dir);
  const base = await makeContender({ name: `base (${opts.base})`, kind: 'agent', ipMasq: false }, setup(0));
  // makeContender started this tree's agent on the base node: the other build's takes its place.
  await base.agent!.stop();
  const other = await startAgent(base.node, { socket: base.env.SLUICE_SOCKET!, main: baseMain, args: ['--log-level', 'warn', '--promote-quiet', String(PROMOTE_QUIET_MS)] });
  cleanups.push(async () => void (await other.stop()));
  base.agent = other;
  const candidate = await makeContender({ name: 'this tree', kind: 'agent', ipMasq: false }, setup(1));
  const both = [base, candidate];
  if (opts.ipam === 'host-local') {
    for (const c of both) c.config = { ...c.config, ipam: { ...(c.config.ipam as object), type: 'host-local' } };
  }
  for (const c of both) {
    for (let i = 0; i < WARMUP; i++) {
      for (const command of ['ADD', 'DEL']) {
        const r = await call(c, command, c.warm);
        if (r.code !== 0) throw new Error(`${c.name}: warm-up ${command} failed: ${r.stdout}`);
      }
    }
  }
  const added = (c: Contender) => c.addMs.length;
  for (let i = 0; i < PODS && !interrupted; i++) {
    for (const c of i % 2 === 0 ? both : [...both].reverse()) {
      const r = await call(c, 'ADD', c.pods[i]!);
      if (r.code !== 0) throw new Error(`${c.name}: ADD of pod ${i + 1} failed: ${r.stdout}`);
      c.addMs.push(r.ms);
    }
  }
  const n = Math.min(added(base), added(candidate));
  if (n > 0) {
    const ratio = pairedRatio(base.addMs.slice(0, n), candidate.addMs.slice(0, n));
    process.stdout.write(`ADD through the shim, ${n} pods each, IPAM ${opts.ipam}:\n`);
    process.stdout.write(`  base        median ${formatMs(median(base.addMs))}\n`);
    process.stdout.write(`  this tree   median ${formatMs(median(candidate.addMs))}\n`);
    process.stdout.write(`  this tree ÷ base, per pod: ${ratio.median.toFixed(3)}× (90% interval ${ratio.low.toFixed(3)}–${ratio.high.toFixed(3)})\n`);
  }
  for (const c of both) await settleDeferred(c, 'ab');
  for (const c of both) for (let i = added(c) - 1; i >= 0; i--) await call(c, 'DEL', c.pods[i]!);
} finally {
  for (const fn of cleanups.splice(0).reverse()) {
    try {
      await fn();
    } catch (err) {
      process.stderr.write(`cleanup: ${String(err)}\n`);
    }
  }
}
