// ADD, DEL and CHECK of the plugin binary on a simulated node: DEL leaves nothing behind and succeeds
// again, without CNI_NETNS and after the namespace is gone; CHECK passes on a fresh attachment and names
// what was broken (a route, the program's link, the pod's default route, a map entry); ADD refuses an
// interface that already exists.
import assert from 'node:assert/strict';
import { maps } from '../../src/bpf/layout.js';
import { BpfMap } from '../../src/bpf/maps.js';
import { closeFd, linkDetach, objGet } from '../../src/bpf/syscall.js';
import { pinnedLink } from '../../src/datapath/pinned.js';
import { kernelTest } from '../support/kernel.js';
import { eventually, ping } from '../support/bpf.js';
import { type NodeSnapshot, nothingLeftAfterAll, type SimNode, withNode } from '../support/plugin.js';

nothingLeftAfterAll();

/** The node as a pod's ADD + DEL must leave it: the IPAM's round-robin cursor (last_reserved_ip.*) aside. */
function comparable(s: NodeSnapshot): NodeSnapshot {
  return { ...s, ipam: Object.fromEntries(Object.entries(s.ipam).filter(([f]) => !/last_reserved_ip/.test(f))) };
}

/** A node whose data path is loaded already (one pod added and deleted), so pins exist before a test. */
async function warm(node: SimNode, config: Record<string, unknown>): Promise<void> {
  const pod = node.addPod();
  await node.add(pod, config);
  assert.equal((await node.del(pod, config)).code, 0);
  node.removePod(pod);
}

kernelTest('DEL leaves no veth, route, neighbour, map entry, link or lease behind, and succeeds twice', async () => {
  await withNode(async (node) => {
    const config = node.config({ ipv4: true, ipv6: true });
    await warm(node, config);
    const resident = node.addPod();
    await node.add(resident, config);
    await node.settled(resident);
    const pod = node.addPod();
    const before = comparable(node.snapshot());

    const result = await node.add(pod, config);
    const hostVeth = result.interfaces[0].name as string;
    const during = node.snapshot();
    assert.ok((during.pins as string[]).includes(`links/${hostVeth}-ingress`), 'ADD pinned a link');
    assert.equal(pinnedLink(node.pinPaths(), hostVeth, 'ingress')?.tcx?.ifindex, node.ipJson<{ ifindex: number }[]>('link', 'show', hostVeth)[0]!.ifindex, 'a TCX link on the host veth');
    assert.equal(during.maps.endpoints_v4!.length, 2, 'both pods have an IPv4 entry');
    assert.ok(node.record(hostVeth), 'ADD kept a record');

    const del = await node.del(pod, config);
    assert.equal(del.code, 0, del.stdout);
    assert.equal(del.stdout, '', 'a successful DEL prints nothing');
    assert.deepEqual(comparable(node.snapshot()), before, 'the node and the pods are exactly as before the ADD');

    const again = await node.del(pod, config);
    assert.equal(again.code, 0, again.stdout);
    assert.deepEqual(comparable(node.snapshot()), before, 'a second DEL changes nothing');
  });
});

kernelTest('DEL without CNI_NETNS, and after the namespace was deleted, still cleans the node', async () => {
  await withNode(async (node) => {
    const config = node.config({ ipv4: true, ipv6: true });
    await warm(node, config);
    const before = comparable(node.snapshot());

    const pod = node.addPod();
    await node.add(pod, config);
    const noNetns = await node.del(pod, config, { netns: undefined });
    assert.equal(noNetns.code, 0, noNetns.stdout);
    assert.deepEqual(pod.ipJson('link', 'show').map((l: { ifname: string }) => l.ifname), ['lo'], "the pod's interface went with the host veth");
    node.removePod(pod);
    assert.deepEqual(comparable(node.snapshot()), before, 'DEL without CNI_NETNS removed everything');

    const gone = node.addPod();
    const result = await node.add(gone, config);
    const hostVeth = result.interfaces[0].name as string;
    const path = gone.path;
    node.removePod(gone);
    const afterGone = await node.run('DEL', config, { containerId: gone.containerId, netns: path });
    assert.equal(afterGone.code, 0, afterGone.stdout);
    await eventually(`${hostVeth} is gone`, () => !node.ipJson('link', 'show').some((l: { ifname: string }) => l.ifname === hostVeth));
    assert.deepEqual(comparable(node.snapshot()), before, 'DEL after the namespace was deleted removed everything');
  });
});

async function check(node: SimNode, pod: { containerId: string; path: string }, config: Record<string, unknown>, prevResult: unknown) {
  return node.run('CHECK', { ...config, prevResult }, { containerId: pod.containerId, netns: pod.path });
}

