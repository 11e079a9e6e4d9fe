import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after } from 'node:test';
import { NETLINK_NETFILTER } from '../../src/netlink/socket.js';
import { isGenerationConflict, nftables } from '../../src/netlink/nftables/index.js';
import { openSocketIn } from '../../src/netns.js';
import { Masquerade, MasqueradeError, masqueradeRule, nomasqIntervals, planEnsure } from '../../src/datapath/masquerade.js';
import { isRoot, kernelTest, leftoverNamespaces, uniqueName, withNamespace, type TestNamespace } from '../support/kernel.js';
import { runWorkers } from '../support/workers.js';

after(() => {
  if (isRoot) assert.deepEqual(leftoverNamespaces(), [], 'no test namespace is left behind');
});

const nft = (n: TestNamespace, ...args: string[]) => execFileSync('ip', ['netns', 'exec', n.name, 'nft', ...args], { encoding: 'utf8' });

type NftObject = Record<string, Record<string, any>>;
/** `nft -j list ruleset` inside the namespace, as a list of {table|chain|set|rule: ...} objects. */
function ruleset(n: TestNamespace): NftObject[] {
  return (JSON.parse(nft(n, '-j', 'list', 'ruleset')).nftables as NftObject[]).filter((o) => !o.metainfo);
}
const count = (objects: NftObject[], kind: string) => objects.filter((o) => o[kind]).length;
/** The elements of a set as nft lists them ("10.0.0.1", or {prefix} objects for wider ones). */
function elements(n: TestNamespace, table: string, set: string): unknown[] {
  const [obj] = (JSON.parse(nft(n, '-j', 'list', 'set', 'inet', table, set)).nftables as NftObject[]).filter((o) => o.set);
  return (obj!.set!.elem as unknown[] | undefined) ?? [];
}

function shape(n: TestNamespace) {
  const objects = ruleset(n);
  return { tables: count(objects, 'table'), chains: count(objects, 'chain'), sets: count(objects, 'set'), rules: count(objects, 'rule') };
}

async function withMasquerade<T>(fn: (m: Masquerade, n: TestNamespace, table: string) => T | Promise<T>, nomasq: string[] = ['10.244.0.0/16', 'fd00:10:244::/48']): Promise<T> {
  return withNamespace(async (n) => {
    const table = uniqueName('slm');
    const m = new Masquerade({ netns: n.ns, table, nomasq });
    try {
      return await fn(m, n, table);
    } finally {
      m.close();
    }
  });
}

kernelTest('ensure() twice: one table, one nat postrouting chain, four sets, two rules; the second changes nothing', async () => {
  await withMasquerade((m, n, table) => {
    const first = m.ensure();
    assert.equal(first.changed, true);
    const second = m.ensure();
    assert.deepEqual(second, { changed: false, actions: [], retries: 0 });
    assert.deepEqual(shape(n), { tables: 1, chains: 1, sets: 4, rules: 2 });
    const [chain] = ruleset(n).filter((o) => o.chain).map((o) => o.chain!);
    assert.deepEqual([chain!.table, chain!.name, chain!.type, chain!.hook, chain!.prio, chain!.policy], [table, 'postrouting', 'nat', 'postrouting', 100, 'accept']);
    const comments = ruleset(n).filter((o) => o.rule).map((o) => o.rule!.comment);
    assert.deepEqual(comments, [masqueradeRule(4).comment, masqueradeRule(6).comment]);
    assert.deepEqual(m.list(), { pods: [], nomasq: ['10.244.0.0/16', '224.0.0.0/4', 'fd00:10:244::/48', 'ff00::/8'] });
    assert.match(nft(n, 'list', 'chain', 'inet', table, 'postrouting'), /ip saddr @pods4 ip daddr != @pods4 ip daddr != @nomasq4 masquerade comment/);
  });
});

