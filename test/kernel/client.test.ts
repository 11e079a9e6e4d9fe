// Every client verb, checked against what `ip -j` (and `bridge`, `tc`) then shows, each test inside
// namespaces of its own. Every message the kernel sent during a test must re-encode to its own bytes.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { AsyncClient, SyncClient, AF_INET, AF_INET6 } from '../../src/netlink/client.js';
import { encodeAny, type AnyMessage } from '../../src/netlink/message.js';
import { rtnetlink, IN6_ADDR_GEN_MODE, IPV4_DEVCONF, NTF, NUD } from '../../src/netlink/rtnetlink/index.js';
import { readSysctl } from '../../src/datapath/sysctl.js';
import { rawOf } from '../../src/netlink/socket.js';
import { NetlinkError } from '../../src/netlink/errors.js';
import * as libc from '../../src/sys/libc.js';
import { kernelTest, withNamespace, type TestNamespace } from '../support/kernel.js';
import { loadPassProgram } from '../support/tc-program.js';

type IpLink = { ifname: string; ifindex: number; mtu: number; address: string; flags: string[]; master?: string; operstate: string;
  linkinfo?: { info_kind: string; info_data?: Record<string, unknown>; info_slave_kind?: string } };

/** Runs fn with a client on a socket inside a fresh namespace; afterwards checks every reply round-trips. */
async function withClient(fn: (c: SyncClient, n: TestNamespace) => void | Promise<void>): Promise<void> {
  await withNamespace(async (n) => {
    const client = SyncClient.open({ netns: n.ns });
    try {
      await fn(client, n);
    } finally {
      client.close();
    }
  });
}

function assertRoundTrip(messages: AnyMessage[]): void {
  for (const m of messages) {
    const raw = rawOf(m);
    assert.ok(raw, 'the socket keeps the raw bytes of every reply');
    assert.deepEqual(encodeAny(rtnetlink, m), raw, `${m.kind} message re-encodes to the kernel's bytes`);
  }
}

const link = (n: TestNamespace, name: string) => n.ipJson<IpLink[]>('-d', 'link', 'show', 'dev', name)[0]!;

kernelTest('links: veth with its peer created in another namespace, up, MTU, MAC, master, rename, move, delete', async () => {
  await withClient(async (c, n) => {
    await withNamespace((pod) => {
      c.linkAdd({ name: 'h0', kind: 'veth', mtu: 1400, address: '02:00:00:00:00:01', peer: { name: 'eth0', netnsFd: pod.ns.fd, address: '02:00:00:00:00:02', mtu: 1400 } });
      const host = link(n, 'h0');
      assert.equal(host.linkinfo?.info_kind, 'veth');
      assert.equal(host.mtu, 1400);
      assert.equal(host.address, '02:00:00:00:00:01');
      const peer = link(pod, 'eth0');
      assert.equal(peer.address, '02:00:00:00:00:02');
      assert.equal(peer.mtu, 1400);

      c.linkSet('h0', { up: true, mtu: 1300, address: '02:00:00:00:00:0a' });
      const changed = link(n, 'h0');
      assert.ok(changed.flags.includes('UP'));
      assert.equal(changed.mtu, 1300);
      assert.equal(changed.address, '02:00:00:00:00:0a');
      c.linkSet('h0', { up: false });
      assert.ok(!link(n, 'h0').flags.includes('UP'));

      c.linkAdd({ name: 'br0', kind: 'bridge', up: true });
      const br = c.linkGet('br0')!;
      c.linkSet('h0', { master: br.ifinfo.index });
      assert.equal(link(n, 'h0').master, 'br0');
      c.linkSet('h0', { master: 0 });
      assert.equal(link(n, 'h0').master, undefined);

      const h0 = c.linkGet('h0')!;
      assert.equal(c.linkGet(h0.ifinfo.index)!.attrs.ifname, 'h0');
      c.linkSet(h0.ifinfo.index, { name: 'h1' });
      assert.equal(c.linkGet('h0'), undefined);
      assert.equal(c.linkGet('h1')!.ifinfo.index, h0.ifinfo.index);

      const listed = c.linkList();
      assert.deepEqual(listed.map((l) => l.attrs.ifname).sort(), n.ipJson<IpLink[]>('link').map((l) => l.ifname).sort());
      assertRoundTrip(listed);

      c.linkAdd({ name: 'm0', kind: 'veth', peer: { name: 'm1' } });
      c.linkSet('m0', { netnsFd: pod.ns.fd });
      assert.equal(c.linkGet('m0'), undefined);
      assert.equal(link(pod, 'm0').linkinfo?.info_kind, 'veth');
      // Bridges are netns-local: the kernel's reason comes back in the error.
      assert.throws(() => c.linkSet('br0', { netnsFd: pod.ns.fd }), (e: unknown) => e instanceof NetlinkError && e.code === 'EINVAL' && /netns is immutable/.test(e.message));

      c.linkDelete('h1');
      assert.equal(c.linkGet('h1'), undefined);
      assert.equal(c.linkDeleteIfExists('h1'), false);
      assert.deepEqual(pod.ipJson<IpLink[]>('link').map((l) => l.ifname).sort(), ['lo', 'm0'], 'the peer went with the veth');
      assert.throws(() => c.linkDelete('h1'), (e: unknown) => e instanceof NetlinkError && e.code === 'ENODEV' && /RTM_DELLINK h1/.test(e.message));
    });
  });
});

