// CNI control-plane bench: how long a runtime waits for ADD and DEL, how that grows with the pods on a
// node, a burst of pods at once, and the memory each process takes; sluice against the reference
// bridge plugin, side by side in one run.
//
//   sudo node dist/bench/cni-latency.js [--pods 100] [--growth 500] [--standalone-growth 200]
//        [--bucket N] [--memory-calls 3] [--bursts 3] [--warmup 3] [--no-cls-bpf] [--no-masq]
//
// The contenders (bench/control-plane/contenders.ts): the agent through the native shim, the agent
// attaching with cls_bpf, the standalone plugin, and the bridge plugin with host-local, each without
// and with ipMasq (sluice's ipMasq rows are left out when this build does not masquerade: checked on
// the node after a trial ADD). Phases, after a few uncounted ADD/DEL pairs per contender:
//   growth       --growth sequential ADDs per contender (pod 1 for every contender, the first one
//                rotating, then pod 2, ...), then their DELs newest first, so that the i-th ADD and the
//                i-th DEL both see i pods on the node. The standalone plugin, which starts Node on every
//                call, adds only --standalone-growth pods, to keep the default run near 10 minutes.
//                The median and p99 figures are those of pods 1..--pods, the same pods for everyone.
//   burst        --pods ADDs started at once (one contender at a time), then all DELs, --bursts times
//                (median and spread): the time until
//                the last one answered
//   memory       --memory-calls ADD/DEL pairs per contender through a wrapper of the bench's own
//                (control-plane/maxrss.c: wait4's ru_maxrss), not timed: the peak RSS of the largest
//                process of one call; and each agent's VmHWM (/proc/<pid>/status, all its threads)
// Then the agents must have served every call themselves (none fell back to the standalone plugin).
// Writes bench/results/cni-latency.json and prints the report's section (bench/report/control-plane.ts).
//
// The standalone plugin loads its bundle from dist/ on every call (replaced atomically by a build, but
// the launcher and koffi are not): run the bench from a tree nobody rebuilds meanwhile.
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ensureShim, Scratch } from '../test/support/agent.js';
import { agentStatus, call, CNI_BIN, makeContender, plan, settleDeferred, timed, warmUp, type Contender } from './control-plane/contenders.js';
import { bucketSizeFor } from './control-plane/growth.js';
import { buildMaxrss, readMaxrss } from './control-plane/maxrss.js';
import { buildLauncher } from './control-plane/launcher.js';
import { procMemory, type ProcMemory } from './control-plane/proc-memory.js';
import { issue7Target, latencySummary, type CniLatencyResults, type ContenderResult } from './control-plane/results.js';
import { describeMachine, formatMachine, loadNow } from './lib/machine.js';
import { requireRoot } from './lib/netns.js';
import { integerOption } from './lib/options.js';
import { writeResults } from './lib/report.js';
import { summarize } from './lib/stats.js';
import { msSince } from './lib/timing.js';
import { section } from './report/control-plane.js';

const { values: opts } = parseArgs({
  options: {
    pods: { type: 'string', default: '100' },
    growth: { type: 'string', default: '500' },
    'standalone-growth': { type: 'string', default: '200' },
    bucket: { type: 'string' },
    'memory-calls': { type: 'string', default: '3' },
    bursts: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '3' },
    'no-cls-bpf': { type: 'boolean', default: false },
    'no-masq': { type: 'boolean', default: false },
  },
});

const PODS = integerOption('pods', opts.pods, 10);
const GROWTH = integerOption('growth', opts.growth, PODS);
const STANDALONE_GROWTH = Math.min(GROWTH, integerOption('standalone-growth', opts['standalone-growth'], PODS));
const BUCKET = opts.bucket === undefined ? bucketSizeFor(GROWTH) : integerOption('bucket', opts.bucket, 1);
const WARMUP = integerOption('warmup', opts.warmup, 1);
const MEMORY_CALLS = integerOption('memory-calls', opts['memory-calls'], 1);
const BURSTS = integerOption('bursts', opts.bursts, 1);
requireRoot('bench/cni-latency');

const began = process.hrtime.bigint();
const progress = (text: string) => process.stderr.write(`[${(msSince(began) / 1000).toFixed(0).padStart(4)} s] ${text}\n`);

