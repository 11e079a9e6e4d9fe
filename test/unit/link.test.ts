import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decodeSelectedAttrs, NLA_F_NESTED, unknownAttrs } from '../../src/netlink/attributes.js';
import { DecodeError, EncodeError } from '../../src/netlink/errors.js';
import { decodeAll, decodeMessage, encodeAny, encodeMessage, Family, NLM_F, NLMSG } from '../../src/netlink/message.js';
import { BR_BOOLOPT } from '../../src/netlink/rtnetlink/link-kinds/bridge.js';
import { BR_STATE, BRIDGE_MODE, BRIDGE_VLAN_INFO } from '../../src/netlink/rtnetlink/link-kinds/bridge-port.js';
import { MACVLAN_MODE } from '../../src/netlink/rtnetlink/link-kinds/macvlan.js';
import { ETH_P_8021AD, ETH_P_8021Q, VLAN_FLAG } from '../../src/netlink/rtnetlink/link-kinds/vlan.js';
import {
  bridgeLink, IFF_LOOPBACK, IFF_LOWER_UP, IFF_RUNNING, IFF_UP, IN6_ADDR_GEN_MODE, IPV4_DEVCONF, link, RTM_GETLINK, RTM_NEWLINK, RTM_SETLINK, type LinkMessage, type LinkRequest,
} from '../../src/netlink/rtnetlink/link.js';
import { TAIL } from '../../src/netlink/types.js';
import { loadFixture } from '../support/fixtures.js';

// ---- helpers that read the wire format on their own, so the checks do not lean on the decoder ----

interface Tlv { type: number; flags: number; at: number; payload: Buffer }

/** The attributes in buf[start, end), walked by hand. */
function tlvs(buf: Buffer, start: number, end: number): Tlv[] {
  const out: Tlv[] = [];
  for (let p = start; p < end; ) {
    const len = buf.readUInt16LE(p);
    const raw = buf.readUInt16LE(p + 2);
    out.push({ type: raw & 0x3fff, flags: raw & 0xc000, at: p, payload: buf.subarray(p + 4, p + len) });
    p += (len + 3) & ~3;
  }
  return out;
}
const one = (list: Tlv[], type: number): Tlv => {
  const found = list.filter((t) => t.type === type);
  assert.equal(found.length, 1, `expected one attribute of type ${type}, found ${found.length}`);
  return found[0]!;
};
const inner = (t: Tlv): Tlv[] => tlvs(t.payload, 0, t.payload.length);
const hex = (...parts: string[]) => Buffer.from(parts.join('').replace(/\s+/g, ''), 'hex');

const family = new Family('rtnetlink', [link]);
const captured = loadFixture('rtnetlink/link-dump.hex');
const linkMessages = captured.filter((b) => b.readUInt16LE(4) === RTM_NEWLINK);
const byName = new Map<string, LinkMessage>();
const bytesByName = new Map<string, Buffer>();
for (const b of linkMessages) {
  const m = decodeMessage(link, b);
  byName.set(m.attrs.ifname!, m);
  bytesByName.set(m.attrs.ifname!, b);
}
const rawLink = (name: string): Buffer => {
  const b = bytesByName.get(name);
  assert.ok(b, `the fixture has no link named ${name}`);
  return b;
};
const get = (name: string): LinkMessage => {
  const m = byName.get(name);
  assert.ok(m, `the fixture has no link named ${name}`);
  return m;
};

// ---- golden bytes ----

test('the captured dump holds the devices capture-links.sh creates, and ends with NLMSG_DONE', () => {
  assert.ok(linkMessages.length >= 9, `only ${linkMessages.length} link messages`);
  for (const name of ['lo', 'veth0', 'veth1', 'br0', 'veth2', 'veth3', 'vx0', 'vx6', 'mv0']) get(name);
  assert.equal(captured.at(-1)!.readUInt16LE(4), NLMSG.DONE);
});

test('every captured message re-encodes to the very bytes it came from', () => {
  for (const b of captured) {
    const [msg] = decodeAll(family, b);
    assert.ok(msg);
    assert.deepEqual(encodeAny(family, msg), b, `message ${msg.kind} ${'attrs' in msg ? (msg.attrs as { ifname?: string }).ifname : ''}`);
  }
  for (const b of linkMessages) assert.deepEqual(encodeMessage(link, decodeMessage(link, b)), b);
});

test('decoding only some attributes: those selected, as a whole decode gives them; the rest left out', () => {
  const selection = ['operstate', 'qdisc', 'address', 'linkinfo'] as const;
  for (const b of linkMessages) {
    const whole = decodeMessage(link, b);
    const part = decodeMessage(link, b, 0, selection);
    assert.deepEqual(part.ifinfo, whole.ifinfo);
    assert.deepEqual(part.header, whole.header);
    const expected = Object.fromEntries(selection.filter((k) => whole.attrs[k] !== undefined).map((k) => [k, whole.attrs[k]]));
    assert.deepEqual({ ...part.attrs }, expected, whole.attrs.ifname);
  }
  assert.deepEqual({ ...decodeMessage(link, rawLink('veth0'), 0, ['ifname']).attrs }, { ifname: 'veth0' });
  assert.deepEqual(Object.keys(decodeMessage(link, rawLink('veth0'), 0, []).attrs), []);
});

