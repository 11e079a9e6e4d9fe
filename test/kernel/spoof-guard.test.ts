// The interim spoof guard (src/datapath/spoof-guard.ts) on a node wired as sluice's ebpf mode wires it
// (test/support/bpf.ts: two pods, a /32 and a /128 each, a route per pod on the node), with forwarding
// on and no eBPF program: the pods' packets take the kernel's routed path, as they do between ADD's
// answer and the TCX attach. Pod A pings pod B from its own addresses and from addresses it added to
// its eth0 but does not own on the node: one the node routes to another host veth, one it has no route
// for. Pod B's ICMP counters (per namespace) tell which echo requests reached it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { after } from 'node:test';
import { GUARD_CHAIN, GUARD_SET, removeSpoofGuard, SpoofGuard, SpoofGuardError, spoofGuardRule } from '../../src/datapath/spoof-guard.js';
import type { NetNs } from '../../src/netns.js';
import { ping, withTopology, type Pod } from '../support/bpf.js';
import { isRoot, kernelTest, leftoverNamespaces, uniqueName, withNamespace, type TestNamespace } from '../support/kernel.js';
import { runWorkers } from '../support/workers.js';

after(() => {
  if (isRoot) assert.deepEqual(leftoverNamespaces(), [], 'no test namespace is left behind');
});

const nft = (n: TestNamespace, ...args: string[]) => execFileSync('ip', ['netns', 'exec', n.name, 'nft', ...args], { encoding: 'utf8' });

type NftObject = Record<string, Record<string, any>>;
function ruleset(n: TestNamespace): NftObject[] {
  return (JSON.parse(nft(n, '-j', 'list', 'ruleset')).nftables as NftObject[]).filter((o) => !o.metainfo);
}
function shape(n: TestNamespace) {
  const objects = ruleset(n);
  const count = (kind: string) => objects.filter((o) => o[kind]).length;
  return { tables: count('table'), chains: count('chain'), sets: count('set'), rules: count('rule') };
}

/** Echo requests the namespace has received so far, IPv4 and IPv6 (its own /proc/net/snmp{,6}). */
function echoesReceived(ns: NetNs): { v4: number; v6: number } {
  return ns.run(() => {
    const [names, values] = readFileSync('/proc/thread-self/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Icmp: ')).map((l) => l.split(' '));
    const v4 = Number(values![names!.indexOf('InEchos')]);
    const v6 = Number(/^Icmp6InEchos\s+(\d+)$/m.exec(readFileSync('/proc/thread-self/net/snmp6', 'utf8'))![1]);
    return { v4, v6 };
  });
}

/** Which of these sources an echo request from `from` to `to` reaches `to` with, in order. */
async function reaching(from: Pod, to: Pod, sources: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const source of sources) {
    const v6 = source.includes(':');
    const before = echoesReceived(to.ns.ns);
    // The reply to a borrowed address goes elsewhere: only the receiver's counters tell.
    await ping(from.ns.ns, v6 ? to.ipv6! : to.ipv4, { source, waitMs: 100 });
    // Then one from the sender's own address, answered: anything sent before it has arrived by then.
    assert.equal(await ping(from.ns.ns, v6 ? to.ipv6! : to.ipv4, { source: v6 ? from.ipv6! : from.ipv4, waitMs: 3000 }), 1, `${from.ns.name} reaches ${to.ns.name} from its own address`);
    const after = echoesReceived(to.ns.ns);
    const got = v6 ? after.v6 - before.v6 : after.v4 - before.v4;
    assert.ok(got === 1 || got === 2, `${got} echo requests arrived`);
    if (got === 2) out.push(source);
  }
  return out;
}

// Pod A (10.213.0.1, fd00:213::1) borrows: an address the node routes to pod B's host veth (another
// pod's, say), and one the node has no route for.
const ROUTED_ELSEWHERE_V4 = '10.213.0.3';
const ROUTED_ELSEWHERE_V6 = 'fd00:213::3';
const UNROUTED_V4 = '198.51.100.7';
const UNROUTED_V6 = '2001:db8::7';
const SPOOFED = [ROUTED_ELSEWHERE_V4, UNROUTED_V4, ROUTED_ELSEWHERE_V6, UNROUTED_V6];