kernelTest('CHECK passes on a fresh attachment and names what was broken', async () => {
  await withNode(async (node) => {
    const config = node.config({ ipv4: true, ipv6: true });
    const pod = node.addPod();
    const result = await node.add(pod, config);
    const hostVeth = result.interfaces[0].name as string;
    const [v4, v6] = (result.ips as { address: string }[]).map((ip) => ip.address.split('/')[0]!);

    const ok = await check(node, pod, config, result);
    assert.equal(ok.code, 0, ok.stdout);
    assert.equal(ok.stdout, '');

    // A host route deleted.
    node.ip('route', 'del', `${v4}/32`, 'dev', hostVeth);
    let out = await check(node, pod, config, result);
    assert.equal(out.code, 1);
    assert.equal(out.json.msg, `CHECK: route ${v4}/32 dev ${hostVeth} is missing on the node`);
    node.ip('route', 'add', `${v4}/32`, 'dev', hostVeth);
    assert.equal((await check(node, pod, config, result)).code, 0, 'repaired');

    // The program detached: its TCX link cut from the device, then unpinned.
    const pin = node.pinPaths().link(hostVeth, 'ingress');
    const fd = objGet(pin);
    try {
      linkDetach(fd);
    } finally {
      closeFd(fd);
    }
    out = await check(node, pod, config, result);
    assert.equal(out.code, 1);
    assert.match(out.json.msg, new RegExp(`^CHECK: program pod_egress on ${hostVeth} ingress is detached \\(its TCX link \\d+ no longer has a device\\)$`));
    node.ip('link', 'show', hostVeth); // the device itself is still there
    const { rmSync } = await import('node:fs');
    rmSync(pin);
    out = await check(node, pod, config, result);
    assert.match(out.json.msg, new RegExp(`^CHECK: program pod_egress on ${hostVeth} ingress is not attached \\(no TCX link pinned at ${pin}, no cls_bpf filter\\)$`));

    // Several things at once: each is named.
    pod.ip('-6', 'route', 'del', 'default');
    const v6Map = new BpfMap(maps.endpointsV6, objGet(`${node.pinPaths().maps}/${maps.endpointsV6.name}`));
    try {
      v6Map.delete(v6!);
    } finally {
      v6Map.close();
    }
    out = await check(node, pod, config, result);
    assert.equal(out.code, 1);
    assert.match(out.json.msg, /^CHECK: 3 differences, first: /);
    const details = (out.json.details as string).split('; ');
    assert.deepEqual(details.sort(), [
      `endpoint map entry for ${v6} is missing`,
      `program pod_egress on ${hostVeth} ingress is not attached (no TCX link pinned at ${pin}, no cls_bpf filter)`,
      'route ::/0 via fe80::1 dev eth0 is missing in the pod',
    ]);

    // DEL still cleans it all up.
    assert.equal((await node.del(pod, config)).code, 0);
    assert.deepEqual(node.snapshot().maps, { endpoints_v4: [], endpoints_v6: [], devices: [] });
  });
});

kernelTest('ADD refuses an interface that already exists in the pod, and leaves nothing behind', async () => {
  await withNode(async (node) => {
    const config = node.config();
    await warm(node, config);
    const pod = node.addPod();
    pod.ip('link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0peer');
    const before = comparable(node.snapshot());
    const out = await node.run('ADD', config, { containerId: pod.containerId, netns: pod.path });
    assert.equal(out.code, 1);
    // The veth's creation finds the name taken; the IPAM allocated meanwhile: its lease is given back.
    assert.equal(out.json.msg, `ADD failed at step "veth": interface eth0 already exists in ${pod.path}`);
    assert.deepEqual(comparable(node.snapshot()), before);

    // A second ADD of an attachment that exists is refused by its host veth, before IPAM is asked.
    const other = node.addPod();
    await node.add(other, config);
    await node.settled(other);
    const snapshot = comparable(node.snapshot());
    const twice = await node.run('ADD', config, { containerId: other.containerId, netns: other.path });
    assert.equal(twice.code, 1);
    assert.match(twice.json.msg, /^ADD failed at step "preflight": host veth \S+ of container \S+ interface eth0 already exists on the node/);
    assert.deepEqual(comparable(node.snapshot()), snapshot);
  });
});

kernelTest('ADDs and DELs of different pods run concurrently on a cold node', async () => {
  await withNode(async (node) => {
    const config = node.config({ ipv4: true, ipv6: true });
    const pods = Array.from({ length: 8 }, () => node.addPod());
    // Forwarding on already (IPv6 forwarding adds the subnet-router anycast routes): what ADD turns on
    // for good is not what this test looks at.
    node.sysctl('net.ipv4.ip_forward', '1');
    node.sysctl('net.ipv6.conf.all.forwarding', '1');
    const before = comparable(node.snapshot());
    // The data path is not loaded yet: the first ADDs race to load and pin it.
    const results = await Promise.all(pods.map((pod) => node.add(pod, config)));
    const records = results.map((r) => node.record(r.interfaces[0].name));
    assert.equal(new Set(records.map((r) => r.id)).size, pods.length, 'every endpoint has its own counter id');
    assert.equal(new Set(results.map((r) => r.ips[0].address)).size, pods.length, 'and its own address');
    assert.equal(node.snapshot().maps.devices!.length, pods.length);
    const last = results.at(-1).ips[0].address.split('/')[0];
    assert.equal(await ping(pods[0]!.ns, last, { count: 1 }), 1);

    const dels = await Promise.all(pods.map((pod) => node.del(pod, config)));
    for (const d of dels) assert.equal(d.code, 0, d.stdout);
    // On a cold node ADD also made what stays for good: pins of the program and maps, the IPAM's lock
    // and cursor, the state directories, forwarding on. The rest is as before.
    const afterDel = node.snapshot();
    const { links, addresses, routes, neighbours, pods: podState } = afterDel;
    assert.deepEqual({ links, addresses, routes, neighbours, pods: podState }, { links: before.links, addresses: before.addresses, routes: before.routes, neighbours: before.neighbours, pods: before.pods });
    assert.deepEqual(afterDel.maps, { endpoints_v4: [], endpoints_v6: [], devices: [] });
    assert.deepEqual(afterDel.pins.filter((p) => p.startsWith('links/')), ['links/']);
    assert.deepEqual(Object.keys(afterDel.ipam).filter((f) => !/last_reserved_ip|lock/.test(f)), [], 'no lease');
    assert.deepEqual(afterDel.state, ['ebpf/', 'ebpf/endpoints/', 'ebpf/ids/'], 'no record, no id');
  });
});
