// A 10,000-route dump end to end: sluice's clients against `ip -j route` and node-netlink.
//
//   sudo npm run bench:dump                         (or: npx tsc -p . && sudo node dist/bench/route-dump.js)
//   options: --runs N (default 15, at least 5), --routes N (default 10000)
//
// In a namespace of its own (uniquely named; deleted at the end, on Ctrl-C too) it installs the routes
// with `ip -batch`, then times, for each way of listing them, everything a program pays to get the
// routes as objects: open a socket in the namespace, dump the routes of every table (IPv4 and IPv6, as
// `ip route show table all` lists them), decode them into objects, close. The four ways all ask the
// kernel for the same dump (RTM_GETROUTE, AF_UNSPEC):
//   - sluice SyncClient.open({ netns }).routeList({ table: 0 })
//   - sluice AsyncClient, the same verb
//   - `ip -j route show table all` started inside the namespace, its output JSON.parse'd
//   - node-netlink: createRtNetlink() called while switched into the namespace, then getRoutes()
// Every run of every way must return the same number of routes (the installed ones, plus the few the
// kernel adds for the links and addresses). The figures are medians of interleaved runs (each round
// runs every way once, starting with a different one), with min and max; the ratio is the median of
// the per-round ratios time / ip -j's time, with their interquartile range.
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { AsyncClient, SyncClient } from '../src/netlink/index.js';
import * as netns from '../src/netns.js';
import { describeMachine, formatMachine, loadNow, type Machine } from './lib/machine.js';
import { createTempNamespace, requireRoot, routeBatch, type TempNamespace } from './lib/netns.js';
import { ensureBinding, loadPackage, packageVersion, type BindingStatus } from './lib/node-netlink.js';
import { formatInt, formatMs, repoRoot, writeResults } from './lib/report.js';
import { routeDumpTable } from './report/route-dump.js';
import { ratio, summarize, type Summary } from './lib/stats.js';
import { interleaved, msSince } from './lib/timing.js';

const { values: opts } = parseArgs({
  options: {
    runs: { type: 'string', default: '15' },
    routes: { type: 'string', default: '10000' },
  },
});
const runs = Number(opts.runs);
const routeCount = Number(opts.routes);
if (!Number.isInteger(runs) || runs < 5) throw new RangeError('--runs must be an integer >= 5');

interface Way {
  name: string;
  /** Lists the routes end to end; returns how many. */
  list(tmp: TempNamespace): number | Promise<number>;
}

function ipVersion(): string {
  const r = spawnSync('ip', ['-V'], { encoding: 'utf8' });
  return (r.stdout || r.stderr || '').trim();
}

function ways(nodeNetlink: ReturnType<typeof loadPackage> | undefined): Way[] {
  const list: Way[] = [
    {
      name: 'sluice SyncClient.routeList',
      list(tmp) {
        const client = SyncClient.open({ netns: tmp.ns });
        try {
          return client.routeList({ table: 0 }).length;
        } finally {
          client.close();
        }
      },
    },
    {
      name: 'sluice AsyncClient.routeList',
      async list(tmp) {
        const client = AsyncClient.open({ netns: tmp.ns });
        try {
          return (await client.routeList({ table: 0 })).length;
        } finally {
          await client.close();
        }
      },
    },
    {
      name: 'ip -j route show table all',
      list(tmp) {
        // Forked while this thread is switched into the namespace, ip starts there (as `ip netns exec`
        // would put it, without the extra process). spawnSync returns before switching back.
        const r = netns.runIn(tmp.ns, () => spawnSync('ip', ['-j', 'route', 'show', 'table', 'all'], { encoding: 'utf8', maxBuffer: 256 << 20 }));
        if (r.error) throw r.error;
        if (r.status !== 0) throw new Error(`ip -j route failed (${r.status ?? r.signal}): ${r.stderr.trim()}`);
        return (JSON.parse(r.stdout) as unknown[]).length;
      },
    },
  ];
  if (nodeNetlink) {
    list.push({
      name: 'node-netlink getRoutes',
      async list(tmp) {
        // Its socket keeps the namespace it was created in: switch, create, switch back; then await.
        const sock = netns.runIn(tmp.ns, () => nodeNetlink.createRtNetlink());
        try {
          return (await sock.getRoutes()).length;
        } finally {
          sock.socket.close();
        }
      },
    });
  }
  return list;
}