test('decoding only some attributes: an unknown name is refused, broken framing still found', () => {
  const b = rawLink('veth0');
  assert.throws(() => decodeMessage(link, b, 0, ['nonsense']), /IFLA has no attribute named "nonsense"/);
  // An attribute whose length overruns the message, wherever it is, is an error even when not selected.
  const broken = Buffer.from(b);
  const attrs = tlvs(broken, 32, broken.length);
  const last = attrs.at(-1)!;
  broken.writeUInt16LE(last.payload.length + 4 + 64, last.at);
  assert.throws(() => decodeMessage(link, broken, 0, ['ifname']), (e: unknown) => e instanceof DecodeError && /overruns its container/.test(e.message));
  assert.throws(() => decodeSelectedAttrs(link.attrs, ['ifname'], broken, 32, broken.length), DecodeError);
});

test('the captured links decode with no unknown attributes at the top level or in their kind data', () => {
  for (const m of byName.values()) {
    assert.deepEqual(unknownAttrs(m.attrs), [], m.attrs.ifname);
    const data = m.attrs.linkinfo?.data;
    if (data && !Buffer.isBuffer(data)) assert.deepEqual(unknownAttrs(data), [], `${m.attrs.ifname} kind data`);
  }
});

test('captured links: names, MTUs, addresses, flags and the veth pairing', () => {
  const lo = get('lo');
  assert.equal(lo.ifinfo.type, 772);
  assert.ok(lo.ifinfo.flags & IFF_LOOPBACK);
  assert.ok(lo.ifinfo.flags & IFF_UP);
  assert.equal(lo.attrs.mtu, 65536);

  const veth0 = get('veth0');
  const veth1 = get('veth1');
  assert.equal(veth0.attrs.mtu, 1400);
  assert.equal(veth1.attrs.mtu, 1400);
  assert.equal(veth0.attrs.address, '02:00:00:00:00:01');
  assert.equal(veth1.attrs.address, '02:00:00:00:00:02');
  assert.equal(veth0.attrs.broadcast, 'ff:ff:ff:ff:ff:ff');
  assert.equal(veth0.attrs.linkinfo?.kind, 'veth');
  assert.equal(veth0.attrs.link, veth1.ifinfo.index);
  assert.equal(veth1.attrs.link, veth0.ifinfo.index);
  assert.equal(veth0.ifinfo.flags & (IFF_UP | IFF_RUNNING | IFF_LOWER_UP), IFF_UP | IFF_RUNNING | IFF_LOWER_UP);
  assert.equal(veth0.attrs.operstate, 6);
  assert.equal(veth0.attrs.carrier, 1);
  assert.equal(veth0.attrs.qdisc, 'noqueue');
});

test('captured links: the alternative name sits in a NLA_F_NESTED IFLA_PROP_LIST', () => {
  const veth0 = get('veth0');
  assert.deepEqual(veth0.attrs.propList?.altIfname, ['sluice-alt-veth0']);
  assert.equal(get('veth1').attrs.propList, undefined);
  const raw = linkMessages.find((b) => decodeMessage(link, b).attrs.ifname === 'veth0')!;
  const propList = one(tlvs(raw, 32, raw.length), 52);
  assert.equal(propList.flags, NLA_F_NESTED);
  assert.deepEqual(inner(propList).map((t) => t.type), [53]);
});

test('captured links: stats64 and stats are there, with bigint and number counters', () => {
  for (const m of byName.values()) {
    const s64 = m.attrs.stats64;
    assert.ok(s64, `${m.attrs.ifname} has no stats64`);
    assert.equal(typeof s64.rxPackets, 'bigint');
    assert.equal(typeof s64.txBytes, 'bigint');
    assert.equal(typeof s64.rxOtherhostDropped, 'bigint');
    assert.equal(typeof m.attrs.stats?.rxPackets, 'number');
  }
  assert.deepEqual(get('lo').attrs.map, { memStart: 0n, memEnd: 0n, baseAddr: 0n, irq: 0, dma: 0, port: 0 });
});

test('captured links: the bridge reports the options it was created with', () => {
  const br0 = get('br0');
  assert.equal(br0.attrs.linkinfo?.kind, 'bridge');
  const data = br0.attrs.linkinfo?.data;
  assert.ok(data && !Buffer.isBuffer(data) && 'forwardDelay' in data);
  assert.equal(data.forwardDelay, 400);
  assert.equal(data.helloTime, 300);
  assert.equal(data.maxAge, 2500);
  assert.equal(data.ageingTime, 12000);
  assert.equal(data.stpState, 0);
  assert.equal(data.priority, 4096);
  assert.equal(data.groupFwdMask, 8);
  assert.equal(data.mcastSnooping, 1);
  assert.equal(data.mcastQuerier, 1);
  assert.equal(data.mcastIgmpVersion, 3);
  assert.equal(data.mcastHashMax, 1024);
  assert.equal(data.mcastQueryIntvl, 6000n);
  assert.equal(typeof data.gcTimer, 'bigint');
  assert.equal(data.groupAddr, '01:80:c2:00:00:00');
  assert.deepEqual(data.bridgeId, { priority: 4096, address: '02:00:00:00:00:03' });
  assert.ok(data.mcastQuerierState);
});

