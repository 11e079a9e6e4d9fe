import assert from 'node:assert/strict';
import { test } from 'node:test';
import { unknownAttrs } from '../../src/netlink/attributes.js';
import { DecodeError, EncodeError } from '../../src/netlink/errors.js';
import { decodeAll, decodeMessage, encodeAny, encodeMessage, Family, NLM_F } from '../../src/netlink/message.js';
import {
  RT_SCOPE, RT_TABLE, RTM_NEWROUTE, RTN, RTNH_F, RTPROT, route, type RouteMessage,
} from '../../src/netlink/rtnetlink/route.js';
import { loadFixture } from '../support/fixtures.js';
import { attr, nlmsg, unknownPaths, withLength } from '../support/codec.js';

// Interface indexes in the capture namespace (capture-objects.sh): a veth's peer is created first.
const VE0 = 3;
const BR0 = 4;
const AF_INET = 2;
const AF_INET6 = 10;

const family = new Family('rtnetlink routes', [route]);
const fixtures = ['route-ipv4.hex', 'route-ipv6.hex'];

function routes(fixture: string): RouteMessage[] {
  return loadFixture(`rtnetlink/${fixture}`).flatMap((b) => decodeAll(family, b)).filter((m): m is RouteMessage => m.kind === 'route');
}

function byDst(list: RouteMessage[], dst: string, dstLen: number): RouteMessage {
  const found = list.filter((r) => r.attrs.dst === dst && r.rtm.dstLen === dstLen);
  assert.equal(found.length, 1, `one route to ${dst}/${dstLen}`);
  return found[0]!;
}

test('every captured route message decodes, knows all its attributes and re-encodes to the same bytes', () => {
  for (const fixture of fixtures) {
    const raw = loadFixture(`rtnetlink/${fixture}`);
    assert.ok(raw.length > 5, fixture);
    const decoded = raw.map((b) => decodeAll(family, b));
    assert.equal(decoded.at(-1)![0]!.kind, 'done', `${fixture} ends with NLMSG_DONE`);
    raw.forEach((bytes, i) => {
      const [msg] = decoded[i]!;
      assert.equal(decoded[i]!.length, 1);
      if (msg!.kind === 'route') assert.deepEqual(unknownPaths((msg as RouteMessage).attrs), [], `${fixture} message ${i}`);
      assert.deepEqual(encodeAny(family, msg!), bytes, `${fixture} message ${i} re-encodes`);
    });
  }
});

test('the captured IPv4 routes carry what capture-objects.sh configured', () => {
  const list = routes('route-ipv4.hex');
  assert.ok(list.every((r) => r.rtm.family === AF_INET));

  const multipath = byDst(list, '10.30.0.0', 24);
  assert.equal(multipath.rtm.protocol, RTPROT.STATIC);
  assert.equal(multipath.attrs.gateway, undefined);
  assert.deepEqual(multipath.attrs.multipath, [
    { flags: 0, hops: 0, ifindex: VE0, attrs: { gateway: '10.10.0.2' } },
    { flags: 0, hops: 2, ifindex: BR0, attrs: { gateway: '10.20.0.2' } }, // weight 3
  ]);

  const metrics = byDst(list, '10.40.0.0', 16);
  assert.deepEqual({ ...metrics.attrs.metrics }, { lock: 1 << 2, mtu: 1400, advmss: 1360, hoplimit: 32, ccAlgo: 'reno' });
  assert.equal(metrics.attrs.gateway, '10.10.0.2');
  assert.equal(metrics.attrs.oif, VE0);

  const onlink = byDst(list, '10.50.0.0', 24);
  assert.equal(onlink.rtm.flags & RTNH_F.ONLINK, RTNH_F.ONLINK);
  assert.equal(onlink.attrs.gateway, '192.168.99.1');

  const table100 = byDst(list, '10.60.0.0', 24);
  assert.deepEqual(
    { table: table100.rtm.table, scope: table100.rtm.scope, protocol: table100.rtm.protocol },
    { table: 100, scope: RT_SCOPE.LINK, protocol: RTPROT.STATIC },
  );
  assert.deepEqual({ table: table100.attrs.table, priority: table100.attrs.priority, oif: table100.attrs.oif }, { table: 100, priority: 7, oif: BR0 });

  assert.equal(byDst(list, '10.70.0.0', 24).rtm.type, RTN.BLACKHOLE);
  assert.deepEqual(byDst(list, '10.80.0.0', 24).attrs.via, { family: AF_INET6, address: 'fd00:10::2' });

  const connected = byDst(list, '10.10.0.0', 24);
  assert.deepEqual({ protocol: connected.rtm.protocol, prefsrc: connected.attrs.prefsrc }, { protocol: RTPROT.KERNEL, prefsrc: '10.10.0.1' });
  const local = byDst(list, '10.10.0.1', 32);
  assert.deepEqual({ type: local.rtm.type, table: local.rtm.table, scope: local.rtm.scope }, { type: RTN.LOCAL, table: RT_TABLE.LOCAL, scope: RT_SCOPE.HOST });
});

