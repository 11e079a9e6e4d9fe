import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NLA_F_NESTED, unknownAttrs } from '../../src/netlink/attributes.js';
import { DecodeError } from '../../src/netlink/errors.js';
import { decodeAll, decodeMessage, encodeAny, encodeMessage, Family, NLM_F } from '../../src/netlink/message.js';
import {
  AF_BRIDGE, neighbour, NTF, NUD, RTM_NEWNEIGH, type NeighbourMessage,
} from '../../src/netlink/rtnetlink/neighbour.js';
import { RTN } from '../../src/netlink/rtnetlink/route.js';
import { parseIP } from '../../src/netlink/types.js';
import { loadFixture } from '../support/fixtures.js';
import { unknownPaths, withLength } from '../support/codec.js';

// Interface indexes in the capture namespace (capture-objects.sh): a veth's peer is created first.
const VE1 = 2;
const VE0 = 3;
const BR0 = 4;
const VX0 = 5;
const AF_INET = 2;
const AF_INET6 = 10;

const family = new Family('rtnetlink neighbours', [neighbour]);
const fixtures = ['neighbour-dump.hex', 'neighbour-fdb.hex'];
const decode = (fixture: string) =>
  loadFixture(`rtnetlink/${fixture}`).flatMap((b) => decodeAll(family, b)).filter((m): m is NeighbourMessage => m.kind === 'neighbour');

test('every captured neighbour and FDB message decodes, knows all its attributes and re-encodes to the same bytes', () => {
  for (const fixture of fixtures) {
    const raw = loadFixture(`rtnetlink/${fixture}`);
    assert.ok(raw.length > 5, fixture);
    raw.forEach((bytes, i) => {
      const msgs = decodeAll(family, bytes);
      assert.equal(msgs.length, 1);
      if (msgs[0]!.kind === 'neighbour') assert.deepEqual(unknownPaths((msgs[0] as NeighbourMessage).attrs), [], `${fixture} message ${i}`);
      assert.deepEqual(encodeAny(family, msgs[0]!), bytes, `${fixture} message ${i} re-encodes`);
    });
    assert.equal(decodeAll(family, raw.at(-1)!)[0]!.kind, 'done');
  }
});

test('the captured permanent neighbours carry their addresses, MACs and state', () => {
  const list = decode('neighbour-dump.hex');
  const permanent = list
    .filter((n) => n.ndm.state === NUD.PERMANENT)
    .map((n) => [n.ndm.family, n.ndm.ifindex, n.attrs.dst, n.attrs.lladdr, n.ndm.type])
    .sort((a, b) => String(a[2]).localeCompare(String(b[2])));
  assert.deepEqual(permanent, [
    [AF_INET, VE0, '10.10.0.2', '02:00:00:00:00:02', RTN.UNICAST],
    [AF_INET, BR0, '10.20.0.2', '02:00:00:00:00:12', RTN.UNICAST],
    [AF_INET6, VE0, 'fd00:10::2', '02:00:00:00:00:02', RTN.UNICAST],
  ]);
  // The kernel's multicast entries (how many depends on timing) are NOARP, with the MAC mapped from the group.
  for (const n of list.filter((x) => x.ndm.state === NUD.NOARP)) {
    const group = parseIP(n.attrs.dst)!;
    const mapped = group.length === 4
      ? [0x01, 0x00, 0x5e, group[1]! & 0x7f, group[2]!, group[3]!]
      : [0x33, 0x33, ...group.subarray(12)];
    assert.equal(n.attrs.lladdr, mapped.map((b) => b.toString(16).padStart(2, '0')).join(':'), n.attrs.dst);
  }
});

test('the captured FDB entries carry the VTEPs (NDA_DST), the VNI and port, NTF_SELF and the bridge master', () => {
  const fdb = decode('neighbour-fdb.hex');
  assert.ok(fdb.every((n) => n.ndm.family === AF_BRIDGE));

  const vxlan = fdb.filter((n) => n.ndm.ifindex === VX0);
  const flood = vxlan.filter((n) => n.attrs.lladdr === '00:00:00:00:00:00');
  assert.deepEqual(flood.map((n) => n.attrs.dst).sort(), ['10.10.0.2', '10.10.0.3']);
  for (const n of vxlan) {
    assert.equal(n.ndm.flags & NTF.SELF, NTF.SELF);
    assert.equal(n.ndm.state, NUD.PERMANENT | NUD.NOARP);
  }
  // The device's own VNI (42) is implied; only a per-entry one is sent.
  assert.ok(flood.every((n) => n.attrs.vni === undefined && n.attrs.port === undefined));
  const perVni = vxlan.find((n) => n.attrs.lladdr === '02:00:00:00:00:aa');
  assert.deepEqual({ dst: perVni?.attrs.dst, vni: perVni?.attrs.vni, port: perVni?.attrs.port }, { dst: '10.10.0.4', vni: 100, port: 4790 });

  // The bridge's own table: the static entry on port ve1 names its master.
  const staticOnBridge = fdb.find((n) => n.attrs.lladdr === '02:00:00:00:00:bb');
  assert.deepEqual({ ifindex: staticOnBridge?.ndm.ifindex, master: staticOnBridge?.attrs.master, state: staticOnBridge?.ndm.state }, { ifindex: VE1, master: BR0, state: NUD.NOARP });
});