test('captured links: the enslaved veth names its master and carries bridge port data', () => {
  const br0 = get('br0');
  const veth2 = get('veth2');
  assert.equal(veth2.attrs.master, br0.ifinfo.index);
  const info = veth2.attrs.linkinfo;
  assert.equal(info?.kind, 'veth');
  assert.equal(info?.slaveKind, 'bridge');
  const port = info?.slaveData;
  assert.ok(port && !Buffer.isBuffer(port));
  assert.equal(port.cost, 7);
  assert.equal(port.priority, 3);
  assert.equal(port.mode, BRIDGE_MODE.HAIRPIN);
  assert.equal(port.learning, 0);
  assert.equal(port.isolated, 1);
  assert.equal(port.guard, 1);
  assert.equal(port.state, BR_STATE.FORWARDING);
  assert.deepEqual(port.bridgeId, { priority: 4096, address: '02:00:00:00:00:03' });
  assert.equal(typeof port.holdTimer, 'bigint');
  assert.equal(get('veth3').attrs.master, undefined);
});

test('captured links: vxlan over IPv4 and IPv6, with the port in network byte order', () => {
  const vx0 = get('vx0');
  const d = vx0.attrs.linkinfo?.data;
  assert.equal(vx0.attrs.linkinfo?.kind, 'vxlan');
  assert.ok(d && !Buffer.isBuffer(d));
  const vx = d as Record<string, unknown>;
  assert.equal(vx.id, 42);
  assert.equal(vx.group, '239.1.1.1');
  assert.equal(vx.local, '10.0.0.1');
  assert.equal(vx.port, 4789);
  assert.deepEqual(vx.portRange, { low: 10000, high: 20000 });
  assert.equal(vx.ttl, 5);
  assert.equal(vx.ageing, 120);
  assert.equal(vx.learning, 0);
  assert.equal(vx.link, get('veth0').ifinfo.index);

  // The port's bytes as they are on the wire: 4789 = 0x12b5, most significant byte first.
  const raw = linkMessages.find((b) => decodeMessage(link, b).attrs.ifname === 'vx0')!;
  const data = one(inner(one(tlvs(raw, 32, raw.length), 18)), 2);
  assert.deepEqual([...one(inner(data), 15).payload], [0x12, 0xb5]);
  assert.deepEqual([...one(inner(data), 10).payload], [0x27, 0x10, 0x4e, 0x20]);

  const vx6 = get('vx6').attrs.linkinfo?.data as Record<string, unknown>;
  assert.equal(vx6.id, 4242);
  assert.equal(vx6.group6, 'fd00::2');
  assert.equal(vx6.local6, 'fd00::1');
  assert.equal(vx6.port, 4790);
  assert.equal(vx6.udpZeroCsum6Tx, 1);
  assert.equal(vx6.group, undefined);
});

test('captured links: the macvlan is in bridge mode on its lower device', () => {
  const mv0 = get('mv0');
  assert.equal(mv0.attrs.linkinfo?.kind, 'macvlan');
  const d = mv0.attrs.linkinfo?.data as Record<string, unknown>;
  assert.equal(d.mode, MACVLAN_MODE.BRIDGE);
  assert.equal(d.bcQueueLen, 200);
  assert.equal(mv0.attrs.link, get('veth3').ifinfo.index);
  assert.equal(mv0.attrs.address, '02:00:00:00:00:08');
});

test('captured links: a vlan, when the capturing kernel had 802.1Q', (t) => {
  const m = byName.get('veth1.100');
  if (!m) {
    t.diagnostic('the fixture has no vlan device (kernel without CONFIG_VLAN_8021Q); see the hand-built vlan test');
    return;
  }
  const d = m.attrs.linkinfo?.data as Record<string, unknown>;
  assert.equal(d.id, 100);
  assert.equal(d.protocol, ETH_P_8021Q);
  assert.deepEqual(d.egressQos, { mapping: [{ from: 1, to: 2 }, { from: 3, to: 4 }] });
  assert.deepEqual(d.ingressQos, { mapping: [{ from: 2, to: 5 }] });
});

// ---- link messages of family AF_BRIDGE ----

const AF_BRIDGE = 7;
const bridgeCaptured = loadFixture('rtnetlink/link-bridge-dump.hex');