interface Result {
  name: string;
  ms: Summary;
  routes: number;
  /**
   * The median of the per-round ratios time / ip -j's time (below 1: faster than ip -j). The runs of a
   * round are adjacent in time, so load from elsewhere on the machine hits them alike.
   */
  vsIp: number;
  /** Median time over ip -j's median time. */
  vsIpOfMedians: number;
  roundRatiosVsIp: Summary;
}

async function main(): Promise<void> {
  requireRoot('bench/route-dump');
  const machine: Machine = describeMachine();
  const ip = ipVersion();
  console.log(`machine: ${formatMachine(machine)}`);

  const binding: BindingStatus = ensureBinding({ projectRoot: repoRoot(), log: (l) => console.log(l) });
  let nodeNetlink: ReturnType<typeof loadPackage> | undefined;
  if (binding.ok) nodeNetlink = loadPackage();
  else console.log(`node-netlink: UNAVAILABLE, its native binding could not be built (${binding.error}); measuring the others only`);
  console.log(`${ip}; node-netlink ${packageVersion()} (native binding: ${binding.ok ? binding.how : 'missing'}); ${runs} interleaved runs after a warm-up round\n`);

  const tmp = createTempNamespace('sluice-bench-dump');
  try {
    let start = process.hrtime.bigint();
    tmp.ipBatch(routeBatch(routeCount));
    console.log(`namespace ${tmp.name}: ${formatInt(routeCount)} routes installed with ip -batch in ${formatMs(msSince(start))}`);

    const all = ways(nodeNetlink);
    const counts: number[][] = all.map(() => []);
    start = process.hrtime.bigint();
    const samples = await interleaved(all.length, { runs, warmup: 1 }, async (i) => {
      const t0 = process.hrtime.bigint();
      const n = await all[i]!.list(tmp);
      const ms = msSince(t0);
      counts[i]!.push(n);
      return ms;
    });
    console.log(`${all.length} ways × ${runs + 1} rounds in ${formatMs(msSince(start))}`);

    // Every run of every way must have seen the same routes, at least the ones installed.
    const seen = new Set(counts.flat());
    if (seen.size !== 1 || [...seen][0]! < routeCount) {
      throw new Error(`the ways disagree on the number of routes: ${all.map((w, i) => `${w.name}: ${[...new Set(counts[i])].join('/')}`).join('; ')}`);
    }
    const routesSeen = [...seen][0]!;

    const ipIndex = all.findIndex((w) => w.name.startsWith('ip -j'));
    const ipMedian = summarize(samples[ipIndex]!).median;
    const results: Result[] = all.map((w, i) => ({
      name: w.name,
      ms: summarize(samples[i]!),
      routes: routesSeen,
      vsIp: summarize(samples[i]!.map((ms, r) => ratio(ms, samples[ipIndex]![r]!))).median,
      vsIpOfMedians: ratio(summarize(samples[i]!).median, ipMedian),
      roundRatiosVsIp: summarize(samples[i]!.map((ms, r) => ratio(ms, samples[ipIndex]![r]!))),
    }));

    const table = routeDumpTable(results);
    const loadEnd = loadNow();
    console.log(`\n${table}\n`);
    console.log(`1-minute load average: ${machine.load1} at start, ${loadEnd} at the end.`);
    console.log(`Below 1× is faster than ip -j. ${formatInt(routesSeen)} = the ${formatInt(routeCount)} installed routes plus those the kernel adds for the links and addresses (IPv4 and IPv6, main and local tables).`);
    if (!nodeNetlink) console.log(`node-netlink is missing from the table: ${binding.error}`);
    const path = writeResults('route-dump', {
      benchmark: 'route-dump', command: 'sudo npm run bench:dump', machine, ip, nodeNetlink: { version: packageVersion(), binding },
      config: { runs, warmupRounds: 1, routes: routeCount }, loadAtEnd: loadEnd, results, table,
    });
    console.log(`\nresults: ${path}`);
  } finally {
    tmp.close();
  }
}

main().catch((e: unknown) => {
  console.error(`\nbench/route-dump: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exitCode = 1;
});