kernelTest('200 addPod calls: 200 elements in the set, the rules untouched; adding again and removing what is absent are fine', async () => {
  await withMasquerade((m, n, table) => {
    m.ensure();
    const rulesBefore = ruleset(n).filter((o) => o.rule).map((o) => o.rule!.handle);
    // Consecutive /32s: every new interval starts where the previous one ends.
    const pods = Array.from({ length: 200 }, (_, i) => `10.244.${1 + (i >> 8)}.${i & 0xff}`);
    for (const p of pods) m.addPod([p]);
    assert.equal(elements(n, table, 'pods4').length, 200);
    assert.deepEqual(ruleset(n).filter((o) => o.rule).map((o) => o.rule!.handle), rulesBefore, 'the same two rules');
    assert.deepEqual(m.list().pods, pods.map((p) => `${p}/32`));
    m.addPod([pods[17]!, pods[18]!]);
    m.addPod(['fd00:10:244:1::5']);
    assert.equal(elements(n, table, 'pods4').length, 200);
    assert.deepEqual(elements(n, table, 'pods6'), ['fd00:10:244:1::5']);
    m.removePod(['10.99.0.1', 'fd00:10:244:1::6']);
    m.removePod(pods.slice(0, 100));
    m.removePod(pods.slice(0, 100));
    assert.equal(elements(n, table, 'pods4').length, 100);
    assert.equal(shape(n).rules, 2);
  });
});

kernelTest('addPod refuses a prefix overlapping a different one already there, and leaves the set as it was', async () => {
  await withMasquerade((m, n, table) => {
    m.ensure();
    m.addPod(['10.244.2.1', '10.244.2.15', '10.244.3.0/24']);
    // 10.244.2.0/28 ends where 10.244.2.15/32 ends: without NLM_F_EXCL the kernel would take it half.
    for (const bad of [['10.244.2.0/28'], ['10.244.3.7'], ['10.244.0.0/16']]) {
      assert.throws(() => m.addPod(bad), (e: unknown) => e instanceof MasqueradeError && /overlaps/.test(e.message), bad.join());
    }
    assert.throws(() => m.addPod(['10.244.4.1', '10.244.4.0/30']), /overlap/);
    assert.throws(() => m.addPod(['10.244.4.1/24']), /host bits/);
    assert.deepEqual(m.list().pods, ['10.244.2.1/32', '10.244.2.15/32', '10.244.3.0/24']);
    // A mix of present and new prefixes adds the new ones.
    m.addPod(['10.244.2.1', '10.244.2.2']);
    assert.deepEqual(m.list().pods, ['10.244.2.1/32', '10.244.2.2/32', '10.244.2.15/32', '10.244.3.0/24']);
    assert.equal(elements(n, table, 'pods4').length, 4);
  });
});

kernelTest('gc() keeps the live pods and removes the others; uninstall() removes the table, and addPod() recreates it', async () => {
  await withMasquerade((m, n, table) => {
    m.addPod(['10.244.1.1', '10.244.1.2', '10.244.1.3', 'fd00:10:244:1::1', 'fd00:10:244:1::2']);
    assert.deepEqual(shape(n), { tables: 1, chains: 1, sets: 4, rules: 2 }, 'addPod on a fresh node ran ensure()');
    assert.deepEqual(m.gc(['10.244.1.2', 'fd00:10:244:1::1', '10.244.1.99']), ['10.244.1.1/32', '10.244.1.3/32', 'fd00:10:244:1::2/128']);
    assert.deepEqual(m.list().pods, ['10.244.1.2/32', 'fd00:10:244:1::1/128']);
    assert.deepEqual(m.gc(['10.244.1.2', 'fd00:10:244:1::1']), []);
    assert.throws(() => m.gc(['not an address']), TypeError);
    m.uninstall();
    assert.deepEqual(ruleset(n), []);
    m.uninstall();
    m.removePod(['10.244.1.2']);
    assert.deepEqual(m.list(), { pods: [], nomasq: [] });
    assert.deepEqual(m.gc([]), []);
    m.addPod(['10.244.1.7']);
    assert.deepEqual(shape(n), { tables: 1, chains: 1, sets: 4, rules: 2 });
    assert.deepEqual(m.list().pods, ['10.244.1.7/32']);
    assert.match(nft(n, 'list', 'tables'), new RegExp(`table inet ${table}`));
  });
});