test('the captured AF_BRIDGE dump re-encodes exactly and shows the port settings in IFLA_PROTINFO', () => {
  const messages = bridgeCaptured.filter((b) => b.readUInt16LE(4) === RTM_NEWLINK);
  assert.ok(messages.length >= 2);
  let sawPort = false;
  for (const b of messages) {
    const m = decodeMessage(bridgeLink, b);
    assert.equal(m.ifinfo.family, AF_BRIDGE);
    assert.deepEqual(unknownAttrs(m.attrs), []);
    assert.deepEqual(encodeMessage(bridgeLink, m), b);
    if (m.attrs.ifname === 'veth2') {
      assert.equal(m.attrs.master, get('br0').ifinfo.index);
      const port = m.attrs.protinfo;
      assert.ok(port);
      assert.equal(port.cost, 7);
      assert.equal(port.priority, 3);
      assert.equal(port.mode, BRIDGE_MODE.HAIRPIN);
      assert.equal(port.isolated, 1);
      assert.equal(port.learning, 0);
      assert.equal(one(tlvs(b, 32, b.length), 12).flags, NLA_F_NESTED);
      sawPort = true;
    }
  }
  assert.ok(sawPort, 'no AF_BRIDGE message for the port veth2');
});

test('an AF_BRIDGE message with VLANs in IFLA_AF_SPEC decodes to its vlan list and re-encodes exactly', () => {
  const bytes = hex(
    '40000000 1000 0200 01000000 00000000', // 64 bytes, RTM_NEWLINK
    '07 00 0100 06000000 43100100 00000000', // ifinfomsg: AF_BRIDGE, index 6
    '0a000300 7665746832 00 0000', // IFLA_IFNAME "veth2"
    '14001a00', // IFLA_AF_SPEC, 20 bytes: IFLA_BRIDGE_* directly, not per family
    '08000200 0600 0100', // IFLA_BRIDGE_VLAN_INFO: PVID|UNTAGGED, vid 1
    '08000200 0000 0a00', // IFLA_BRIDGE_VLAN_INFO: vid 10
  );
  const m = decodeMessage(bridgeLink, bytes);
  assert.deepEqual(m.attrs.afSpec?.vlanInfo, [
    { flags: BRIDGE_VLAN_INFO.PVID | BRIDGE_VLAN_INFO.UNTAGGED, vid: 1 },
    { flags: 0, vid: 10 },
  ]);
  assert.deepEqual(encodeMessage(bridgeLink, m), bytes);
});

test('IPv4 devconf: a request sets the entries present as attributes numbered by IPV4_DEVCONF_*; a dump gives the packed array', () => {
  const conf: number[] = [];
  conf[IPV4_DEVCONF.ARP_IGNORE - 1] = 8;
  const bytes = encodeMessage(link, {
    header: { type: RTM_SETLINK, flags: NLM_F.REQUEST | NLM_F.ACK, seq: 5 },
    ifinfo: { index: 7, flags: IFF_UP, change: IFF_UP },
    attrs: { afSpec: { inet: { conf }, inet6: { addrGenMode: IN6_ADDR_GEN_MODE.NONE } } },
  });
  const afSpec = one(tlvs(bytes, 32, bytes.length), 26);
  const inet = inner(one(inner(afSpec), 2));
  const confAttr = one(inet, 1);
  assert.deepEqual(inner(confAttr).map((t) => [t.type, t.payload.readUInt32LE(0)]), [[19, 8]], 'only IPV4_DEVCONF_ARP_IGNORE (19), valued 8');
  assert.equal(one(inner(one(inner(afSpec), 10)), 8).payload[0], 1, 'IFLA_INET6_ADDR_GEN_MODE none');
  // What the kernel reports: IFLA_INET_CONF as a packed u32 array, element i being IPV4_DEVCONF i + 1.
  const lo = get('lo').attrs.afSpec?.inet?.conf;
  assert.ok(Array.isArray(lo) && lo.length >= IPV4_DEVCONF.ARP_IGNORE, 'the fixture reports the devconf array');
  assert.ok(lo.every((v) => Number.isInteger(v)));
  assert.throws(() => encodeMessage(link, { header: { type: RTM_SETLINK }, ifinfo: { index: 7 }, attrs: { afSpec: { inet: { conf: [-1] } } } } as never), /devconf\[0\]: expected a u32, got -1/);
});

test('AF_BRIDGE requests: a port VLAN and hairpin mode encode to the hand-computed bytes', () => {
  const vlan = encodeMessage(bridgeLink, {
    header: { type: RTM_SETLINK, flags: NLM_F.REQUEST | NLM_F.ACK, seq: 3 },
    ifinfo: { family: AF_BRIDGE, index: 6 },
    attrs: { afSpec: { vlanInfo: [{ flags: BRIDGE_VLAN_INFO.PVID | BRIDGE_VLAN_INFO.UNTAGGED, vid: 10 }] } },
  });
  assert.deepEqual(vlan, hex(
    '2c000000 1300 0500 03000000 00000000',
    '07 00 0000 06000000 00000000 00000000',
    '0c001a00 08000200 0600 0a00',
  ));
  const hairpin = encodeMessage(bridgeLink, {
    header: { type: RTM_SETLINK, flags: NLM_F.REQUEST | NLM_F.ACK, seq: 4 },
    ifinfo: { family: AF_BRIDGE, index: 6 },
    attrs: { protinfo: { mode: BRIDGE_MODE.HAIRPIN } },
  });
  assert.deepEqual(hairpin, hex(
    '2c000000 1300 0500 04000000 00000000',
    '07 00 0000 06000000 00000000 00000000',
    '0c000c80 05000400 01 000000', // IFLA_PROTINFO | NLA_F_NESTED, IFLA_BRPORT_MODE 1
  ));
});