kernelTest('a guarded host veth: the pod\'s packets with a borrowed source are dropped on the node, its own pass; released, they pass again', async () => {
  await withTopology({ ipv6: true }, async ({ node, a, b, setForwarding }) => {
    setForwarding(true);
    // The kernel's own reverse-path filter would drop some of them too: this tests the guard alone.
    node.ns.run(() => {
      for (const dev of ['all', a.hostIfname, b.hostIfname]) writeFileSync(`/proc/sys/net/ipv4/conf/${dev}/rp_filter`, '0');
    });
    node.ipBatch([`route add ${ROUTED_ELSEWHERE_V4}/32 dev ${b.hostIfname}`, `route add ${ROUTED_ELSEWHERE_V6}/128 dev ${b.hostIfname}`]);
    a.ns.ipBatch([
      `addr add ${ROUTED_ELSEWHERE_V4}/32 dev eth0`, `addr add ${UNROUTED_V4}/32 dev eth0`,
      `addr add ${ROUTED_ELSEWHERE_V6}/128 dev eth0 nodad`, `addr add ${UNROUTED_V6}/128 dev eth0 nodad`,
    ]);
    b.ns.ipBatch(['addr add 10.213.0.4/32 dev eth0']);
    const table = uniqueName('slg');
    const guard = SpoofGuard.open({ netns: node.ns, table });
    try {
      assert.deepEqual(await reaching(a, b, SPOOFED), SPOOFED, 'unguarded, every borrowed source gets through');

      guard.guard(a.hostIfindex);
      assert.ok(guard.isGuarded(a.hostIfindex));
      assert.deepEqual(await reaching(a, b, SPOOFED), [], 'guarded, none does');
      assert.deepEqual(await reaching(a, b, [a.ipv4, a.ipv6!]), [a.ipv4, a.ipv6!], 'its own addresses do');
      assert.deepEqual(await reaching(b, a, ['10.213.0.4']), ['10.213.0.4'], 'the other pod\'s host veth is not guarded');
      assert.match(nft(node, 'list', 'chain', 'inet', table, GUARD_CHAIN), /iif @pending fib saddr \. iif oif missing drop comment "sluice spoof guard [0-9a-f]{12}"/);

      guard.release(a.hostIfindex);
      assert.equal(guard.isGuarded(a.hostIfindex), false);
      assert.deepEqual(await reaching(a, b, SPOOFED), SPOOFED, 'released, they get through again');
    } finally {
      guard.close();
      removeSpoofGuard({ netns: node.ns, table });
    }
  });
});

async function withGuard<T>(fn: (g: SpoofGuard, n: TestNamespace, table: string) => T | Promise<T>): Promise<T> {
  return withNamespace(async (n) => {
    const table = uniqueName('slg');
    const g = SpoofGuard.open({ netns: n.ns, table });
    try {
      return await fn(g, n, table);
    } finally {
      g.close();
    }
  });
}

kernelTest('guard() puts one table, set, chain and rule in place; guarding again, releasing what is absent and a missing table are fine', async () => {
  await withGuard((g, n, table) => {
    g.release(7);
    assert.equal(g.isGuarded(7), false, 'no table yet');
    assert.deepEqual(g.list(), []);
    g.guard(7);
    g.guard(7);
    g.guard(12);
    assert.deepEqual(shape(n), { tables: 1, chains: 1, sets: 1, rules: 1 });
    const [chain] = ruleset(n).filter((o) => o.chain).map((o) => o.chain!);
    assert.deepEqual([chain!.table, chain!.name, chain!.type, chain!.hook, chain!.prio, chain!.policy], [table, GUARD_CHAIN, 'filter', 'prerouting', -300, 'accept']);
    const [set] = ruleset(n).filter((o) => o.set).map((o) => o.set!);
    assert.deepEqual([set!.name, set!.type], [GUARD_SET, 'iface_index']);
    assert.deepEqual(g.list(), [7, 12]);
    assert.ok(g.isGuarded(12));
    g.release(7);
    g.release(7);
    assert.deepEqual(g.list(), [12]);
    assert.throws(() => g.guard(0), TypeError);
    assert.throws(() => g.release(-3), TypeError);

    // Deleted under a warm instance (an uninstall): the next guard() puts it all back.
    nft(n, 'delete', 'table', 'inet', table);
    g.release(12);
    g.guard(3);
    assert.deepEqual(shape(n), { tables: 1, chains: 1, sets: 1, rules: 1 });
    assert.deepEqual(g.list(), [3]);
  });
});