kernelTest('ensure() repairs: a deleted rule, a duplicate, a foreign rule, a changed nomasq list, a dormant table', async () => {
  await withNamespace(async (n) => {
    const table = uniqueName('slm');
    const first = new Masquerade({ netns: n.ns, table, nomasq: ['10.244.0.0/16'] });
    try {
      first.ensure();
      first.addPod(['10.244.1.2']);
      const [r4, r6] = ruleset(n).filter((o) => o.rule).map((o) => o.rule!);
      nft(n, 'delete', 'rule', 'inet', table, 'postrouting', 'handle', String(r6!.handle));
      // nft's own encoding of our rule, with our comment: the same rule, a duplicate.
      nft(n, 'add', 'rule', 'inet', table, 'postrouting', 'ip', 'saddr', '@pods4', 'ip', 'daddr', '!=', '@pods4', 'ip', 'daddr', '!=', '@nomasq4', 'masquerade', 'comment', `"${r4!.comment}"`);
      nft(n, 'add', 'rule', 'inet', table, 'postrouting', 'counter');
      assert.equal(shape(n).rules, 3);
    } finally {
      first.close();
    }
    // Another configuration: the cluster CIDR grew and covers the old pod CIDR.
    const second = new Masquerade({ netns: n.ns, table, nomasq: ['10.0.0.0/8', 'fd00::/16'] });
    try {
      const result = second.ensure();
      assert.equal(result.changed, true);
      assert.deepEqual(result.actions.map((a) => a.replace(/ \(sluice masquerade ipv[46] [0-9a-f]{12}\)$/, '').replace(/handle \d+/, 'handle N')), [
        'delete element inet ' + table + ' nomasq4 { 10.244.0.0/16 }',
        'add element inet ' + table + ' nomasq4 { 10.0.0.0/8 }',
        'add element inet ' + table + ' nomasq6 { fd00::/16 }',
        'delete rule inet ' + table + ' postrouting handle N',
        'delete rule inet ' + table + ' postrouting handle N',
        'add rule inet ' + table + ' postrouting',
      ]);
      const rules = ruleset(n).filter((o) => o.rule).map((o) => o.rule!.comment);
      assert.deepEqual(rules, [masqueradeRule(4).comment, masqueradeRule(6).comment]);
      assert.deepEqual(second.list(), { pods: ['10.244.1.2/32'], nomasq: ['10.0.0.0/8', '224.0.0.0/4', 'fd00::/16', 'ff00::/8'] });
      nft(n, 'add', 'table', 'inet', table, '{ flags dormant; }');
      assert.deepEqual(second.ensure().actions, [`add table inet ${table}`]);
      assert.doesNotMatch(nft(n, 'list', 'table', 'inet', table), /dormant/);
      assert.equal(second.ensure().changed, false);
    } finally {
      second.close();
    }
  });
});

kernelTest('ensure() refuses to take over a table of that name with a chain of another shape', async () => {
  await withNamespace((n) => {
    const table = uniqueName('slm');
    nft(n, 'add', 'table', 'inet', table);
    nft(n, 'add', 'chain', 'inet', table, 'postrouting', '{ type filter hook postrouting priority 0; }');
    const m = new Masquerade({ netns: n.ns, table });
    try {
      assert.throws(() => m.ensure(), (e: unknown) => e instanceof MasqueradeError && /not "type nat hook postrouting priority srcnat"/.test(e.message));
      assert.equal(shape(n).sets, 0, 'nothing was added');
    } finally {
      m.close();
    }
  });
});

