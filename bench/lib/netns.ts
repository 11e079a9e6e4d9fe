// A network namespace of the benchmark's own, uniquely named, deleted when done: in a finally, on
// Ctrl-C (SIGINT), SIGTERM and SIGHUP, and at exit as a last resort. Nothing outside it is touched.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as netns from '../../src/netns.js';
import { NetNs } from '../../src/netns.js';

export interface TempNamespace {
  readonly name: string;
  readonly path: string;
  /** An open handle on it, for NetlinkSocket/SyncClient `netns` options and netns.runIn. */
  readonly ns: NetNs;
  /** Runs `ip -n <name> -batch -` with these commands (one per line); throws with ip's message on failure. */
  ipBatch(lines: readonly string[]): void;
  /** Deletes the namespace (idempotent). */
  close(): void;
}

/** Throws a clear message unless running as root (creating namespaces needs CAP_SYS_ADMIN). */
export function requireRoot(what: string): void {
  if (process.getuid?.() !== 0) {
    throw new Error(`${what} needs root: it creates a network namespace of its own (run it with sudo)`);
  }
}

const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const signalNumbers: Record<(typeof signals)[number], number> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

export function createTempNamespace(prefix: string): TempNamespace {
  const name = `${prefix}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const path = netns.createNamed(name);
  let ns: NetNs;
  try {
    ns = NetNs.named(name);
  } catch (e) {
    netns.deleteNamed(name);
    throw e;
  }
  let closed = false;
  const onSignal = (signal: (typeof signals)[number]) => {
    process.stderr.write(`\n${signal}: deleting network namespace ${name}\n`);
    close();
    process.exit(128 + signalNumbers[signal]);
  };
  const onExit = () => close();
  function close(): void {
    if (closed) return;
    closed = true;
    for (const s of signals) process.off(s, onSignal);
    process.off('exit', onExit);
    ns.close();
    try {
      netns.deleteNamed(name);
    } catch (e) {
      process.stderr.write(`could not delete network namespace ${name}: ${String(e)} (remove it with: ip netns del ${name})\n`);
    }
  }
  for (const s of signals) process.on(s, onSignal);
  process.on('exit', onExit);

  return {
    name,
    path,
    ns,
    ipBatch(lines) {
      const r = spawnSync('ip', ['-n', name, '-batch', '-'], { input: `${lines.join('\n')}\n`, encoding: 'utf8', maxBuffer: 64 << 20 });
      if (r.error) throw new Error(`ip -batch: ${r.error.message}`);
      if (r.status !== 0) throw new Error(`ip -n ${name} -batch failed (${r.status ?? r.signal}): ${r.stderr.trim().split('\n').slice(0, 5).join(' / ')}`);
    },
    close,
  };
}

/**
 * The `ip -batch` commands that give a namespace a veth pair (sb0 with 10.255.0.1/16, its peer sb1;
 * both up, without IPv6 link-local addresses, so the set of routes stays fixed) and `count` IPv4 routes 10.<i / 256>.<i % 256>.0/24 via 10.255.0.2 on sb0, each with its
 * own metric; every tenth also carries a locked MTU and an advmss (RTA_METRICS). count <= 65,280.
 */
export function routeBatch(count: number): string[] {
  if (!Number.isInteger(count) || count < 0 || count > 255 * 256) throw new RangeError(`route count must be within [0, 65280], got ${count}`);
  const lines = [
    'link set lo up',
    'link add sb0 type veth peer name sb1',
    // No IPv6 link-local addresses: their routes would appear part-way through the runs, after DAD.
    'link set sb0 addrgenmode none',
    'link set sb1 addrgenmode none',
    'link set sb0 up',
    'link set sb1 up',
    'address add 10.255.0.1/16 dev sb0',
  ];
  for (let i = 0; i < count; i++) {
    const metrics = i % 10 === 0 ? ' mtu lock 1400 advmss 1360' : '';
    lines.push(`route add 10.${i >> 8}.${i & 255}.0/24 via 10.255.0.2 dev sb0 proto static metric ${100 + (i % 50)}${metrics}`);
  }
  return lines;
}