test('the captured IPv6 routes carry what capture-objects.sh configured', () => {
  const list = routes('route-ipv6.hex');
  const plain = byDst(list, 'fd00:30::', 64);
  assert.deepEqual(
    { gateway: plain.attrs.gateway, oif: plain.attrs.oif, priority: plain.attrs.priority, family: plain.rtm.family },
    { gateway: 'fd00:10::2', oif: VE0, priority: 100, family: AF_INET6 },
  );
  assert.equal(plain.attrs.cacheinfo?.expires, 0);

  const multipath = byDst(list, 'fd00:40::', 64);
  assert.deepEqual(multipath.attrs.multipath?.map((h) => [h.ifindex, h.hops, h.attrs.gateway]), [
    [VE0, 0, 'fd00:10::2'],
    [BR0, 1, 'fd00:20::2'],
  ]);
});

test('a multipath route built from scratch is byte for byte what the kernel sent', () => {
  const captured = loadFixture('rtnetlink/route-ipv4.hex').find((b) => decodeMessage(route, b).attrs.dst === '10.30.0.0')!;
  const { header } = decodeMessage(route, captured);
  const fresh = encodeMessage(route, {
    header,
    rtm: { family: AF_INET, dstLen: 24, table: RT_TABLE.MAIN, protocol: RTPROT.STATIC, type: RTN.UNICAST },
    attrs: {
      table: RT_TABLE.MAIN,
      dst: '10.30.0.0',
      multipath: [
        { flags: 0, hops: 0, ifindex: VE0, attrs: { gateway: '10.10.0.2' } },
        { flags: 0, hops: 2, ifindex: BR0, attrs: { gateway: '10.20.0.2' } },
      ],
    },
  });
  assert.deepEqual(fresh, captured);
});

test('a route request encodes its header, rtmsg, metrics and next hops where the uapi puts them', () => {
  const msg = encodeMessage(route, {
    header: { type: RTM_NEWROUTE, flags: NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL, seq: 9 },
    rtm: { family: AF_INET, dstLen: 16, table: RT_TABLE.MAIN, protocol: RTPROT.BOOT, scope: RT_SCOPE.UNIVERSE, type: RTN.UNICAST, flags: RTNH_F.ONLINK },
    attrs: {
      dst: '10.40.0.0',
      metrics: { mtu: 1400 },
      multipath: [{ flags: RTNH_F.ONLINK, hops: 1, ifindex: 7, attrs: { gateway: '192.168.1.1' } }],
    },
  });
  const expected = Buffer.concat([
    Buffer.from('44000000' + '1800' + '0506' + '09000000' + '00000000', 'hex'), // nlmsghdr: len 68, RTM_NEWROUTE, flags 0x605, seq 9
    Buffer.from([AF_INET, 16, 0, 0, 254, 3, 0, 1, 4, 0, 0, 0]), // rtmsg
    Buffer.from('0800' + '0100' + '0a280000', 'hex'), // RTA_DST 10.40.0.0
    Buffer.from('0c00' + '0800' + '0800' + '0200' + '78050000', 'hex'), // RTA_METRICS { RTAX_MTU 1400 }
    Buffer.from('1400' + '0900' + '1000' + '04' + '01' + '07000000' + '0800' + '0500' + 'c0a80101', 'hex'), // RTA_MULTIPATH
  ]);
  assert.deepEqual(msg, expected);
  const back = decodeMessage(route, msg);
  assert.deepEqual(back.attrs.multipath?.[0]?.attrs.gateway, '192.168.1.1');
  assert.equal(back.rtm.flags, RTNH_F.ONLINK);
});