const scratch = new Scratch();
const contenders: Contender[] = [];
const cleanups: (() => Promise<void> | void)[] = [() => scratch.cleanup()];

// Ctrl-C (or SIGTERM) stops the run between two calls; the `finally` at the end removes what it made.
// The handler only sets the flag: cleaning up while calls are still starting in the nodes would race them.
class Interrupted extends Error {}
let interrupted: NodeJS.Signals | undefined;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    if (interrupted) return void process.stderr.write(`\n${signal}: already stopping, cleaning up\n`);
    interrupted = signal;
    process.stderr.write(`\n${signal}: stopping after the calls under way, then cleaning up\n`);
  });
}
function stopIfInterrupted(): void {
  if (interrupted) throw new Interrupted(interrupted);
}

async function cleanup(): Promise<void> {
  for (const fn of cleanups.splice(0).reverse()) {
    try {
      await fn();
    } catch (err) {
      process.stderr.write(`cleanup: ${String(err)}\n`);
    }
  }
}

/** Sequential ADDs, interleaved (pod i for every contender, the first one rotating), then DELs newest first. */
async function growthRun(): Promise<void> {
  for (let i = 0; i < GROWTH; i++) {
    stopIfInterrupted();
    for (let k = 0; k < contenders.length; k++) {
      const c = contenders[(i + k) % contenders.length]!;
      if (i < c.pods.length) c.addMs.push(await timed(c, 'ADD', c.pods[i]!));
    }
    if ((i + 1) % BUCKET === 0 || i + 1 === GROWTH) progress(`ADD: ${i + 1}/${GROWTH} pods`);
  }
  progress('waiting for the agents\' deferred TCX attaches...');
  for (const c of contenders) await settleDeferred(c, 'growth');
  for (let i = GROWTH - 1; i >= 0; i--) {
    stopIfInterrupted();
    for (let k = 0; k < contenders.length; k++) {
      const c = contenders[(i + k) % contenders.length]!;
      if (i < c.pods.length) c.delMs[i] = await timed(c, 'DEL', c.pods[i]!);
    }
    if (i % BUCKET === 0) progress(`DEL: ${i} pods left`);
  }
}

async function burst(c: Contender, command: 'ADD' | 'DEL'): Promise<number> {
  const start = process.hrtime.bigint();
  await Promise.all(c.pods.slice(0, PODS).map((p) => timed(c, command, p)));
  return msSince(start);
}

/** ADD/DEL pairs on the contender's own pod through maxrss, which records the calls' peak RSS. */
async function memoryPass(c: Contender, maxrss: string): Promise<void> {
  const out = scratch.path(`maxrss-${contenders.indexOf(c)}`);
  for (let i = 0; i < MEMORY_CALLS; i++) {
    for (const command of ['ADD', 'DEL'] as const) {
      stopIfInterrupted();
      const r = await call(c, command, c.warm, [maxrss, out]);
      if (r.code !== 0) c.failures.push(`memory pass ${command}: ${r.stdout.trim().slice(0, 300)}`);
      else (command === 'ADD' ? c.addPeakKiB : c.delPeakKiB).push(readMaxrss(out));
    }
  }
}

const agentMemory = new Map<Contender, { afterWarmup: ProcMemory; atEnd?: ProcMemory }>();
let agentWorkers: number | undefined;