test('an FDB entry built from scratch is byte for byte what the kernel sent', () => {
  const captured = loadFixture('rtnetlink/neighbour-fdb.hex').find((b) => decodeMessage(neighbour, b).attrs.vni === 100)!;
  const { header, attrs } = decodeMessage(neighbour, captured);
  const fresh = encodeMessage(neighbour, {
    header,
    ndm: { family: AF_BRIDGE, ifindex: VX0, state: NUD.PERMANENT | NUD.NOARP, flags: NTF.SELF, type: RTN.UNICAST },
    attrs: { lladdr: '02:00:00:00:00:aa', dst: '10.10.0.4', port: 4790, vni: 100, cacheinfo: { ...attrs.cacheinfo! } },
  });
  assert.deepEqual(fresh, captured);
});

test('a neighbour request encodes ndmsg, NDA_PORT in network byte order and NDA_FDB_EXT_ATTRS as a flagged nest', () => {
  const msg = encodeMessage(neighbour, {
    header: { type: RTM_NEWNEIGH, flags: NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | NLM_F.APPEND, seq: 5 },
    ndm: { family: AF_BRIDGE, ifindex: 9, state: NUD.PERMANENT, flags: NTF.SELF },
    attrs: { lladdr: '00:00:00:00:00:00', dst: '192.0.2.1', port: 4789, vni: 0x123456, fdbExtAttrs: { activityNotify: 1 } },
  });
  assert.deepEqual(msg, Buffer.concat([
    Buffer.from('4c000000' + '1c00' + '050c' + '05000000' + '00000000', 'hex'), // len 76, RTM_NEWNEIGH, flags 0xc05
    Buffer.from([AF_BRIDGE, 0, 0, 0, 9, 0, 0, 0, 0x80, 0, 2, 0]), // ndmsg: family, pads, ifindex, state, flags, type
    Buffer.from('0a000200' + '000000000000' + '0000', 'hex'), // NDA_LLADDR, padded
    Buffer.from('08000100' + 'c0000201', 'hex'), // NDA_DST
    Buffer.from('06000600' + '12b5' + '0000', 'hex'), // NDA_PORT 4789, big-endian, padded
    Buffer.from('08000700' + '56341200', 'hex'), // NDA_VNI
    Buffer.from('0c00' + '0e80' + '05000100' + '01000000', 'hex'), // NDA_FDB_EXT_ATTRS | NLA_F_NESTED { NFEA_ACTIVITY_NOTIFY 1 }
  ]));
  assert.equal(msg.readUInt16LE(msg.length - 10), 14 | NLA_F_NESTED);
  assert.deepEqual(decodeMessage(neighbour, msg).attrs.fdbExtAttrs, { activityNotify: 1 });
});

test('unknown neighbour attributes survive, at the top level and in NDA_FDB_EXT_ATTRS', () => {
  const base = encodeMessage(neighbour, { header: { type: RTM_NEWNEIGH }, ndm: { family: AF_BRIDGE, ifindex: 9 }, attrs: { fdbExtAttrs: { dontRefresh: true } } });
  // NDA_FDB_EXT_ATTRS is the last attribute: grow it by an unknown NFEA (type 9), then add an unknown NDA (type 99).
  const nestAt = base.length - 8;
  const grown = Buffer.concat([base, Buffer.from('08000900' + '01020304', 'hex'), Buffer.from('06006300' + 'abcd' + '0000', 'hex')]);
  grown.writeUInt16LE(16, nestAt);
  withLength(grown);
  const msg = decodeMessage(neighbour, grown);
  assert.equal(msg.attrs.fdbExtAttrs?.dontRefresh, true);
  assert.deepEqual(unknownAttrs(msg.attrs.fdbExtAttrs!), [{ type: 9, payload: Buffer.from([1, 2, 3, 4]) }]);
  assert.deepEqual(unknownAttrs(msg.attrs), [{ type: 99, payload: Buffer.from([0xab, 0xcd]) }]);
  assert.deepEqual(encodeMessage(neighbour, msg), grown);
});

test('truncated neighbour messages raise a DecodeError naming the offset', () => {
  const captured = loadFixture('rtnetlink/neighbour-fdb.hex').find((b) => decodeMessage(neighbour, b).attrs.vni === 100)!;
  const vniAt = captured.indexOf(Buffer.from([8, 0, 7, 0]));
  assert.ok(vniAt > 28);
  const short = Buffer.from(captured);
  short.writeUInt16LE(6, vniAt); // NDA_VNI of 2 bytes
  assert.throws(() => decodeMessage(neighbour, short), (e: unknown) => e instanceof DecodeError && e.offset === vniAt + 4 && /NDA\(7 vni\)/.test(e.message));

  const cut = withLength(Buffer.from(captured.subarray(0, vniAt + 2)));
  assert.throws(() => decodeMessage(neighbour, cut), (e: unknown) => e instanceof DecodeError && e.offset === vniAt && /stray bytes/.test(e.message));

  for (const fixture of fixtures) {
    for (const bytes of loadFixture(`rtnetlink/${fixture}`)) {
      for (let n = 16; n < bytes.length; n++) {
        try {
          decodeAll(family, withLength(Buffer.from(bytes.subarray(0, n))));
        } catch (e) {
          assert.ok(e instanceof DecodeError, `${fixture}: cut at ${n}: ${String(e)}`);
        }
      }
    }
  }
});
