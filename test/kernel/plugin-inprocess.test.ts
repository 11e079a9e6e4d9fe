// The ebpf driver run in-process (as the agent will run it) against a simulated node given as
// `nodeNetns`, with an IPAM of the test's own: GC removes the attachments the runtime no longer lists
// and hands the list to the IPAM; STATUS; single-stack pods with a requested MAC and a configured MTU.
// (Debian's host-local, v1.1.1, refuses configs in 1.1.0, the only version with GC and STATUS.)
import assert from 'node:assert/strict';
import { runCni } from '../../src/cni/dispatch.js';
import type { Attachment, Ipam, IpamGcRequest, IpamRequest, IpamResult } from '../../src/ipam/types.js';
import { EbpfDriver } from '../../src/datapath/ebpf.js';
import { kernelTest } from '../support/kernel.js';
import { ping } from '../support/bpf.js';
import { nothingLeftAfterAll, type Pod, type SimNode, withNode } from '../support/plugin.js';

nothingLeftAfterAll();

/** Hands out 10.252.0.10, .11, ... (and fd00:252::10, ... when asked for IPv6) and remembers the calls. */
class FakeIpam implements Ipam {
  next = 10;
  leases = new Map<string, string[]>();
  gcCalls: Attachment[][] = [];
  constructor(private readonly families: (4 | 6)[]) {}
  async add(req: IpamRequest): Promise<IpamResult> {
    const n = this.next++;
    const ips = this.families.map((f) => ({ address: f === 4 ? `10.252.0.${n}/24` : `fd00:252::${n.toString(16)}/64` }));
    this.leases.set(`${req.containerID}/${req.ifname}`, ips.map((i) => i.address));
    return { ips, routes: [{ dst: '10.200.0.0/16' }], dns: { nameservers: ['10.252.0.53'] } };
  }
  async del(req: IpamRequest): Promise<void> {
    this.leases.delete(`${req.containerID}/${req.ifname}`);
  }
  async check(): Promise<void> {}
  async gc(req: IpamGcRequest): Promise<void> {
    this.gcCalls.push(req.validAttachments);
    const valid = new Set(req.validAttachments.map((a) => `${a.containerID}/${a.ifname}`));
    for (const key of [...this.leases.keys()]) if (!valid.has(key)) this.leases.delete(key);
  }
  async status() {
    return { ok: true };
  }
}

function call(node: SimNode, driver: EbpfDriver, ipam: Ipam, command: string, config: Record<string, unknown>, pod?: Pod, extra: Record<string, string> = {}) {
  const env: Record<string, string> = { CNI_COMMAND: command, CNI_PATH: '/usr/lib/cni', ...extra };
  if (pod) Object.assign(env, { CNI_CONTAINERID: pod.containerId, CNI_NETNS: pod.path, CNI_IFNAME: 'eth0' });
  return runCni(env, JSON.stringify(config), driver, { ipamFor: () => ipam });
}

kernelTest('GC removes what the runtime no longer lists and passes the list to the IPAM', async () => {
  await withNode(async (node) => {
    const ipam = new FakeIpam([4]);
    const driver = new EbpfDriver({ nodeNetns: node.ns });
    const config = node.config({ cniVersion: '1.1.0' });
    const pods = [node.addPod(), node.addPod(), node.addPod()];
    const results = [];
    for (const pod of pods) {
      const out = await call(node, driver, ipam, 'ADD', config, pod);
      assert.equal(out.exitCode, 0, out.stdout);
      results.push(JSON.parse(out.stdout));
    }
    const [keep, drop1, drop2] = pods as [Pod, Pod, Pod];
    assert.deepEqual(results[0].dns, { nameservers: ['10.252.0.53'] }, "the IPAM's dns");
    assert.deepEqual(keep.ipJson<{ dst: string; gateway: string }[]>('-4', 'route', 'show').map((r) => [r.dst, r.gateway]), [['default', '169.254.1.1'], ['10.200.0.0/16', '169.254.1.1']], "the IPAM's route, via the gateway");

    const valid = [{ containerID: keep.containerId, ifname: 'eth0' }];
    const gc = await call(node, driver, ipam, 'GC', { ...config, 'cni.dev/valid-attachments': valid });
    assert.equal(gc.exitCode, 0, gc.stdout);
    assert.deepEqual(ipam.gcCalls, [valid]);
    assert.deepEqual([...ipam.leases.keys()], [`${keep.containerId}/eth0`]);
    for (const [pod, result] of [[drop1, results[1]], [drop2, results[2]]] as const) {
      assert.deepEqual(pod.ipJson('link', 'show').map((l: { ifname: string }) => l.ifname), ['lo'], `${pod.name} lost its interface`);
      assert.equal(node.record(result.interfaces[0].name), undefined);
    }
    const snapshot = node.snapshot();
    assert.deepEqual(snapshot.maps.endpoints_v4, ['10.252.0.10']);
    assert.deepEqual(snapshot.pins.filter((p) => p.startsWith('links/') && p !== 'links/'), [`links/${results[0].interfaces[0].name}-ingress`]);

    const check = await call(node, driver, ipam, 'CHECK', { ...config, prevResult: results[0] }, keep);
    assert.equal(check.exitCode, 0, check.stdout);
    assert.equal((await call(node, driver, ipam, 'STATUS', config)).exitCode, 0);
    const broken = await runCni({ CNI_COMMAND: 'STATUS' }, JSON.stringify(config), new EbpfDriver({ nodeNetns: node.ns, objectPath: '/nonexistent/pod_egress.bpf.o' }), { ipamFor: () => ipam });
    assert.equal(JSON.parse(broken.stdout).code, 50);
  });
});