kernelTest('links: linkCreate answers with the new link as the kernel echoes it (ifindex, MAC, the veth peer\'s ifindex)', async () => {
  await withClient(async (c, n) => {
    await withNamespace((pod) => {
      const created = c.linkCreate({ name: 'e0', kind: 'veth', mtu: 1400, peer: { name: 'eth0', netnsFd: pod.ns.fd, address: '02:00:00:00:00:02' } });
      assert.ok(created, 'this kernel echoes RTM_NEWLINK');
      const host = link(n, 'e0');
      const peer = link(pod, 'eth0');
      assert.equal(created.attrs.ifname, 'e0');
      assert.equal(created.ifinfo.index, host.ifindex);
      assert.equal(created.attrs.address, host.address);
      assert.equal(created.attrs.mtu, 1400);
      assert.equal(created.attrs.link, peer.ifindex, 'IFLA_LINK is the peer\'s ifindex in its namespace');
      assert.equal(peer.address, '02:00:00:00:00:02');
      assertRoundTrip([created]);
      // A name that is taken is refused as by linkAdd.
      assert.throws(() => c.linkCreate({ name: 'e0', kind: 'veth', peer: { name: 'e1' } }), (e: unknown) => e instanceof NetlinkError && e.code === 'EEXIST');
    });
  });
});