kernelTest('ensure() puts the rule in place without guarding anything; a set or chain of another shape is refused and left alone', async () => {
  await withGuard((g, n) => {
    g.ensure();
    g.ensure();
    assert.deepEqual(shape(n), { tables: 1, chains: 1, sets: 1, rules: 1 });
    assert.deepEqual(g.list(), []);
  });
  for (const other of [`add chain inet T ${GUARD_CHAIN} { type filter hook input priority 0; }`, `add set inet T ${GUARD_SET} { type ipv4_addr; }`]) {
    await withNamespace((n) => {
      const table = uniqueName('slg');
      execFileSync('ip', ['netns', 'exec', n.name, 'nft', '-f', '-'], { input: `add table inet ${table}\n${other.replace(' T ', ` ${table} `)}\n` });
      const before = shape(n);
      const g = SpoofGuard.open({ netns: n.ns, table });
      try {
        assert.throws(() => g.guard(1), (e: Error) => e instanceof SpoofGuardError && /is not the spoof guard's/.test(e.message), other);
      } finally {
        g.close();
      }
      assert.deepEqual(shape(n), before, 'nothing changed');
    });
  }
});

kernelTest('a new instance replaces a foreign rule in the chain and drops a duplicate of ours', async () => {
  await withGuard((g, n, table) => {
    g.guard(1);
    nft(n, 'add', 'rule', 'inet', table, GUARD_CHAIN, 'meta', 'l4proto', 'udp', 'accept');
    const second = SpoofGuard.open({ netns: n.ns, table });
    try {
      second.guard(2);
    } finally {
      second.close();
    }
    const comments = () => ruleset(n).filter((o) => o.rule).map((o) => o.rule!.comment as string | undefined);
    assert.deepEqual(comments(), [spoofGuardRule().comment]);
    // Twice ours (nft cannot tell): the next instance keeps one.
    nft(n, 'add', 'rule', 'inet', table, GUARD_CHAIN, 'iif', '@pending', 'fib', 'saddr', '.', 'iif', 'oif', 'missing', 'drop', 'comment', `"${spoofGuardRule().comment}"`);
    assert.equal(comments().length, 2);
    const third = SpoofGuard.open({ netns: n.ns, table });
    try {
      third.guard(3);
    } finally {
      third.close();
    }
    assert.deepEqual(comments(), [spoofGuardRule().comment]);
    assert.deepEqual(g.list(), [1, 2, 3]);
  });
});

kernelTest('removeSpoofGuard deletes the table and leaves nothing; without one it says so', async () => {
  await withGuard((g, n, table) => {
    g.guard(4);
    assert.equal(removeSpoofGuard({ netns: n.ns, table }), true);
    assert.equal(nft(n, 'list', 'ruleset'), '');
    assert.equal(removeSpoofGuard({ netns: n.ns, table }), false);
    assert.equal(g.isGuarded(4), false);
    assert.throws(() => removeSpoofGuard({ netns: n.ns, table: 'no spaces' }), TypeError);
  });
});

const guardUrl = new URL('../../src/datapath/spoof-guard.js', import.meta.url).href;
const netnsUrl = new URL('../../src/netns.js', import.meta.url).href;
// A plugin process: opens its guard in the node's namespace, says "ready", waits for "go", guards
// its interfaces (the first call creates what is missing) and prints them.
const worker = `
import { SpoofGuard } from ${JSON.stringify(guardUrl)};
import { NetNs } from ${JSON.stringify(netnsUrl)};
const { nsPath, table, ifindexes } = JSON.parse(process.argv[1]);
const ns = NetNs.open(nsPath);
const g = SpoofGuard.open({ netns: ns, table });
process.stdout.write('ready\\n');
process.stdin.once('data', () => {
  try {
    for (const i of ifindexes) g.guard(i);
    process.stdout.write(JSON.stringify(ifindexes) + '\\n');
  } finally {
    g.close();
    ns.close();
    process.stdin.destroy();
  }
});
`;

kernelTest('8 processes guarding at once on a fresh node all succeed and leave exactly one rule', async (t) => {
  await withNamespace(async (n) => {
    const table = uniqueName('slg');
    const results = await runWorkers(t, worker, (i) => ({ nsPath: `/run/netns/${n.name}`, table, ifindexes: [100 + i, 200 + i, 999] }), 8);
    for (const [i, r] of results.entries()) assert.equal(r.code, 0, `worker ${i}: ${r.err}`);
    assert.deepEqual(shape(n), { tables: 1, chains: 1, sets: 1, rules: 1 });
    const g = SpoofGuard.open({ netns: n.ns, table });
    try {
      assert.deepEqual(g.list(), [...Array.from({ length: 8 }, (_, i) => 100 + i), ...Array.from({ length: 8 }, (_, i) => 200 + i), 999]);
    } finally {
      g.close();
    }
  });
});