// ---- a vlan link message written out by hand (the capture kernel may lack 802.1Q) ----

const vlanMessage = hex(
  'ac000000 1000 0200 01000000 00000000', // nlmsghdr: 172 bytes, RTM_NEWLINK, NLM_F_MULTI, seq 1
  '00 00 0100 09000000 43100100 00000000', // ifinfomsg: ARPHRD_ETHER, index 9, UP|BROADCAST|RUNNING|MULTICAST|LOWER_UP
  '0e000300 7665746831 2e313030 00 0000', // @32 IFLA_IFNAME "veth1.100"
  '08000400 78050000', // @48 IFLA_MTU 1400
  '08000500 03000000', // @56 IFLA_LINK 3
  '64001200', // @64 IFLA_LINKINFO, 100 bytes
  '09000100 766c616e00 000000', // @68 IFLA_INFO_KIND "vlan"
  '54000200', // @80 IFLA_INFO_DATA, 84 bytes
  '06000500 8100 0000', // @84 IFLA_VLAN_PROTOCOL 802.1Q (big-endian)
  '06000100 6400 0000', // @92 IFLA_VLAN_ID 100
  '0c000200 00000000 ffffffff', // @100 IFLA_VLAN_FLAGS flags 0 mask ~0
  '1c000300', // @112 IFLA_VLAN_EGRESS_QOS, 28 bytes
  '0c000100 01000000 02000000', // @116 mapping 1 -> 2
  '0c000100 03000000 04000000', // @128 mapping 3 -> 4
  '10000400', // @140 IFLA_VLAN_INGRESS_QOS, 16 bytes
  '0c000100 02000000 05000000', // @144 mapping 2 -> 5
  '0700f03f abcdef 00', // @156 an attribute no table knows (0x3ff0), 3 bytes
  '05001000 06 000000', // @164 IFLA_OPERSTATE UP
);

test('a hand-written vlan message decodes to its id, protocol, flags and QoS maps and re-encodes exactly', () => {
  assert.equal(vlanMessage.length, 172);
  const m = decodeMessage(link, vlanMessage);
  assert.equal(m.attrs.ifname, 'veth1.100');
  assert.equal(m.attrs.link, 3);
  assert.equal(m.attrs.linkinfo?.kind, 'vlan');
  const d = m.attrs.linkinfo?.data;
  assert.ok(d && !Buffer.isBuffer(d));
  assert.deepEqual({ ...d }, {
    protocol: ETH_P_8021Q,
    id: 100,
    flags: { flags: 0, mask: 0xffffffff },
    egressQos: { mapping: [{ from: 1, to: 2 }, { from: 3, to: 4 }] },
    ingressQos: { mapping: [{ from: 2, to: 5 }] },
  });
  assert.deepEqual(unknownAttrs(d), [{ type: 0x3ff0, payload: Buffer.from([0xab, 0xcd, 0xef]) }]);
  assert.deepEqual(encodeMessage(link, m), vlanMessage);
});

// ---- fresh requests, checked against hand-computed bytes ----

const create = NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL;

test('a veth whose peer is created in another namespace encodes to the hand-computed bytes', () => {
  const request: LinkRequest = {
    header: { type: RTM_NEWLINK, flags: create, seq: 1 },
    ifinfo: {},
    attrs: { ifname: 'slab12', linkinfo: { kind: 'veth', data: { peer: { ifinfo: {}, attrs: { ifname: 'eth0', netNsFd: 7 } } } } },
  };
  const bytes = encodeMessage(link, request);
  const expected = hex(
    '68000000 1000 0506 01000000 00000000', // 104 bytes, RTM_NEWLINK, REQUEST|ACK|EXCL|CREATE
    '00000000 00000000 00000000 00000000', // ifinfomsg, all zero
    '0b000300 736c6162313200 00', // IFLA_IFNAME "slab12"
    '3c001200', // IFLA_LINKINFO, 60 bytes, no NLA_F_NESTED (the kernel uses none here)
    '09000100 7665746800 000000', // IFLA_INFO_KIND "veth"
    '2c000200', // IFLA_INFO_DATA, 44 bytes
    '28000100', // VETH_INFO_PEER, 40 bytes: an ifinfomsg and IFLA attributes
    '00000000 00000000 00000000 00000000',
    '09000300 6574683000 000000', // IFLA_IFNAME "eth0"
    '08001c00 07000000', // IFLA_NET_NS_FD 7
  );
  assert.deepEqual(bytes, expected);
  const back = decodeMessage(link, bytes);
  const peer = (back.attrs.linkinfo?.data as { peer?: { ifinfo?: unknown; attrs?: { ifname?: string; netNsFd?: number } } }).peer;
  assert.equal(peer?.attrs?.ifname, 'eth0');
  assert.equal(peer?.attrs?.netNsFd, 7);
  assert.deepEqual(peer?.ifinfo, { family: 0, type: 0, index: 0, flags: 0, change: 0 });
  assert.deepEqual(encodeMessage(link, back), bytes);
});