// This kernel is built without 802.1Q, so vlan links are covered by the codec's tests only.
kernelTest('links: per-family settings (IFLA_AF_SPEC) set with the flags in one request, read back from /proc and the dump; a lookup without counters', async () => {
  await withClient((c, n) => {
    c.linkAdd({ name: 'd0', kind: 'veth', peer: { name: 'd1' } });
    const conf: number[] = [];
    conf[IPV4_DEVCONF.ARP_IGNORE - 1] = 8;
    conf[IPV4_DEVCONF.ARP_ANNOUNCE - 1] = 2;
    c.linkSet('d0', { up: true, afSpec: { inet: { conf }, inet6: { addrGenMode: IN6_ADDR_GEN_MODE.NONE } } });
    assert.equal(readSysctl(['net', 'ipv4', 'conf', 'd0', 'arp_ignore'], n.ns), '8');
    assert.equal(readSysctl(['net', 'ipv4', 'conf', 'd0', 'arp_announce'], n.ns), '2');
    assert.equal(readSysctl(['net', 'ipv4', 'conf', 'd0', 'rp_filter'], n.ns), readSysctl(['net', 'ipv4', 'conf', 'default', 'rp_filter'], n.ns), 'entries left out stay as they were');
    assert.equal(readSysctl(['net', 'ipv6', 'conf', 'd0', 'addr_gen_mode'], n.ns), '1');
    assert.deepEqual(n.ipJson<{ addr_info: unknown[] }[]>('addr', 'show', 'dev', 'd0')[0]!.addr_info, [], 'no IPv6 link-local address was made');
    // The kernel reports the whole array back; the decoder gives it indexed the same way.
    const reported = c.linkGet('d0')!.attrs.afSpec!.inet!.conf!;
    assert.equal(reported[IPV4_DEVCONF.ARP_IGNORE - 1], 8);
    assert.equal(reported[IPV4_DEVCONF.ARP_ANNOUNCE - 1], 2);
    assert.throws(() => c.linkSet('d0', { afSpec: { inet: { conf: [0.5] } } }), /devconf\[0\]: expected a u32/);

    // RTEXT_FILTER_SKIP_STATS: the same link without IPv6's counters (the device's own stay).
    const full = c.linkGet('d0')!;
    const lean = c.linkGet('d0', { stats: false })!;
    assert.ok(full.attrs.afSpec?.inet6?.stats && full.attrs.afSpec.inet6.icmp6stats, 'by default the IPv6 counters come along');
    assert.equal(lean.attrs.afSpec?.inet6?.stats, undefined);
    assert.equal(lean.attrs.afSpec?.inet6?.icmp6stats, undefined);
    assert.deepEqual([lean.ifinfo.index, lean.attrs.ifname, lean.attrs.mtu, lean.attrs.address], [full.ifinfo.index, 'd0', full.attrs.mtu, full.attrs.address]);
    assert.ok(rawOf(lean)!.length < rawOf(full)!.length, `${rawOf(lean)!.length} bytes without counters, ${rawOf(full)!.length} with`);

    // Only the attributes asked for are decoded, as a whole lookup gives them.
    const some = c.linkGet('d0', { stats: false, attributes: ['operstate', 'qdisc', 'mtu'] })!;
    assert.deepEqual({ ...some.attrs }, { operstate: full.attrs.operstate, qdisc: full.attrs.qdisc, mtu: full.attrs.mtu });
    assert.equal(some.ifinfo.index, full.ifinfo.index);
    assert.equal(c.linkGet('nothere0', { attributes: ['mtu'] }), undefined);
    // And from a creation's echo.
    const echoed = c.linkCreate({ name: 'e0', kind: 'veth', peer: { name: 'e1' } }, { attributes: ['address', 'link'] })!;
    assert.deepEqual(Object.keys(echoed.attrs).sort(), ['address', 'link']);
    assert.equal(echoed.attrs.link, c.linkGet('e1')!.ifinfo.index);
    assert.equal(echoed.attrs.address, c.linkGet('e0')!.attrs.address);
  });
});

kernelTest('links: vxlan and macvlan with their kind data as ip -d shows it', async () => {
  await withClient((c, n) => {
    c.linkAdd({ name: 'up0', kind: 'veth', peer: { name: 'up1' } });
    const lower = c.linkGet('up0')!.ifinfo.index;
    c.linkAdd({ name: 'vx0', kind: 'vxlan', data: { id: 42, port: 4789, local: '10.9.0.1', learning: 0 }, link: lower });
    c.linkAdd({ name: 'mv0', kind: 'macvlan', data: { mode: 4 /* bridge */ }, link: lower });
    const vx = link(n, 'vx0').linkinfo!;
    assert.equal(vx.info_kind, 'vxlan');
    assert.equal(vx.info_data?.id, 42);
    assert.equal(vx.info_data?.port, 4789);
    assert.equal(vx.info_data?.local, '10.9.0.1');
    assert.equal(vx.info_data?.learning, false);
    assert.equal(link(n, 'mv0').linkinfo?.info_data?.mode, 'bridge');
    const decoded = c.linkGet('vx0')!;
    assert.equal(decoded.attrs.linkinfo?.kind, 'vxlan');
    assert.equal((decoded.attrs.linkinfo?.data as { id?: number }).id, 42);
    assertRoundTrip(c.linkList());
    // An error carries the kernel's extended ACK text.
    assert.throws(() => c.linkAdd({ name: 'vx1', kind: 'vxlan', data: { id: 1 << 24 } }), (e: unknown) =>
      e instanceof NetlinkError && e.code === 'ERANGE' && typeof e.ack.message === 'string' && e.message.includes(e.ack.message));
  });
});

