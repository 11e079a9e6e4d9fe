/**
 * Built-in IPAM cost against the number of leases in a /16: allocate and release, at 100, 10,000 and
 * 65,000 leases. The store is filled the way a migration from host-local finds it (lease files written
 * by another hand), so the first operation also shows the one-off index rebuild. Each round allocates
 * for a new container and releases a random existing one, keeping the count steady while holes spread
 * through the range. With the reference host-local binary installed, its ADD and DEL are timed too.
 * It runs on the temp dir's file system (a disk, like /var/lib/cni) and on /dev/shm (tmpfs), which
 * separates sluice's own cost from the disk file system's.
 *
 *   npm run bench:ipam                              (or: node dist/bench/ipam.js [rounds], default 500)
 *
 * The tables go to stdout, the figures to bench/results/ipam.json.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtinIpam } from '../src/ipam/host-local/index.js';
import type { IpamRequest } from '../src/ipam/types.js';
import { describeMachine, formatMachine, loadNow } from './lib/machine.js';
import { writeResults } from './lib/report.js';
import { quantile, summarize } from './lib/stats.js';

const NETWORK = 'bench';
const SIZES = [100, 10_000, 65_000];
const ROUNDS = Number(process.argv[2] ?? 500);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new RangeError(`rounds must be a positive integer, got ${process.argv[2]}`);
const HOST_LOCAL = '/usr/lib/cni/host-local';
const HOST_LOCAL_ROUNDS = 5;

const ipam = builtinIpam();

// The lease stores being measured: removed on Ctrl-C too (65,000 files each, one of them in /dev/shm).
// The allocator's calls are synchronous underneath, so the loops below yield to the event loop now and
// then (never inside a timed call): otherwise a signal would wait for the whole run to end.
const liveDataDirs = new Set<string>();
const letSignalsIn = () => new Promise<void>((resolve) => setImmediate(resolve));
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`\n${signal}: removing ${[...liveDataDirs].join(', ') || 'nothing'}\n`);
    for (const dir of liveDataDirs) rmSync(dir, { recursive: true, force: true });
    process.exit(signal === 'SIGINT' ? 130 : 143);
  });
}

function addressAt(offset: number): string {
  // Offsets from 10.80.0.2 on: the range starts at .0.1, which is the gateway.
  const n = offset + 2;
  return `10.80.${n >> 8}.${n & 255}`;
}

function ms(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

function hostLocal(command: 'ADD' | 'DEL', config: Record<string, unknown>, id: string): number {
  const start = process.hrtime.bigint();
  const run = spawnSync(HOST_LOCAL, [], {
    input: JSON.stringify({ cniVersion: '1.0.0', name: NETWORK, ipam: { ...config, type: 'host-local' } }),
    env: { CNI_COMMAND: command, CNI_CONTAINERID: id, CNI_NETNS: '/proc/self/ns/net', CNI_IFNAME: 'eth0', CNI_PATH: '/usr/lib/cni' },
  });
  if (run.status !== 0) throw new Error(`host-local ${command}: ${run.stdout}`);
  return ms(start);
}

interface Row {
  leases: number;
  rebuild: number;
  add: number[];
  del: number[];
  /** CPU time (user + system) per ADD + DEL round, which load on the machine disturbs less. */
  cpuPerRound: number;
  hlAdd: number[];
  hlDel: number[];
}