test('a veth peer keeps the header fields given and zero-fills the rest', () => {
  const bytes = encodeMessage(link, {
    header: { type: RTM_NEWLINK },
    attrs: { linkinfo: { kind: 'veth', data: { peer: { ifinfo: { flags: IFF_UP, change: IFF_UP }, attrs: { mtu: 9000 } } } } },
  });
  const peer = one(inner(one(inner(one(tlvs(bytes, 32, bytes.length), 18)), 2)), 1).payload;
  assert.deepEqual(peer.subarray(0, 16), hex('00 00 0000 00000000 01000000 01000000'));
  assert.deepEqual(peer.subarray(16), hex('08000400 28230000'));
});

test('a bridge request: u64 timers, the big-endian VLAN protocol, structs and a MAC, each where hand-computed', () => {
  const bytes = encodeMessage(link, {
    header: { type: RTM_NEWLINK, flags: create },
    attrs: {
      ifname: 'br9',
      linkinfo: {
        kind: 'bridge',
        data: {
          stpState: 1,
          forwardDelay: 200,
          vlanProtocol: ETH_P_8021AD,
          mcastQueryIntvl: 12500n,
          multiBoolopt: { optval: BR_BOOLOPT.NO_LL_LEARN, optmask: BR_BOOLOPT.NO_LL_LEARN },
          groupAddr: '01:80:c2:00:00:0e',
          fdbFlush: true,
        },
      },
    },
  });
  const top = tlvs(bytes, 32, bytes.length);
  const info = one(top, 18);
  assert.equal(info.flags, 0);
  assert.deepEqual(one(inner(info), 1).payload, Buffer.from('bridge\0'));
  const data = inner(one(inner(info), 2));
  assert.deepEqual(data.map((t) => t.type), [5, 1, 8, 33, 46, 20, 21]);
  assert.deepEqual(one(data, 5).payload, hex('01000000'));
  assert.deepEqual(one(data, 1).payload, hex('c8000000'));
  assert.deepEqual(one(data, 8).payload, hex('88a8'));
  assert.deepEqual(one(data, 33).payload, hex('d430000000000000'));
  assert.deepEqual(one(data, 46).payload, hex('01000000 01000000'));
  assert.deepEqual(one(data, 20).payload, hex('0180c200000e'));
  assert.equal(one(data, 21).payload.length, 0);
  const length = bytes.readUInt32LE(0);
  assert.equal(length, bytes.length);
  // 32 + ifname 8 + linkinfo 4 + kind 12 + data 4 + (8 + 8 + 8 + 12 + 12 + 12 + 4)
  assert.equal(length, 32 + 8 + 4 + 12 + 4 + 64);

  const back = decodeMessage(link, bytes).attrs.linkinfo?.data as Record<string, unknown>;
  assert.equal(back.vlanProtocol, ETH_P_8021AD);
  assert.equal(back.mcastQueryIntvl, 12500n);
  assert.deepEqual(back.multiBoolopt, { optval: 1, optmask: 1 });
  assert.equal(back.groupAddr, '01:80:c2:00:00:0e');
  assert.equal(back.fdbFlush, true);
});

test('a vxlan request: VNI, IPv4 group and local, network-order ports and a flag attribute', () => {
  const bytes = encodeMessage(link, {
    header: { type: RTM_NEWLINK, flags: create },
    attrs: {
      ifname: 'vx9',
      mtu: 1450,
      linkinfo: {
        kind: 'vxlan',
        data: { id: 0x123456, group: '10.0.0.2', local: '10.0.0.1', port: 4789, portRange: { low: 1000, high: 2000 }, learning: 0, gbp: true, label: 0x12345 },
      },
    },
  });
  const data = inner(one(inner(one(tlvs(bytes, 32, bytes.length), 18)), 2));
  assert.deepEqual(one(data, 1).payload, hex('56341200'));
  assert.deepEqual(one(data, 2).payload, hex('0a000002'));
  assert.deepEqual(one(data, 4).payload, hex('0a000001'));
  assert.deepEqual(one(data, 15).payload, hex('12b5'));
  assert.deepEqual(one(data, 10).payload, hex('03e8 07d0'));
  assert.deepEqual(one(data, 7).payload, hex('00'));
  assert.equal(one(data, 23).payload.length, 0);
  assert.deepEqual(one(data, 26).payload, hex('00012345'));
  const back = decodeMessage(link, bytes);
  assert.equal(back.attrs.mtu, 1450);
  assert.deepEqual({ ...(back.attrs.linkinfo?.data as object) }, {
    id: 0x123456, group: '10.0.0.2', local: '10.0.0.1', port: 4789, portRange: { low: 1000, high: 2000 }, learning: 0, gbp: true, label: 0x12345,
  });
});

