// "ipMasq": true in mode ebpf, through the plugin binary on simulated nodes: pods reach an outside
// network behind the node with the node's address while pod-to-pod traffic keeps its source; the
// ruleset holds one rule per family however many pods there are, also after concurrent ADDs; DEL (even
// without CNI_NETNS and prevResult), GC and a failed ADD remove the pod's elements; CHECK names a
// missing one; the config fields are checked and named.
import assert from 'node:assert/strict';
import { kernelTest } from '../support/kernel.js';
import { nothingLeftAfterAll, type Pod, POD_SUBNET_V4, POD_SUBNET_V6, type SimNode, withNode } from '../support/plugin.js';
import { echoServer, NODE_OUTSIDE_V4, NODE_OUTSIDE_V6, nftElements, nftShape, OUTSIDE_V4, OUTSIDE_V6, seenFrom, withOutside } from '../support/bridge.js';

nothingLeftAfterAll();

const TABLE = 'sluice';
const masqConfig = (node: SimNode, extra: Record<string, unknown> = {}) => node.config({ ipv4: true, ipv6: true, overrides: { ipMasq: true, ...extra } });

interface Added {
  pod: Pod;
  v4: string;
  v6: string;
  result: any;
}

async function addPod(node: SimNode, config: Record<string, unknown>): Promise<Added> {
  const pod = node.addPod();
  const result = await node.add(pod, config);
  const [v4, v6] = (result.ips as { address: string }[]).map((ip) => ip.address.split('/')[0]!);
  return { pod, v4: v4!, v6: v6!, result };
}

const pods4 = (node: SimNode) => nftElements(node, 'inet', TABLE, 'pods4');
const pods6 = (node: SimNode) => nftElements(node, 'inet', TABLE, 'pods6');

kernelTest('ipMasq: a pod reaches the outside with the node\'s address, pod to pod keeps its source, ipMasqExclude is honoured', async () => {
  await withNode((node) => withOutside(node, async (outside) => {
    const config = masqConfig(node);
    const a = await addPod(node, config);
    const b = await addPod(node, config);
    const plain = await addPod(node, node.config({ ipv4: true, ipv6: true }));
    const servers = [await echoServer(outside), await echoServer(b.pod)];
    try {
      assert.equal(seenFrom(a.pod, OUTSIDE_V4), NODE_OUTSIDE_V4, 'masqueraded to the node\'s address on the way out');
      assert.equal(seenFrom(a.pod, OUTSIDE_V6), NODE_OUTSIDE_V6);
      assert.equal(seenFrom(b.pod, OUTSIDE_V4), NODE_OUTSIDE_V4);
      assert.equal(seenFrom(a.pod, b.v4), a.v4, 'pod to pod keeps its source');
      assert.equal(seenFrom(a.pod, b.v6), a.v6);
      assert.equal(seenFrom(plain.pod, OUTSIDE_V4), plain.v4, 'a pod of a config without ipMasq is not masqueraded');
      assert.equal(seenFrom(plain.pod, OUTSIDE_V6), plain.v6);

      // Another ADD with the outside listed in ipMasqExclude: the table's excluded destinations follow.
      const excluded = await addPod(node, masqConfig(node, { ipMasqExclude: ['192.0.2.0/24', 'fd00:192::/64'] }));
      assert.equal(seenFrom(excluded.pod, OUTSIDE_V4), excluded.v4, 'an excluded destination sees the pod');
      assert.equal(seenFrom(a.pod, OUTSIDE_V6), a.v6);

      // DEL takes the pod's elements out, and only them.
      assert.equal((await node.del(a.pod, config)).code, 0);
      assert.deepEqual(pods4(node).sort(), [b.v4, excluded.v4].sort());
      assert.deepEqual(pods6(node).sort(), [b.v6, excluded.v6].sort());
    } finally {
      for (const s of servers) await s.stop();
    }
  }));
});

kernelTest('ipMasq: ten pods are ten set elements and one rule per family; DELs empty the sets, the rules stay', async () => {
  await withNode(async (node) => {
    const config = masqConfig(node);
    const added: Added[] = [];
    for (let i = 0; i < 10; i++) added.push(await addPod(node, config));
    assert.deepEqual(nftShape(node), { tables: 1, chains: 1, sets: 4, rules: 2 });
    assert.deepEqual(pods4(node).sort(), added.map((a) => a.v4).sort());
    assert.deepEqual(pods6(node).sort(), added.map((a) => a.v6).sort());
    for (const a of added) assert.equal((await node.del(a.pod, config)).code, 0);
    assert.deepEqual(nftShape(node), { tables: 1, chains: 1, sets: 4, rules: 2 });
    assert.deepEqual([pods4(node), pods6(node)], [[], []]);
  });
});

kernelTest('ipMasq: 8 concurrent ADDs on a cold node leave exactly one table, one chain, four sets and two rules', async () => {
  await withNode(async (node) => {
    const config = masqConfig(node);
    const pods = Array.from({ length: 8 }, () => node.addPod());
    const results = await Promise.all(pods.map((pod) => node.add(pod, config)));
    assert.deepEqual(nftShape(node), { tables: 1, chains: 1, sets: 4, rules: 2 });
    const v4 = results.map((r) => r.ips[0].address.split('/')[0]).sort();
    assert.deepEqual(pods4(node).sort(), v4);
    assert.equal(pods6(node).length, 8);
    const dels = await Promise.all(pods.map((pod) => node.del(pod, config)));
    for (const d of dels) assert.equal(d.code, 0, d.stdout);
    assert.deepEqual([pods4(node), pods6(node)], [[], []]);
    assert.deepEqual(nftShape(node), { tables: 1, chains: 1, sets: 4, rules: 2 });
  });
});