kernelTest('single-stack pods: IPv6 only and IPv4 only, with a requested MAC and a configured MTU', async () => {
  await withNode(async (node) => {
    const driver = new EbpfDriver({ nodeNetns: node.ns });
    const v6 = new FakeIpam([6]);
    const config = node.config({ cniVersion: '1.1.0', overrides: { mtu: 1300 } });
    const [a, b] = [node.addPod(), node.addPod()];
    const mac = '02:aa:bb:cc:dd:01';
    const outA = await call(node, driver, v6, 'ADD', config, a, { CNI_ARGS: `MAC=${mac}` });
    assert.equal(outA.exitCode, 0, outA.stdout);
    const outB = await call(node, driver, v6, 'ADD', config, b);
    assert.equal(outB.exitCode, 0, outB.stdout);
    const [ra, rb] = [JSON.parse(outA.stdout), JSON.parse(outB.stdout)];
    assert.deepEqual(ra.ips, [{ address: 'fd00:252::a/128', gateway: 'fe80::1', interface: 1 }]);
    assert.deepEqual(ra.routes, [{ dst: '::/0', gw: 'fe80::1' }], 'no IPv4 route for an IPv6-only pod (the IPAM\'s IPv4 route is left out)');
    const link = a.ipJson<{ address: string; mtu: number }[]>('link', 'show', 'eth0')[0]!;
    assert.equal(link.address, mac);
    assert.equal(link.mtu, 1300);
    assert.equal(ra.interfaces[1].mac, mac);
    // Without a requested MAC the result still names both ends' real MACs (picked at the creation, not looked up).
    assert.equal(rb.interfaces[1].mac, b.ipJson<{ address: string }[]>('link', 'show', 'eth0')[0]!.address);
    assert.equal(rb.interfaces[0].mac, node.ipJson<{ address: string }[]>('link', 'show', rb.interfaces[0].name)[0]!.address);
    // One queue each way at both ends from the creation (the kernel would allocate one per possible CPU, then cut them down).
    for (const [ns, name] of [[b, 'eth0'], [node, rb.interfaces[0].name]] as const) {
      const details = ns.ipJson<{ num_tx_queues: number; num_rx_queues: number }[]>('-d', 'link', 'show', name)[0]!;
      assert.deepEqual([details.num_tx_queues, details.num_rx_queues], [1, 1], `queues of ${name}`);
    }
    assert.deepEqual(a.ipJson('-4', 'route', 'show'), []);
    assert.equal(await ping(a.ns, 'fd00:252::b', { count: 2 }), 2);

    const v4 = new FakeIpam([4]);
    v4.next = 30;
    const c = node.addPod();
    const outC = await call(node, driver, v4, 'ADD', { ...config, name: 'sluice-v4' }, c);
    assert.equal(outC.exitCode, 0, outC.stdout);
    assert.deepEqual(JSON.parse(outC.stdout).ips, [{ address: '10.252.0.30/32', gateway: '169.254.1.1', interface: 1 }]);
    assert.equal(await ping(node.ns, '10.252.0.30', { count: 1 }), 1);

    for (const [pod, ipam, cfg] of [[a, v6, config], [b, v6, config], [c, v4, { ...config, name: 'sluice-v4' }]] as const) {
      const del = await call(node, driver, ipam, 'DEL', cfg, pod);
      assert.equal(del.exitCode, 0, del.stdout);
    }
    assert.deepEqual(node.snapshot().maps, { endpoints_v4: [], endpoints_v6: [], devices: [] });
  });
});