test('a vxlan group of the wrong family is refused when encoding', () => {
  assert.throws(
    () => encodeMessage(link, { header: { type: RTM_NEWLINK }, attrs: { linkinfo: { kind: 'vxlan', data: { group: 'fd00::1' } } } }),
    EncodeError,
  );
  assert.throws(
    () => encodeMessage(link, { header: { type: RTM_NEWLINK }, attrs: { linkinfo: { kind: 'vxlan', data: { group6: '10.0.0.1' } } } }),
    EncodeError,
  );
});

test('a vlan request encodes to the hand-computed bytes', () => {
  const bytes = encodeMessage(link, {
    header: { type: RTM_NEWLINK, flags: create, seq: 7 },
    attrs: {
      link: 3,
      ifname: 'eth0.100',
      linkinfo: {
        kind: 'vlan',
        data: {
          id: 100,
          protocol: ETH_P_8021Q,
          flags: { flags: VLAN_FLAG.REORDER_HDR, mask: VLAN_FLAG.REORDER_HDR },
          egressQos: { mapping: [{ from: 1, to: 2 }, { from: 3, to: 4 }] },
        },
      },
    },
  });
  const expected = hex(
    '84000000 1000 0506 07000000 00000000', // 132 bytes
    '00000000 00000000 00000000 00000000',
    '08000500 03000000', // IFLA_LINK 3
    '0d000300 657468302e31303000 000000', // IFLA_IFNAME "eth0.100"
    '4c001200', // IFLA_LINKINFO, 76 bytes
    '09000100 766c616e00 000000', // IFLA_INFO_KIND "vlan"
    '3c000200', // IFLA_INFO_DATA, 60 bytes
    '06000100 6400 0000', // IFLA_VLAN_ID 100
    '06000500 8100 0000', // IFLA_VLAN_PROTOCOL, big-endian
    '0c000200 01000000 01000000', // IFLA_VLAN_FLAGS
    '1c000300', // IFLA_VLAN_EGRESS_QOS, 28 bytes
    '0c000100 01000000 02000000',
    '0c000100 03000000 04000000',
  );
  assert.deepEqual(bytes, expected);
});

test('a bridge port request: master, and slave data chosen by the slave kind', () => {
  const bytes = encodeMessage(link, {
    header: { type: RTM_NEWLINK, flags: NLM_F.REQUEST | NLM_F.ACK },
    ifinfo: { index: 5 },
    attrs: { master: 4, linkinfo: { slaveKind: 'bridge', slaveData: { cost: 7, mode: BRIDGE_MODE.HAIRPIN, learning: 0 } } },
  });
  assert.equal(bytes.readInt32LE(16 + 4), 5);
  const top = tlvs(bytes, 32, bytes.length);
  assert.deepEqual(one(top, 10).payload, hex('04000000'));
  const info = inner(one(top, 18));
  assert.deepEqual(one(info, 4).payload, Buffer.from('bridge\0'));
  const port = inner(one(info, 5));
  assert.deepEqual(port.map((t) => [t.type, t.payload.toString('hex')]), [[3, '07000000'], [4, '01'], [8, '00']]);
});

test('alternative names and GETLINK requests: NLA_F_NESTED on IFLA_PROP_LIST only', () => {
  const bytes = encodeMessage(link, {
    header: { type: RTM_NEWLINK, flags: NLM_F.REQUEST | NLM_F.ACK },
    ifinfo: { index: 2 },
    attrs: { propList: { altIfname: ['a', 'bb'] } },
  });
  const prop = one(tlvs(bytes, 32, bytes.length), 52);
  assert.equal(prop.flags, NLA_F_NESTED);
  assert.deepEqual(prop.payload, hex('06003500 6100 0000', '07003500 626200 00'));
  assert.deepEqual(decodeMessage(link, bytes).attrs.propList, { altIfname: ['a', 'bb'] });

  const byAltName = encodeMessage(link, { header: { type: RTM_GETLINK, flags: NLM_F.REQUEST }, attrs: { altIfname: 'sluice-alt-veth0' } });
  assert.deepEqual(one(tlvs(byAltName, 32, byAltName.length), 53).payload, Buffer.from('sluice-alt-veth0\0'));
});

// ---- robustness: unknown attributes, longer structs, truncation ----

test('an unknown top-level attribute (0x3ff0) survives decode -> encode', () => {
  const base = get('veth0');
  const original = encodeMessage(link, base);
  const extra = hex('0800f03f 01020304');
  const withExtra = Buffer.concat([original, extra]);
  withExtra.writeUInt32LE(withExtra.length, 0);
  const m = decodeMessage(link, withExtra);
  assert.deepEqual(unknownAttrs(m.attrs), [{ type: 0x3ff0, payload: hex('01020304') }]);
  assert.equal(m.attrs.ifname, 'veth0');
  assert.deepEqual(encodeMessage(link, m), withExtra);
});