async function measure(base: string, leases: number, rounds = ROUNDS, withHostLocal = true): Promise<Row> {
  const dataDir = mkdtempSync(join(base, 'sluice-bench-ipam-'));
  liveDataDirs.add(dataDir);
  try {
    const config = { type: 'sluice', dataDir, ranges: [[{ subnet: '10.80.0.0/16' }]] };
    const req = (containerID: string): IpamRequest => ({ containerID, ifname: 'eth0', network: NETWORK, config, netConf: { cniVersion: '1.1.0', name: NETWORK }, requestedIPs: [] });
    const folder = join(dataDir, NETWORK);
    mkdirSync(folder, { recursive: true });
    const live: string[] = [];
    for (let i = 0; i < leases; i++) {
      writeFileSync(join(folder, addressAt(i)), `pre${i}\r\neth0`, { mode: 0o600 });
      live.push(`pre${i}`);
      if (i % 1000 === 999) await letSignalsIn();
    }
    writeFileSync(join(folder, 'last_reserved_ip.0'), addressAt(leases - 1));
    // Let the page cache write the fill back now rather than during the measurement.
    spawnSync('sync');

    const first = process.hrtime.bigint();
    await ipam.del(req('nobody'));
    const rebuild = ms(first);

    const row: Row = { leases, rebuild, add: [], del: [], cpuPerRound: 0, hlAdd: [], hlDel: [] };
    const cpuBefore = process.cpuUsage();
    let seed = 42;
    const random = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    for (let round = 0; round < rounds; round++) {
      if (round % 10 === 0) await letSignalsIn();
      const id = `new${round}`;
      let start = process.hrtime.bigint();
      await ipam.add(req(id));
      row.add.push(ms(start));
      live.push(id);
      const victim = live.splice(random(live.length), 1)[0]!;
      start = process.hrtime.bigint();
      await ipam.del(req(victim));
      row.del.push(ms(start));
    }
    const cpu = process.cpuUsage(cpuBefore);
    row.cpuPerRound = (cpu.user + cpu.system) / 1000 / rounds;
    if (withHostLocal && existsSync(HOST_LOCAL)) {
      for (let round = 0; round < HOST_LOCAL_ROUNDS; round++) {
        await letSignalsIn();
        const id = `hl${round}`;
        row.hlAdd.push(hostLocal('ADD', config, id));
        live.push(id);
        row.hlDel.push(hostLocal('DEL', config, live.splice(random(live.length), 1)[0]!));
      }
    }
    return row;
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
    liveDataDirs.delete(dataDir);
    spawnSync('sync');
  }
}

const fmt = (v: number | undefined) => (v === undefined ? '—' : v < 10 ? v.toFixed(3) : v.toFixed(1));

function fileSystemOf(dir: string): string {
  const run = spawnSync('findmnt', ['-n', '-o', 'FSTYPE', '-T', dir], { encoding: 'utf8' });
  return run.status === 0 ? run.stdout.trim().split('\n')[0]! : 'unknown file system';
}

const machine = describeMachine();
console.log(`machine: ${formatMachine(machine)}\n`);
// Warm the JIT up first, so the first size measured is not also the first code run.
await measure(tmpdir(), 100, 300, false);
const bases = [tmpdir(), ...(existsSync('/dev/shm') ? ['/dev/shm'] : [])];
const fileSystems: Array<{ dir: string; type: string; rows: Row[] }> = [];
for (const base of bases) {
  const rows: Row[] = [];
  for (const size of SIZES) rows.push(await measure(base, size));
  const type = fileSystemOf(base);
  fileSystems.push({ dir: base, type, rows });
  console.log(`built-in IPAM in ${base} (${type}), /16 range, ${ROUNDS} rounds of (ADD new, DEL random) per size, in-process; times in ms`);
  console.log('');
  console.log('| leases | ADD p50 | ADD p99 | DEL p50 | DEL p99 | CPU per ADD+DEL | first op (index rebuild) | host-local ADD p50 | host-local DEL p50 |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    const hl = (v: number[]) => (v.length ? fmt(quantile(v, 0.5)) : '—');
    console.log(
      `| ${r.leases.toLocaleString('en')} | ${fmt(quantile(r.add, 0.5))} | ${fmt(quantile(r.add, 0.99))} | ${fmt(quantile(r.del, 0.5))} | ${fmt(quantile(r.del, 0.99))} | ${fmt(r.cpuPerRound)} | ${fmt(r.rebuild)} | ${hl(r.hlAdd)} | ${hl(r.hlDel)} |`,
    );
  }
  console.log('');
}
const hostLocalPresent = existsSync(HOST_LOCAL);
if (!hostLocalPresent) console.log(`${HOST_LOCAL} is not installed: no host-local figures (apt-get install containernetworking-plugins)`);
const path = writeResults('ipam', {
  benchmark: 'ipam',
  command: 'npm run bench:ipam',
  machine,
  config: { rounds: ROUNDS, sizes: SIZES, subnet: '10.80.0.0/16', hostLocal: hostLocalPresent ? HOST_LOCAL : null, hostLocalRounds: HOST_LOCAL_ROUNDS },
  loadAtEnd: loadNow(),
  fileSystems: fileSystems.map((fs) => ({
    dir: fs.dir,
    type: fs.type,
    rows: fs.rows.map((r) => ({
      leases: r.leases,
      firstOpMs: r.rebuild,
      addMs: summarize(r.add),
      addP99Ms: quantile(r.add, 0.99),
      delMs: summarize(r.del),
      delP99Ms: quantile(r.del, 0.99),
      cpuPerRoundMs: r.cpuPerRound,
      hostLocal: r.hlAdd.length ? { addMs: r.hlAdd, delMs: r.hlDel } : null,
    })),
  })),
});
console.log(`results: ${path}`);