kernelTest('addresses: add, replace, list and delete, IPv4 with a label and IPv6', async () => {
  await withClient((c, n) => {
    c.linkAdd({ name: 'a0', kind: 'veth', peer: { name: 'a1' }, up: true });
    const index = c.linkGet('a0')!.ifinfo.index;
    c.addressAdd(index, '10.20.0.1/24', { label: 'a0:web' });
    c.addressAdd(index, 'fd00:20::1/64', { flags: 0x02 /* IFA_F_NODAD */ });
    assert.throws(() => c.addressAdd(index, '10.20.0.1/24'), (e: unknown) => e instanceof NetlinkError && e.code === 'EEXIST');
    // Replace succeeds where add refuses, and creates what is missing.
    c.addressReplace(index, '10.20.0.1/24', { label: 'a0:web' });
    c.addressReplace(index, '10.20.1.1/24');
    const shown = n.ipJson<Array<{ addr_info: Array<{ local: string; prefixlen: number; label?: string; family: string }> }>>('addr', 'show', 'dev', 'a0')[0]!.addr_info;
    assert.deepEqual(shown.filter((a) => a.family === 'inet').map((a) => [a.local, a.prefixlen, a.label]), [['10.20.0.1', 24, 'a0:web'], ['10.20.1.1', 24, 'a0']]);
    assert.ok(shown.some((a) => a.local === 'fd00:20::1' && a.prefixlen === 64));
    const listed = c.addressList({ ifindex: index });
    assert.deepEqual(listed.map((a) => `${a.attrs.address}/${a.ifaddr.prefixlen}`).sort(), shown.map((a) => `${a.local}/${a.prefixlen}`).sort());
    assertRoundTrip(listed);
    assert.equal(c.addressDelete(index, '10.20.0.1/24'), true);
    assert.equal(c.addressDelete(index, '10.20.0.1/24'), false);
    assert.equal(c.addressList({ family: AF_INET, ifindex: index }).length, 1);
  });
});

kernelTest('routes: gateway, onlink, metrics, multipath, replace, IPv6, list and delete', async () => {
  await withClient((c, n) => {
    c.linkAdd({ name: 'r0', kind: 'veth', peer: { name: 'r1' }, up: true });
    c.linkSet('r1', { up: true });
    const r0 = c.linkGet('r0')!.ifinfo.index;
    const r1 = c.linkGet('r1')!.ifinfo.index;
    c.addressAdd(r0, '10.30.0.1/24');
    c.addressAdd(r1, '10.31.0.1/24');
    c.routeAdd({ dst: '10.40.0.0/16', gateway: '10.30.0.254', oif: r0, mtu: 1400 });
    c.routeAdd({ dst: '169.254.1.1/32', oif: r0 });
    c.routeAdd({ dst: '10.41.0.0/16', gateway: '169.254.1.1', oif: r0, onlink: true });
    c.routeAdd({ dst: '10.42.0.0/16', multipath: [{ gateway: '10.30.0.2', ifindex: r0 }, { gateway: '10.31.0.2', ifindex: r1, weight: 3 }] });
    c.routeAdd({ dst: 'fd00:40::/64', oif: r0, priority: 50 });
    const shown = n.ipJson<Array<Record<string, any>>>('route', 'show');
    const byDst = (dst: string) => shown.find((r) => r.dst === dst)!;
    assert.equal(byDst('10.40.0.0/16').gateway, '10.30.0.254');
    assert.equal(byDst('10.40.0.0/16').metrics?.[0]?.mtu, 1400);
    assert.ok(byDst('10.41.0.0/16').flags.includes('onlink'));
    assert.deepEqual(byDst('10.42.0.0/16').nexthops.map((h: any) => [h.gateway, h.dev, h.weight]), [['10.30.0.2', 'r0', 1], ['10.31.0.2', 'r1', 3]]);
    assert.equal(n.ipJson<Array<Record<string, any>>>('-6', 'route', 'show', 'fd00:40::/64')[0]?.metric, 50);
    c.routeReplace({ dst: '10.40.0.0/16', gateway: '10.31.0.254', oif: r1 });
    assert.equal(n.ipJson<Array<Record<string, any>>>('route', 'show', '10.40.0.0/16')[0]?.gateway, '10.31.0.254');
    const listed = c.routeList({ family: AF_INET });
    const multipath = listed.find((r) => r.attrs.dst === '10.42.0.0')!;
    assert.deepEqual(multipath.attrs.multipath?.map((h) => [h.attrs?.gateway, h.ifindex, h.hops]), [['10.30.0.2', r0, 0], ['10.31.0.2', r1, 2]]);
    assertRoundTrip(listed);
    assertRoundTrip(c.routeList({ family: AF_INET6, table: 0 }));
    assert.equal(c.routeDelete({ dst: '10.42.0.0/16' }), true);
    assert.equal(c.routeDelete({ dst: '10.42.0.0/16' }), false);
    assert.equal(n.ipJson('route', 'show', '10.42.0.0/16').length, 0);
  });
});