test('RTA_VIA encodes its family before the address and refuses an address of the wrong family', () => {
  const msg = encodeMessage(route, { header: { type: RTM_NEWROUTE }, attrs: { via: { family: AF_INET6, address: 'fe80::1' } } });
  assert.deepEqual(msg.subarray(28), Buffer.concat([Buffer.from('16001200' + '0a00', 'hex'), Buffer.from('fe800000000000000000000000000001', 'hex'), Buffer.alloc(2)]));
  assert.deepEqual(decodeMessage(route, msg).attrs.via, { family: AF_INET6, address: 'fe80::1' });
  assert.throws(() => encodeMessage(route, { header: { type: RTM_NEWROUTE }, attrs: { via: { family: AF_INET, address: 'fe80::1' } } }), EncodeError);
  // Other families keep their address as bytes.
  const mpls = encodeMessage(route, { header: { type: RTM_NEWROUTE }, attrs: { via: { family: 17, address: Buffer.from([1, 2, 3, 4, 5, 6]) } } });
  assert.deepEqual(decodeMessage(route, mpls).attrs.via, { family: 17, address: Buffer.from([1, 2, 3, 4, 5, 6]) });
});

test('unknown attributes survive at the top level, in RTA_METRICS and in a next hop', () => {
  const rtm = Buffer.from([AF_INET, 24, 0, 0, 254, 4, 0, 1, 0, 0, 0, 0]);
  const hop = (ifindex: number, attrs: Buffer) => {
    const h = Buffer.alloc(8);
    h.writeUInt16LE(8 + attrs.length, 0);
    h.writeInt32LE(ifindex, 4);
    return Buffer.concat([h, attrs]);
  };
  const body = Buffer.concat([
    attr(1, Buffer.from([10, 30, 0, 0])),
    attr(200, Buffer.from('future')),
    attr(8, Buffer.concat([attr(2, Buffer.from([0x78, 5, 0, 0])), attr(60, Buffer.from([1, 2, 3]))])),
    attr(9, Buffer.concat([hop(3, Buffer.concat([attr(5, Buffer.from([10, 10, 0, 2])), attr(90, Buffer.from([7]))])), hop(4, Buffer.alloc(0))])),
  ]);
  const bytes = nlmsg(RTM_NEWROUTE, Buffer.concat([rtm, body]));
  const msg = decodeMessage(route, bytes);
  assert.deepEqual(unknownAttrs(msg.attrs), [{ type: 200, payload: Buffer.from('future') }]);
  assert.deepEqual(unknownAttrs(msg.attrs.metrics!), [{ type: 60, payload: Buffer.from([1, 2, 3]) }]);
  assert.equal(msg.attrs.metrics?.mtu, 1400);
  assert.deepEqual(unknownAttrs(msg.attrs.multipath![0]!.attrs), [{ type: 90, payload: Buffer.from([7]) }]);
  assert.equal(msg.attrs.multipath![1]!.ifindex, 4);
  assert.deepEqual(encodeMessage(route, msg), bytes);
});

test('truncated or impossible route messages raise a DecodeError naming the offset', () => {
  const captured = loadFixture('rtnetlink/route-ipv4.hex').find((b) => decodeMessage(route, b).attrs.dst === '10.30.0.0')!;
  const multipathAt = captured.indexOf(Buffer.from([0x24, 0, 9, 0])); // RTA_MULTIPATH: 4 + 2 * (8 + 8) bytes
  assert.ok(multipathAt > 28);

  // Cut inside RTA_MULTIPATH, with the netlink length telling the truth about the cut.
  const cut = withLength(Buffer.from(captured.subarray(0, multipathAt + 20)));
  assert.throws(() => decodeMessage(route, cut), (e: unknown) =>
    e instanceof DecodeError && e.offset === multipathAt && /RTA\(9 multipath\)/.test(e.message));

  // A next hop whose length overruns RTA_MULTIPATH.
  const overrun = Buffer.from(captured);
  overrun.writeUInt16LE(200, multipathAt + 4);
  assert.throws(() => decodeMessage(route, overrun), (e: unknown) =>
    e instanceof DecodeError && e.offset === multipathAt + 4 && /rtnexthop length 200 overruns/.test(e.message));

  // A next hop shorter than struct rtnexthop.
  const short = Buffer.from(captured);
  short.writeUInt16LE(4, multipathAt + 4);
  assert.throws(() => decodeMessage(route, short), (e: unknown) => e instanceof DecodeError && e.offset === multipathAt + 4);

  // A netlink length beyond the buffer.
  assert.throws(() => decodeMessage(route, captured.subarray(0, captured.length - 4)), (e: unknown) =>
    e instanceof DecodeError && e.offset === 0 && /overruns the buffer/.test(e.message));

  // Every cut of every captured message is a DecodeError or a shorter valid message, never anything else.
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
