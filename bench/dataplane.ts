// The data-plane benchmark: pod to pod on one simulated node, over the floor (one veth pair), the
// reference bridge plugin, sluice ebpf and sluice bridge mode, each node path again with 3,000
// netfilter rules in the node; TCP stream (iperf3), request/response (sockperf), new connections per
// second (bench/native/connrate.c). Writes bench/results/dataplane.json and prints its report section.
//
//   sudo npm run bench:dataplane -- [--quick] [--runs 5] [--seconds 3] [--rules 3000]
//        [--setups floor,bridge-plugin,sluice-ebpf,sluice-bridge] [--patterns stream,rr,crr]
//        [--connectors 2] [--message-size 64] [--mtu 1500] [--bridge-chain]
//
// --quick: 2 runs of 1 s, to see that everything works (the figures are not worth quoting).
// --bridge-chain: put the rules on a bridge-family forward chain too for the bridged setups, even
// where br_netfilter already makes their frames cross inet forward.
// Installs iperf3, sockperf and the reference plugins when missing (scripts/install-deps.sh). Creates
// only namespaces, nft tables (inside those), pin roots and directories of its own, and removes them at
// the end, on an error and on Ctrl-C.
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Cleanup, Interrupted, type TeardownReport } from '../src/demo/cleanup.js';
import { PATTERNS, SETUP_IDS, type Pattern, type SetupId } from './dataplane/results.js';
import { runDataplane, type DataplaneOptions } from './dataplane/run.js';
import { formatMachine, describeMachine } from './lib/machine.js';
import { requireRoot } from './lib/netns.js';
import { writeResults } from './lib/report.js';
import { section } from './report/dataplane.js';

const SIGNALS = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 } as const;

const { values: opts } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    seconds: { type: 'string' },
    rules: { type: 'string', default: '3000' },
    setups: { type: 'string', default: SETUP_IDS.join(',') },
    patterns: { type: 'string', default: PATTERNS.join(',') },
    connectors: { type: 'string', default: '2' },
    'message-size': { type: 'string', default: '64' },
    mtu: { type: 'string', default: '1500' },
    'bridge-chain': { type: 'boolean', default: false },
  },
});

function list<T extends string>(value: string, allowed: readonly T[], what: string): T[] {
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const item of items) if (!allowed.includes(item as T)) throw new RangeError(`unknown ${what} ${JSON.stringify(item)}: one of ${allowed.join(', ')}`);
  return items as T[];
}

const say = (line: string) => process.stderr.write(`${line}\n`);

function printTeardown(report: TeardownReport): void {
  for (const f of report.failed) say(`cleanup FAILED: ${f.what}: ${f.error instanceof Error ? f.error.message : String(f.error)}`);
}

async function main(): Promise<number> {
  requireRoot('bench/dataplane');
  const options: DataplaneOptions = {
    setups: list<SetupId>(opts.setups, SETUP_IDS, 'setup'),
    patterns: list<Pattern>(opts.patterns, PATTERNS, 'pattern'),
    runs: Number(opts.runs ?? (opts.quick ? 2 : 5)),
    seconds: Number(opts.seconds ?? (opts.quick ? 1 : 3)),
    rules: Number(opts.rules),
    messageBytes: Number(opts['message-size']),
    connectors: Number(opts.connectors),
    mtu: Number(opts.mtu),
    forceBridgeChain: opts['bridge-chain'],
    quick: opts.quick,
    command: ['sudo npm run bench:dataplane', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
    log: say,
  };
  const cleanup = new Cleanup({ SLUICE_BENCH_RUN: `dataplane-${process.pid}-${randomBytes(3).toString('hex')}` });
  for (const signal of Object.keys(SIGNALS) as (keyof typeof SIGNALS)[]) {
    process.on(signal, () => {
      if (cleanup.stopping) return;
      const report = cleanup.teardown();
      say(`\n${signal}: stopped; ${report.failed.length ? 'some of what it made could not be removed (see above)' : 'everything it made is removed'}`);
      printTeardown(report);
      process.exit(128 + SIGNALS[signal]);
    });
  }
  say(formatMachine(describeMachine()));
  const started = Date.now();
  let failure: unknown;
  try {
    const raw = await runDataplane(options, cleanup);
    const path = writeResults('dataplane', raw);
    const report = section(raw);
    process.stdout.write(`## ${report.title}\n\n${report.markdown}\n`);
    say(`results written to ${path} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    if (raw.variants.some((v) => v.failures.length)) failure = new Error('some runs failed (listed in the report)');
  } catch (err) {
    if (err instanceof Interrupted) return 130; // the signal handler tears down and exits
    failure = err;
  }
  const teardown = cleanup.teardown();
  printTeardown(teardown);
  if (failure) say(`error: ${failure instanceof Error ? failure.message : String(failure)}`);
  return failure || teardown.failed.length ? 1 : 0;
}

process.exit(await main());