kernelTest('neighbours: a permanent entry, bridge FDB entries on a vxlan (NTF_SELF, VNI), list and delete', async () => {
  await withClient((c, n) => {
    c.linkAdd({ name: 'n0', kind: 'veth', peer: { name: 'n1' }, up: true });
    const n0 = c.linkGet('n0')!.ifinfo.index;
    c.neighbourSet({ ifindex: n0, dst: '169.254.1.1', lladdr: '02:00:00:00:01:01' });
    c.neighbourSet({ ifindex: n0, dst: 'fe80::1', lladdr: '02:00:00:00:01:01' });
    const neigh = n.ipJson<Array<Record<string, any>>>('neigh', 'show', 'dev', 'n0');
    assert.deepEqual(neigh.map((e) => [e.dst, e.lladdr, e.state[0]]).sort(), [['169.254.1.1', '02:00:00:00:01:01', 'PERMANENT'], ['fe80::1', '02:00:00:00:01:01', 'PERMANENT']]);

    c.linkAdd({ name: 'vx0', kind: 'vxlan', data: { id: 100, port: 4789, learning: 0 } });
    const vx = c.linkGet('vx0')!.ifinfo.index;
    c.fdbAppend({ ifindex: vx, lladdr: '00:00:00:00:00:00', dst: '10.50.0.2' });
    c.fdbAppend({ ifindex: vx, lladdr: '00:00:00:00:00:00', dst: '10.50.0.3', flags: NTF.SELF, state: NUD.PERMANENT });
    c.fdbSet({ ifindex: vx, lladdr: '02:00:00:00:02:02', dst: '10.50.0.4', vni: 200 });
    const fdb = JSON.parse(execFileSync('bridge', ['-n', n.name, '-j', 'fdb', 'show', 'dev', 'vx0'], { encoding: 'utf8' })) as Array<Record<string, any>>;
    assert.deepEqual(fdb.filter((e) => e.mac === '00:00:00:00:00:00').map((e) => e.dst).sort(), ['10.50.0.2', '10.50.0.3']);
    const perVni = fdb.find((e) => e.mac === '02:00:00:00:02:02')!;
    assert.equal(perVni.dst, '10.50.0.4');
    assert.equal(perVni.vni, 200);
    assert.ok(perVni.flags.includes('self'));
    const listed = c.fdbList(vx);
    assert.ok(listed.some((e) => e.attrs.dst === '10.50.0.4' && e.attrs.vni === 200 && (e.ndm.flags & NTF.SELF) !== 0));
    assertRoundTrip(listed);
    assertRoundTrip(c.neighbourList({ ifindex: n0 }));
    assert.equal(c.fdbDelete({ ifindex: vx, lladdr: '00:00:00:00:00:00', dst: '10.50.0.3' }), true);
    assert.deepEqual(c.fdbList(vx).filter((e) => e.attrs.lladdr === '00:00:00:00:00:00').map((e) => e.attrs.dst), ['10.50.0.2']);
    assert.equal(c.neighbourDelete({ ifindex: n0, dst: '169.254.1.1' }), true);
    assert.equal(c.neighbourDelete({ ifindex: n0, dst: '169.254.1.1' }), false);
    assert.equal(n.ipJson('-4', 'neigh', 'show', 'dev', 'n0').length, 0);
  });
});