kernelTest('ipMasq: DEL without CNI_NETNS or prevResult, GC, and CHECK work from the record', async () => {
  await withNode(async (node) => {
    // The built-in IPAM: Debian's host-local (v1.1.1) predates GC.
    const config = masqConfig(node, { cniVersion: '1.1.0', ipam: { type: 'sluice', dataDir: node.ipamDir, ranges: [[{ subnet: POD_SUBNET_V4 }], [{ subnet: POD_SUBNET_V6 }]] } });
    const a = await addPod(node, config);
    const b = await addPod(node, config);
    const c = await addPod(node, config);

    const check = await node.run('CHECK', { ...config, prevResult: a.result }, { containerId: a.pod.containerId, netns: a.pod.path });
    assert.equal(check.code, 0, check.stdout);
    node.ip('netns', 'exec', node.name, 'nft', 'delete', 'element', 'inet', TABLE, 'pods4', `{ ${a.v4} }`);
    const broken = await node.run('CHECK', { ...config, prevResult: a.result }, { containerId: a.pod.containerId, netns: a.pod.path });
    assert.equal(broken.code, 1);
    assert.equal(broken.json.msg, `CHECK: masquerade element ${a.v4}/32 is missing from table inet ${TABLE}`);

    // DEL without the namespace and without prevResult: the record says what to remove.
    const del = await node.run('DEL', config, { containerId: b.pod.containerId });
    assert.equal(del.code, 0, del.stdout);
    assert.ok(!pods4(node).includes(b.v4) && !pods6(node).includes(b.v6), 'b\'s elements are gone');
    assert.ok(pods4(node).includes(c.v4));

    // GC: only c is still valid; a's elements (and its veth, lease, record) go.
    const gc = await node.run('GC', { ...config, 'cni.dev/valid-attachments': [{ containerID: c.pod.containerId, ifname: 'eth0' }] }, {});
    assert.equal(gc.code, 0, gc.stdout);
    assert.deepEqual([pods4(node), pods6(node)], [[c.v4], [c.v6]]);
    assert.equal(node.record(a.result.interfaces[0].name), undefined);
  });
});

kernelTest('ipMasq: ADD failing at or after the masquerade step leaves no element; DEL after a crash there removes them', async () => {
  await withNode(async (node) => {
    const config = masqConfig(node);
    const resident = await addPod(node, config);
    const pod = node.addPod();
    const call = { containerId: pod.containerId, netns: pod.path };
    for (const point of ['masquerade', 'masquerade:after', 'forwarding']) {
      const out = await node.run('ADD', config, { ...call, env: { SLUICE_TEST_HOOKS: '1', SLUICE_FAIL_AT_STEP: point } });
      assert.equal(out.code, 1, out.stdout);
      assert.equal(out.json.details, undefined, 'every undo succeeded');
      assert.deepEqual([pods4(node), pods6(node)], [[resident.v4], [resident.v6]], point);
    }
    const crashed = await node.run('ADD', config, { ...call, env: { SLUICE_TEST_HOOKS: '1', SLUICE_FAIL_AT_STEP: 'masquerade:crash' } });
    assert.equal(crashed.code, null, 'the plugin was killed');
    assert.equal(pods4(node).length, 2, 'the crashed ADD left its element');
    assert.equal((await node.run('DEL', config, call)).code, 0);
    assert.deepEqual([pods4(node), pods6(node)], [[resident.v4], [resident.v6]]);
  });
});

kernelTest('ipMasq config: ipMasqExclude and ipMasqTable are checked, and errors name them', async () => {
  await withNode(async (node) => {
    const pod = node.addPod();
    const call = { containerId: pod.containerId, netns: pod.path };
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ ipMasqExclude: ['10.0.0.0/33'] }, '"ipMasqExclude[0]"'],
      [{ ipMasqExclude: ['10.0.0.0/8', '10.1.2.3/16'] }, '"ipMasqExclude[1]" has host bits set'],
      [{ ipMasqExclude: ['fd00::1/64'] }, '"ipMasqExclude[0]" has host bits set'],
      [{ ipMasqExclude: '10.0.0.0/8' }, '"ipMasqExclude" must be a list'],
      [{ ipMasqTable: 'no spaces' }, '"ipMasqTable"'],
      [{ ipMasqTable: 7 }, '"ipMasqTable" must be a string'],
    ];
    for (const [fields, names] of cases) {
      const out = await node.run('ADD', masqConfig(node, fields), call);
      assert.equal(out.code, 1);
      assert.equal(out.json.code, 7, JSON.stringify(fields));
      assert.ok((out.json.msg as string).includes(names), `${out.json.msg} names ${names}`);
    }
    // A table of its own: the pod's elements go there.
    const ok = await node.run('ADD', masqConfig(node, { ipMasqTable: 'pods_masq', ipMasqExclude: ['10.96.0.0/12', 'fd00:10:96::/108'] }), call);
    assert.equal(ok.code, 0, ok.stdout);
    assert.deepEqual(nftElements(node, 'inet', 'pods_masq', 'pods4'), [ok.json.ips[0].address.split('/')[0]]);
    assert.deepEqual(nftElements(node, 'inet', 'pods_masq', 'nomasq4'), [{ prefix: { addr: '10.96.0.0', len: 12 } }, { prefix: { addr: '224.0.0.0', len: 4 } }]);
  });
});