kernelTest('a plan computed before another process committed is refused (ERESTART); ensure() then reads again', async () => {
  await withNamespace((n) => {
    const table = uniqueName('slm');
    const a = new Masquerade({ netns: n.ns, table });
    const b = new Masquerade({ netns: n.ns, table });
    const sock = openSocketIn(n.ns, NETLINK_NETFILTER, { family: nftables });
    try {
      const stale = a.observe();
      b.ensure();
      const { batch, actions } = planEnsure(table, nomasqIntervals([]), stale);
      assert.ok(actions.length > 0, 'from the stale view everything is missing');
      assert.throws(() => batch.commit(sock), isGenerationConflict);
      assert.deepEqual(shape(n), { tables: 1, chains: 1, sets: 4, rules: 2 });
      assert.deepEqual(a.ensure(), { changed: false, actions: [], retries: 0 });
    } finally {
      sock.close();
      a.close();
      b.close();
    }
  });
});

// ---- several plugin processes at once ----

const masqueradeUrl = new URL('../../src/datapath/masquerade.js', import.meta.url).href;
const netnsUrl = new URL('../../src/netns.js', import.meta.url).href;
// A plugin process: opens its socket in the node's namespace, says "ready", waits for "go", then
// runs ensure() and addPod() (or removePod()) `rounds` times and prints what it saw.
const worker = `
import { Masquerade } from ${JSON.stringify(masqueradeUrl)};
import { NetNs } from ${JSON.stringify(netnsUrl)};
const { nsPath, table, nomasq, pods, rounds, op } = JSON.parse(process.argv[1]);
const ns = NetNs.open(nsPath);
const m = new Masquerade({ netns: ns, table, nomasq });
process.stdout.write('ready\\n');
process.stdin.once('data', () => {
  let retries = 0;
  let changed = 0;
  try {
    for (let i = 0; i < rounds; i++) {
      if (op === 'add') {
        const r = m.ensure();
        retries += r.retries;
        if (r.changed) changed++;
        m.addPod(pods);
      } else {
        m.removePod(pods);
      }
    }
    process.stdout.write(JSON.stringify({ retries, changed }) + '\\n');
  } finally {
    m.close();
    ns.close();
    process.stdin.destroy();
  }
});
`;

kernelTest('8 plugin processes running ensure() and addPod() at once leave one table, one chain, two rules and every pod', async (t) => {
  await withNamespace(async (n) => {
    const table = uniqueName('slm');
    const nomasq = ['10.244.0.0/16', 'fd00:10:244::/48'];
    const own = (i: number) => [`10.244.5.${i + 1}`, `fd00:10:244:5::${i + 1}`];
    // Every process also adds the same shared pod, as two ADDs of one container would.
    const shared = '10.244.9.9';
    const added = await runWorkers(t, worker, (i) => ({ nsPath: `/run/netns/${n.name}`, table, nomasq, pods: [...own(i), shared], rounds: 3, op: 'add' }), 8);
    for (const [i, r] of added.entries()) assert.equal(r.code, 0, `worker ${i}: ${r.err}`);
    assert.deepEqual(shape(n), { tables: 1, chains: 1, sets: 4, rules: 2 });
    const changed = added.map((r) => (JSON.parse(r.out) as { changed: number }).changed).reduce((a, b) => a + b, 0);
    assert.ok(changed >= 1, 'somebody created the ruleset');
    const m = new Masquerade({ netns: n.ns, table, nomasq });
    try {
      const pods = m.list().pods;
      assert.equal(pods.length, 8 * 2 + 1);
      assert.ok(pods.includes(`${shared}/32`));
      assert.deepEqual(m.ensure(), { changed: false, actions: [], retries: 0 });
      // And 8 DELs at once, each removing its pod and the shared one.
      const removed = await runWorkers(t, worker, (i) => ({ nsPath: `/run/netns/${n.name}`, table, nomasq, pods: [...own(i), shared], rounds: 1, op: 'remove' }), 8);
      for (const [i, r] of removed.entries()) assert.equal(r.code, 0, `worker ${i}: ${r.err}`);
      assert.deepEqual(m.list().pods, []);
      assert.deepEqual(shape(n), { tables: 1, chains: 1, sets: 4, rules: 2 });
    } finally {
      m.close();
    }
  });
});