kernelTest('rules: add with fwmark, source and iif, list and delete', async () => {
  await withClient((c, n) => {
    c.ruleAdd({ family: AF_INET, priority: 1000, table: 100, fwmark: 0x10, fwmask: 0xff });
    c.ruleAdd({ family: AF_INET, priority: 1001, table: 1000, src: '10.60.0.0/16', iifname: 'lo' });
    const shown = n.ipJson<Array<Record<string, any>>>('rule', 'show');
    const r1000 = shown.find((r) => r.priority === 1000)!;
    assert.equal(r1000.table, '100');
    assert.equal(r1000.fwmark, '0x10');
    const r1001 = shown.find((r) => r.priority === 1001)!;
    assert.equal(r1001.src, '10.60.0.0');
    assert.equal(r1001.srclen, 16);
    assert.equal(r1001.table, '1000');
    assert.equal(r1001.iif, 'lo');
    const listed = c.ruleList(AF_INET);
    assert.ok(listed.some((r) => r.attrs.priority === 1001 && r.attrs.table === 1000 && r.attrs.iifname === 'lo'));
    assertRoundTrip(listed);
    assert.equal(c.ruleDelete({ family: AF_INET, priority: 1000, table: 100, fwmark: 0x10, fwmask: 0xff }), true);
    assert.equal(c.ruleDelete({ family: AF_INET, priority: 1000, table: 100, fwmark: 0x10, fwmask: 0xff }), false);
    assert.equal(n.ipJson<Array<Record<string, any>>>('rule', 'show').filter((r) => r.priority === 1000).length, 0);
  });
});

kernelTest('tc: clsact qdisc and direct-action cls_bpf filters on both directions', async () => {
  await withClient((c, n) => {
    c.linkAdd({ name: 't0', kind: 'veth', peer: { name: 't1' } });
    const t0 = c.linkGet('t0')!.ifinfo.index;
    const prog = loadPassProgram('sl_pass');
    try {
      c.clsactAdd(t0);
      c.clsactAdd(t0, { exclusive: false });
      c.bpfFilterAdd({ ifindex: t0, direction: 'ingress', fd: prog, name: 'sl_pass_in' });
      c.bpfFilterAdd({ ifindex: t0, direction: 'egress', fd: prog, name: 'sl_pass_out', priority: 2 });
      const tcShow = (dir: string) => JSON.parse(execFileSync('tc', ['-n', n.name, '-j', 'filter', 'show', 'dev', 't0', dir], { encoding: 'utf8' })) as Array<Record<string, any>>;
      const ingress = tcShow('ingress').find((f) => f.options)!;
      assert.equal(ingress.kind, 'bpf');
      assert.equal(ingress.options.bpf_name, 'sl_pass_in');
      assert.equal(ingress.options['direct-action'], true);
      assert.equal(tcShow('egress').find((f) => f.options)?.pref, 2);
      const qdiscs = c.qdiscList(t0);
      assert.ok(qdiscs.some((q) => q.attrs.kind === 'clsact'));
      assertRoundTrip(qdiscs);
      const filters = c.filterList(t0, 'ingress');
      assert.ok(filters.some((f) => (f.attrs.options as { name?: string } | undefined)?.name === 'sl_pass_in'));
      assertRoundTrip(filters);
      assert.equal(c.bpfFilterDelete({ ifindex: t0, direction: 'ingress' }), true);
      assert.equal(tcShow('ingress').length, 0);
      assert.equal(c.clsactDelete(t0), true);
      assert.equal(c.clsactDelete(t0), false);
      assert.ok(!JSON.parse(execFileSync('tc', ['-n', n.name, '-j', 'qdisc', 'show', 'dev', 't0'], { encoding: 'utf8' })).some((q: any) => q.kind === 'clsact'));
    } finally {
      libc.close(prog);
    }
  });
});

kernelTest('the async client runs the same verbs with many requests in flight', async () => {
  await withNamespace(async (n) => {
    const c = AsyncClient.open({ netns: n.ns });
    try {
      await c.linkAdd({ name: 'x0', kind: 'veth', peer: { name: 'x1' }, up: true });
      const index = (await c.linkGet('x0'))!.ifinfo.index;
      await Promise.all(Array.from({ length: 40 }, (_, i) => c.addressAdd(index, `10.70.${i}.1/24`)));
      const shown = n.ipJson<Array<{ addr_info: Array<{ local: string }> }>>('-4', 'addr', 'show', 'dev', 'x0')[0]!.addr_info;
      assert.equal(shown.length, 40);
      assert.equal((await c.addressList({ family: AF_INET, ifindex: index })).length, 40);
      await assert.rejects(c.linkAdd({ name: 'x0', kind: 'veth', peer: { name: 'x2' } }), (e: unknown) => e instanceof NetlinkError && e.code === 'EEXIST');
      assert.equal(await c.linkDeleteIfExists('x0'), true);
      assert.equal(await c.linkGet('x0'), undefined);
    } finally {
      await c.close();
    }
  });
});