test('a stats64 16 bytes longer than this code knows decodes and re-encodes identically', () => {
  const known = 25 * 8;
  const stats = Buffer.alloc(known + 16);
  for (let i = 0; i < 25; i++) stats.writeBigUInt64LE(BigInt(i + 1) * 1000n, i * 8);
  stats.fill(0xee, known);
  const attr = Buffer.alloc(4 + stats.length);
  attr.writeUInt16LE(attr.length, 0);
  attr.writeUInt16LE(23, 2);
  stats.copy(attr, 4);
  const msg = Buffer.concat([hex('00000000 1000 0000 00000000 00000000', '00 00 0100 02000000 00000000 00000000', '07000300 65746800'), attr]);
  msg.writeUInt32LE(msg.length, 0);
  const m = decodeMessage(link, msg);
  const s = m.attrs.stats64!;
  assert.equal(s.rxPackets, 1000n);
  assert.equal(s.txPackets, 2000n);
  assert.equal(s.rxOtherhostDropped, 25000n);
  assert.deepEqual((s as { [TAIL]?: Buffer })[TAIL], Buffer.alloc(16, 0xee));
  assert.deepEqual(encodeMessage(link, m), msg);
});

test('truncated messages raise DecodeError with the offset of the damage', () => {
  // The buffer ends before the length in the header says.
  assert.throws(() => decodeMessage(link, vlanMessage.subarray(0, 150)), (e: unknown) => e instanceof DecodeError && e.offset === 0);

  // The header is shortened to 150 bytes: IFLA_LINKINFO (at 64, 100 bytes long) now overruns the message.
  const short = Buffer.from(vlanMessage.subarray(0, 150));
  short.writeUInt32LE(150, 0);
  assert.throws(() => decodeMessage(link, short), (e: unknown) => e instanceof DecodeError && e.offset === 64 && /IFLA\(18 linkinfo\)/.test(e.message));

  // A QoS mapping (at 128) cut to 7 payload bytes: the struct's payload at 132 is too short.
  const cutStruct = Buffer.from(vlanMessage);
  cutStruct.writeUInt16LE(4 + 7, 128);
  assert.throws(() => decodeMessage(link, cutStruct), (e: unknown) => e instanceof DecodeError && e.offset === 132 && /ifla_vlan_qos_mapping/.test(e.message));

  // An attribute length below its own header.
  const tiny = Buffer.from(vlanMessage);
  tiny.writeUInt16LE(2, 48);
  assert.throws(() => decodeMessage(link, tiny), (e: unknown) => e instanceof DecodeError && e.offset === 48);

  // A stats64 shorter than the struct.
  const lo = linkMessages.find((b) => decodeMessage(link, b).attrs.ifname === 'lo')!;
  const stats64 = one(tlvs(lo, 32, lo.length), 23);
  const shortStats = Buffer.from(lo);
  shortStats.writeUInt16LE(4 + 100, stats64.at);
  assert.throws(() => decodeMessage(link, shortStats), (e: unknown) => e instanceof DecodeError && e.offset === stats64.at + 4 && /rtnl_link_stats64/.test(e.message));

  // Every cut of every captured message either decodes (at an attribute boundary) or fails with a
  // DecodeError whose offset lies inside what was given.
  for (const b of [...linkMessages, vlanMessage]) {
    for (let n = 16; n < b.length; n += 3) {
      const cut = Buffer.from(b.subarray(0, n));
      cut.writeUInt32LE(n, 0);
      try {
        decodeMessage(link, cut);
      } catch (e) {
        assert.ok(e instanceof DecodeError, `cut at ${n}: ${String(e)}`);
        assert.ok(e.offset >= 0 && e.offset <= n, `cut at ${n}: offset ${e.offset}`);
      }
    }
  }
});

test('link.ts and veth.ts load in either order despite importing each other', () => {
  const dir = fileURLToPath(new URL('../../src/netlink/rtnetlink/', import.meta.url));
  const script = (first: string, second: string) => `
    const a = await import(${JSON.stringify(dir + first)});
    const b = await import(${JSON.stringify(dir + second)});
    const { link } = ${first === 'link.js' ? 'a' : 'b'};
    const { encodeMessage, decodeMessage } = await import(${JSON.stringify(dir + '../message.js')});
    const m = { header: { type: 16 }, attrs: { linkinfo: { kind: 'veth', data: { peer: { attrs: { ifname: 'p' } } } } } };
    const back = decodeMessage(link, encodeMessage(link, m));
    process.stdout.write(back.attrs.linkinfo.data.peer.attrs.ifname);`;
  for (const [first, second] of [['link.js', 'link-kinds/veth.js'], ['link-kinds/veth.js', 'link.js']] as const) {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script(first, second)], { encoding: 'utf8' });
    assert.equal(out, 'p', `loading ${first} first`);
  }
});
