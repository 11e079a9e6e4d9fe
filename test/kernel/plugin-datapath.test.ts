// The plugin end to end on a simulated node: three dual-stack pods added by the sluice binary reach
// each other by ICMP and TCP over IPv4 and IPv6 through the program's redirect (the node does not
// forward during the test, and the destination's ingress counter moves only on a redirect), and the
// node reaches each of them.
import assert from 'node:assert/strict';
import { Datapath } from '../../src/bpf/datapath.js';
import { PING_FRAME_V4, PING_FRAME_V6, bpfTest, ping, tcpClient, tcpServer } from '../support/bpf.js';
import { NETWORK, NODE_V4, nothingLeftAfterAll, type Pod, type SimNode, UPLINK_MTU, withNode } from '../support/plugin.js';

nothingLeftAfterAll();

interface Added {
  pod: Pod;
  hostVeth: string;
  v4: string;
  v6: string;
  id: number;
}

async function addPods(node: SimNode, count: number): Promise<Added[]> {
  const config = node.config({ ipv4: true, ipv6: true });
  const added: Added[] = [];
  for (let i = 0; i < count; i++) {
    const pod = node.addPod();
    const result = await node.add(pod, config);
    const hostVeth = result.interfaces[0].name as string;
    const [v4, v6] = (result.ips as { address: string }[]).map((ip) => ip.address.split('/')[0]!);
    added.push({ pod, hostVeth, v4: v4!, v6: v6!, id: node.record(hostVeth).id });
  }
  return added;
}

const PINGS = 3;

bpfTest('three pods reach each other over IPv4 and IPv6 by redirect, and the node reaches them', 240_000, async () => {
  await withNode(async (node) => {
    const pods = await addPods(node, 3);

    // What ADD made, as the result says.
    const [first] = pods;
    const link = first!.pod.ipJson<{ mtu: number; address: string; operstate: string }[]>('link', 'show', 'eth0')[0]!;
    assert.equal(link.mtu, UPLINK_MTU, "the pod's MTU defaults to the uplink's");
    assert.deepEqual(first!.pod.ipJson<{ dst: string; gateway: string; flags: string[] }[]>('-4', 'route', 'show').map((r) => [r.dst, r.gateway, r.flags]), [['default', '169.254.1.1', ['onlink']]]);
    assert.equal(node.sysctl('net.ipv4.ip_forward'), '1', 'ADD turned IPv4 forwarding on');
    assert.equal(node.sysctl('net.ipv6.conf.all.forwarding'), '1', 'ADD turned IPv6 forwarding on');

    // The host veth answers nothing of its own: no address, no ARP replies, not even for the node's
    // addresses (a pod that ARPs for the node, bypassing its gateway entry, gets no answer).
    const hostVeth = first!.hostVeth;
    assert.deepEqual(node.ipJson<{ addr_info: unknown[] }[]>('addr', 'show', 'dev', hostVeth)[0]!.addr_info, [], 'the host veth holds no address, not even IPv6 link-local');
    assert.equal(node.sysctl(`net.ipv4.conf.${hostVeth}.arp_ignore`), '8');
    first!.pod.ip('route', 'add', `${NODE_V4}/32`, 'dev', 'eth0');
    assert.equal(await ping(first!.pod.ns, NODE_V4, { count: 1, waitMs: 1500 }), 0, 'no ARP answer from the host veth');
    first!.pod.ip('route', 'del', `${NODE_V4}/32`, 'dev', 'eth0');
    assert.equal(await ping(first!.pod.ns, NODE_V4, { count: 1 }), 1, 'through the gateway the node answers');

    // From here on the node forwards nothing: pod-to-pod traffic can only flow by the redirect.
    node.sysctl('net.ipv4.ip_forward', '0');
    node.sysctl('net.ipv6.conf.all.forwarding', '0');

    const dp = await Datapath.open({ pinRoot: node.pinRoot, netns: node.ns });
    try {
      assert.equal(dp.attachMode ?? 'tcx', 'tcx');
      for (const src of pods) {
        for (const dst of pods) {
          if (src === dst) continue;
          for (const [address, frame] of [[dst.v4, PING_FRAME_V4], [dst.v6, PING_FRAME_V6]] as const) {
            const before = dp.counters(dst.id).ingress;
            assert.equal(await ping(src.pod.ns, address, { count: PINGS }), PINGS, `${src.pod.name} -> ${address}`);
            const now = dp.counters(dst.id).ingress;
            assert.equal(now.packets - before.packets, BigInt(PINGS), `the echo requests to ${address} entered its pod by redirect`);
            assert.equal(now.bytes - before.bytes, BigInt(PINGS * frame));
          }
        }
      }

      // TCP, both families, a fixed amount delivered whole.
      const [a, b, c] = pods as [Added, Added, Added];
      const size = 4 * 1024 * 1024;
      let port = 5301;
      for (const [from, to, address] of [[a, b, b.v4], [c, a, a.v6], [b, c, c.v6]] as const) {
        const before = dp.counters(to.id).ingress.bytes;
        const server = await tcpServer(to.pod, address, port);
        const client = tcpClient(from.pod, address, port, size);
        assert.equal(await client.line(), 'connected');
        assert.deepEqual(JSON.parse(await client.line()), { sent: size });
        assert.deepEqual(JSON.parse(await server.line()), { received: size });
        assert.equal((await client.exit()).code, 0);
        assert.equal((await server.exit()).code, 0);
        assert.ok(dp.counters(to.id).ingress.bytes - before > BigInt(size), `the stream to ${address} went through the redirect`);
        port++;
      }
      for (const p of pods) assert.equal(dp.counters(p.id).egress.drops, 0n, `nothing from ${p.pod.name} was dropped`);

      // The node reaches every pod (its own traffic needs no forwarding), and not by redirect.
      for (const p of pods) {
        const before = dp.counters(p.id).ingress.packets;
        assert.equal(await ping(node.ns, p.v4, { count: 2 }), 2, `node -> ${p.v4}`);
        assert.equal(await ping(node.ns, p.v6, { count: 2 }), 2, `node -> ${p.v6}`);
        assert.equal(dp.counters(p.id).ingress.packets, before, 'traffic from the node is not redirected');
      }
      const server = await tcpServer(c.pod, c.v4, port);
      const client = tcpClient(node, c.v4, port, size);
      assert.equal(await client.line(), 'connected');
      assert.deepEqual(JSON.parse(await client.line()), { sent: size });
      assert.deepEqual(JSON.parse(await server.line()), { received: size });
      assert.equal((await client.exit()).code, 0);
      assert.equal((await server.exit()).code, 0);
    } finally {
      dp.close();
    }

    const config = node.config({ ipv4: true, ipv6: true });
    for (const p of pods) assert.equal((await node.del(p.pod, config)).code, 0);
    assert.deepEqual(node.ipJson('link', 'show').map((l: { ifname: string }) => l.ifname), ['lo', 'up1', 'up0'], 'every host veth is gone');
    assert.deepEqual(Object.keys(node.snapshot().ipam).filter((f) => f.startsWith(`${NETWORK}/`) && !/last_reserved_ip|lock/.test(f)), [], 'every lease is released');
  });
});