try {
  ensureShim();
  for (const bin of ['bridge', 'host-local']) if (!existsSync(`${CNI_BIN}/${bin}`)) throw new Error(`${CNI_BIN}/${bin} is missing (scripts/install-deps.sh installs the reference plugins)`);
  const maxrss = buildMaxrss(scratch.dir);
  const launcher = buildLauncher(scratch.dir);
  const machine = describeMachine();
  const specs = plan({ masq: !opts['no-masq'], clsBpf: !opts['no-cls-bpf'] });
  process.stderr.write(`${formatMachine(machine)}\n`);
  progress(`setting up ${specs.length} simulated nodes (${GROWTH} pods each, the standalone plugin's ${STANDALONE_GROWTH})...`);
  const skipped: string[] = [];
  for (const [index, spec] of specs.entries()) {
    stopIfInterrupted();
    const pods = spec.kind === 'standalone' ? STANDALONE_GROWTH : GROWTH;
    const c = await makeContender(spec, { scratch, index, pods, launcher, onCleanup: (fn) => cleanups.push(fn) });
    if (!(await warmUp(c, WARMUP))) {
      skipped.push(`${spec.name}: this build does not masquerade yet (no nf_tables table appeared after an ADD with ipMasq)`);
      continue;
    }
    contenders.push(c);
    if (c.agent) {
      const status = await agentStatus(c);
      agentWorkers = status.workers;
      agentMemory.set(c, { afterWarmup: procMemory(status.pid) });
    }
  }

  progress(`growth: sequential ADDs then DELs, ${contenders.length} contenders...`);
  await growthRun();

  progress(`bursts: ${PODS} ADDs at once, then ${PODS} DELs, one contender at a time...`);
  for (const c of contenders) {
    stopIfInterrupted();
    const adds: number[] = [];
    const dels: number[] = [];
    for (let round = 0; round < BURSTS; round++) {
      stopIfInterrupted();
      adds.push(await burst(c, 'ADD'));
      await settleDeferred(c, 'burst');
      dels.push(await burst(c, 'DEL'));
    }
    c.bursts = { addMs: adds, delMs: dels };
    c.burstAddMs = summarize(adds).median;
    c.burstDelMs = summarize(dels).median;
  }

  progress(`memory: ${MEMORY_CALLS} ADD/DEL pairs per contender through maxrss...`);
  for (const c of contenders) await memoryPass(c, maxrss);

  // The agents' peaks, and whether they served every call themselves (no fallback to the standalone plugin).
  for (const c of contenders) {
    if (!c.agent) continue;
    let status;
    try {
      status = await agentStatus(c);
      agentMemory.get(c)!.atEnd = procMemory(status.pid);
    } catch (err) {
      c.failures.push(`the agent did not say how it is at the end: ${String(err)}`);
      continue;
    }
    const expected = 2 * (WARMUP + c.pods.length + BURSTS * PODS + MEMORY_CALLS);
    if (status.requests.served !== expected) c.failures.push(`the agent served ${status.requests.served} calls, expected ${expected}: some went to the standalone plugin`);
  }
  stopIfInterrupted();

  const perContender: ContenderResult[] = contenders.map((c) => {
    const memory = agentMemory.get(c);
    return {
      name: c.name, kind: c.kind, ipMasq: c.ipMasq,
      add: latencySummary(c.addMs.slice(0, PODS)), del: latencySummary(c.delMs.slice(0, PODS)),
      growth: { addMs: c.addMs, delMs: c.delMs },
      burstAddMs: c.burstAddMs!, burstDelMs: c.burstDelMs!, bursts: c.bursts!, deferredAttach: c.deferred,
      memory: { addPeakKiB: c.addPeakKiB, delPeakKiB: c.delPeakKiB, ...(memory?.atEnd ? { agent: { afterWarmup: memory.afterWarmup, atEnd: memory.atEnd } } : {}) },
      failures: c.failures,
    };
  });
  const results: CniLatencyResults = {
    benchmark: 'cni-latency',
    command: ['sudo node dist/bench/cni-latency.js', ...process.argv.slice(2)].join(' '),
    machine,
    loadAtEnd: loadNow(),
    config: { pods: PODS, growth: GROWTH, standaloneGrowth: STANDALONE_GROWTH, bucket: BUCKET, warmup: WARMUP, memoryCalls: MEMORY_CALLS, ...(agentWorkers === undefined ? {} : { agentWorkers }) },
    results: perContender,
    skipped,
    target: issue7Target(perContender),
    elapsedSeconds: Math.round(msSince(began) / 1000),
  };
  const path = writeResults('cni-latency', results);
  process.stdout.write(`\n${formatMachine(machine)}\n\n${section(results).markdown}\n`);
  progress(`results written to ${path}`);
  if (contenders.some((c) => c.failures.length)) process.exitCode = 1;
} catch (err) {
  // Once interrupted, whatever failed (a plugin the terminal's Ctrl-C killed, ...) only means "stopped".
  if (!interrupted) throw err;
  process.exitCode = 130;
} finally {
  await cleanup();
}
