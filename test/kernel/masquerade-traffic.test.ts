// Real traffic through the masquerade ruleset. Four namespaces of the test's own:
//
//   pod (10.244.1.2, fd00:10:244:1::2) ──veth── node ──veth── outside (192.0.2.2, fd00:192::2 and,
//   pod2 (10.244.1.3, fd00:10:244:1::3) ──veth──┘               listed in nomasq, 198.51.100.2 and 2001:db8:100::2)
//
// The pods are wired as sluice wires them (a /32 and /128, a default route via a link-local gateway
// whose neighbour entry is permanent, a host route per pod on the node), with plain routing on the node.
// The outside has routes back to the pods, so an unmasqueraded connection works too: a small TCP server
// in the outside (and in pod2) answers every connection with the address it came from.
import assert from 'node:assert/strict';
import { after } from 'node:test';
import { Masquerade } from '../../src/datapath/masquerade.js';
import { echoServer, inNs, seenFrom } from '../support/bridge.js';
import { isRoot, kernelTest, leftoverNamespaces, uniqueName, withNamespace, type TestNamespace } from '../support/kernel.js';

after(() => {
  if (isRoot) assert.deepEqual(leftoverNamespaces(), [], 'no test namespace is left behind');
});

/** Wires a pod as sluice does: eth0 with a /32 and a /128, a permanent neighbour for the link-local gateway. */
function wirePod(node: TestNamespace, pod: TestNamespace, hostIf: string, v4: string, v6: string): void {
  pod.ip('link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', hostIf, 'netns', node.name);
  node.ip('link', 'set', hostIf, 'up');
  const mac = node.ipJson<Array<{ address: string }>>('link', 'show', hostIf)[0]!.address;
  pod.ipBatch([
    'link set lo up',
    'link set eth0 up',
    `address add ${v4}/32 dev eth0`,
    `address add ${v6}/128 dev eth0 nodad`,
    'route add 169.254.1.1 dev eth0 scope link',
    'route add default via 169.254.1.1 dev eth0',
    `neigh add 169.254.1.1 lladdr ${mac} dev eth0 nud permanent`,
    'route add default via fe80::1 dev eth0',
    `neigh add fe80::1 lladdr ${mac} dev eth0 nud permanent`,
  ]);
  node.ipBatch([`route add ${v4}/32 dev ${hostIf}`, `route add ${v6}/128 dev ${hostIf}`]);
}

kernelTest('masquerade: pods reach the outside with the node\'s address, nomasq destinations and other pods see the pod\'s own', async () => {
  await withNamespace((node) => withNamespace((pod) => withNamespace((pod2) => withNamespace(async (outside) => {
    node.ip('link', 'add', 'vout', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', outside.name);
    node.ipBatch(['link set lo up', 'link set vout up', 'address add 192.0.2.1/24 dev vout', 'address add fd00:192::1/64 dev vout nodad']);
    inNs(node, 'sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1');
    outside.ipBatch([
      'link set lo up',
      'link set eth0 up',
      'address add 192.0.2.2/24 dev eth0',
      'address add 198.51.100.2/24 dev eth0',
      'address add fd00:192::2/64 dev eth0 nodad',
      'address add 2001:db8:100::2/64 dev eth0 nodad',
      'route add 10.244.0.0/16 via 192.0.2.1',
      'route add fd00:10:244::/48 via fd00:192::1',
    ]);
    node.ipBatch(['route add 198.51.100.0/24 via 192.0.2.2', 'route add 2001:db8:100::/64 via fd00:192::2']);
    wirePod(node, pod, 'vpod1', '10.244.1.2', 'fd00:10:244:1::2');
    wirePod(node, pod2, 'vpod2', '10.244.1.3', 'fd00:10:244:1::3');

    let outsideServer: { stop(): Promise<void> } | undefined;
    let pod2Server: { stop(): Promise<void> } | undefined;
    const table = uniqueName('slm');
    // The pod CIDR is deliberately not in nomasq: pod-to-pod traffic is spared by the rule itself.
    const m = new Masquerade({ netns: node.ns, table, nomasq: ['198.51.100.0/24', '2001:db8:100::/64'] });
    try {
      outsideServer = await echoServer(outside);
      pod2Server = await echoServer(pod2);
      m.ensure();
      // Before addPod: plain routing, the outside sees the pod.
      assert.equal(seenFrom(pod, '192.0.2.2'), '10.244.1.2');

      m.addPod(['10.244.1.2', 'fd00:10:244:1::2', '10.244.1.3', 'fd00:10:244:1::3']);
      assert.equal(seenFrom(pod, '192.0.2.2'), '192.0.2.1', 'masqueraded to the node\'s address on the way out');
      assert.equal(seenFrom(pod, 'fd00:192::2'), 'fd00:192::1');
      assert.equal(seenFrom(pod2, '192.0.2.2'), '192.0.2.1');
      assert.equal(seenFrom(pod, '198.51.100.2'), '10.244.1.2', 'a nomasq destination sees the pod');
      assert.equal(seenFrom(pod, '2001:db8:100::2'), 'fd00:10:244:1::2');
      assert.equal(seenFrom(pod, '10.244.1.3'), '10.244.1.2', 'pod to pod keeps its source');
      assert.equal(seenFrom(pod, 'fd00:10:244:1::3'), 'fd00:10:244:1::2');

      m.removePod(['10.244.1.2', 'fd00:10:244:1::2']);
      assert.equal(seenFrom(pod, '192.0.2.2'), '10.244.1.2', 'removed: no longer masqueraded');
      assert.equal(seenFrom(pod, 'fd00:192::2'), 'fd00:10:244:1::2');
      assert.equal(seenFrom(pod2, '192.0.2.2'), '192.0.2.1', 'the other pod still is');

      m.uninstall();
      assert.equal(inNs(node, 'nft', 'list', 'ruleset'), '');
      assert.equal(seenFrom(pod2, '192.0.2.2'), '10.244.1.3');
    } finally {
      m.close();
      await outsideServer?.stop();
      await pod2Server?.stop();
    }
  }))));
});
