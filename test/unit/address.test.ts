import assert from 'node:assert/strict';
import { test } from 'node:test';
import { unknownAttrs } from '../../src/netlink/attributes.js';
import { DecodeError } from '../../src/netlink/errors.js';
import { decodeAll, decodeMessage, encodeAny, encodeMessage, Family, NLM_F } from '../../src/netlink/message.js';
import { address, IFA_F, IFAPROT, INFINITY_LIFE_TIME, RTM_NEWADDR, type AddressMessage } from '../../src/netlink/rtnetlink/address.js';
import { RT_SCOPE } from '../../src/netlink/rtnetlink/route.js';
import { loadFixture } from '../support/fixtures.js';
import { unknownPaths, withLength } from '../support/codec.js';

// Interface indexes in the capture namespace (capture-objects.sh): a veth's peer is created first.
const LO = 1;
const VE0 = 3;
const BR0 = 4;
const AF_INET = 2;
const AF_INET6 = 10;

const family = new Family('rtnetlink addresses', [address]);
const raw = loadFixture('rtnetlink/address-dump.hex');
const addresses = raw.flatMap((b) => decodeAll(family, b)).filter((m): m is AddressMessage => m.kind === 'address');

function find(addr: string): AddressMessage {
  const found = addresses.filter((a) => a.attrs.address === addr);
  assert.equal(found.length, 1, `one address ${addr}`);
  return found[0]!;
}

test('every captured address message decodes, knows all its attributes and re-encodes to the same bytes', () => {
  assert.ok(raw.length >= 10);
  raw.forEach((bytes, i) => {
    const msgs = decodeAll(family, bytes);
    assert.equal(msgs.length, 1);
    if (msgs[0]!.kind === 'address') assert.deepEqual(unknownPaths((msgs[0] as AddressMessage).attrs), [], `message ${i}`);
    assert.deepEqual(encodeAny(family, msgs[0]!), bytes, `message ${i} re-encodes`);
  });
  assert.equal(decodeAll(family, raw.at(-1)!)[0]!.kind, 'done');
});

test('the captured IPv4 addresses carry their prefix length, label, broadcast and metric', () => {
  const labelled = find('10.10.0.1');
  assert.deepEqual(labelled.ifaddr, { family: AF_INET, prefixlen: 24, flags: IFA_F.PERMANENT, scope: RT_SCOPE.UNIVERSE, index: VE0 });
  assert.deepEqual({ local: labelled.attrs.local, label: labelled.attrs.label, flags: labelled.attrs.flags }, { local: '10.10.0.1', label: 've0:app', flags: IFA_F.PERMANENT });
  assert.equal(labelled.attrs.cacheinfo?.valid, INFINITY_LIFE_TIME);

  const metric = find('10.10.1.1');
  assert.deepEqual({ prefixlen: metric.ifaddr.prefixlen, label: metric.attrs.label, rtPriority: metric.attrs.rtPriority }, { prefixlen: 24, label: 've0', rtPriority: 50 });

  const bridge = find('10.20.0.1');
  assert.deepEqual({ index: bridge.ifaddr.index, broadcast: bridge.attrs.broadcast, label: bridge.attrs.label }, { index: BR0, broadcast: '10.20.0.255', label: 'br0' });

  const loopback = find('127.0.0.1');
  assert.deepEqual({ prefixlen: loopback.ifaddr.prefixlen, scope: loopback.ifaddr.scope, index: loopback.ifaddr.index }, { prefixlen: 8, scope: RT_SCOPE.HOST, index: LO });
});

test('the captured IPv6 addresses carry their flags, lifetimes and protocol', () => {
  const nodad = find('fd00:10::1');
  assert.deepEqual(nodad.ifaddr, { family: AF_INET6, prefixlen: 64, flags: IFA_F.PERMANENT | IFA_F.NODAD, scope: RT_SCOPE.UNIVERSE, index: VE0 });
  assert.equal(nodad.attrs.flags, IFA_F.PERMANENT | IFA_F.NODAD);

  const expiring = find('fd00:10::99');
  assert.deepEqual({ preferred: expiring.attrs.cacheinfo?.preferred, valid: expiring.attrs.cacheinfo?.valid }, { preferred: 1800, valid: 3600 });
  assert.equal(expiring.attrs.flags! & IFA_F.PERMANENT, 0);

  const linkLocal = addresses.filter((a) => a.ifaddr.family === AF_INET6 && a.ifaddr.scope === RT_SCOPE.LINK);
  assert.ok(linkLocal.length >= 3);
  for (const a of linkLocal) {
    assert.match(a.attrs.address!, /^fe80::/);
    assert.equal(a.attrs.proto, IFAPROT.KERNEL_LL);
  }
  // ve0 is 02:00:00:00:00:01, so its EUI-64 link-local address is fixed.
  assert.equal(linkLocal.find((a) => a.ifaddr.index === VE0)?.attrs.address, 'fe80::ff:fe00:1');
});

test('an address request encodes ifaddrmsg and its attributes where the uapi puts them', () => {
  const msg = encodeMessage(address, {
    header: { type: RTM_NEWADDR, flags: NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL, seq: 3 },
    ifaddr: { family: AF_INET, prefixlen: 24, index: 7 },
    attrs: { local: '192.168.1.2', address: '192.168.1.2', label: 'eth0:x', flags: IFA_F.NOPREFIXROUTE },
  });
  assert.deepEqual(msg, Buffer.concat([
    Buffer.from('3c000000' + '1400' + '0506' + '03000000' + '00000000', 'hex'), // len 60, RTM_NEWADDR
    Buffer.from([AF_INET, 24, 0, 0, 7, 0, 0, 0]), // ifaddrmsg
    Buffer.from('08000200c0a80102', 'hex'), // IFA_LOCAL
    Buffer.from('08000100c0a80102', 'hex'), // IFA_ADDRESS
    Buffer.from('0b000300' + Buffer.from('eth0:x\0').toString('hex') + '00', 'hex'), // IFA_LABEL, padded
    Buffer.from('0800080000020000', 'hex'), // IFA_FLAGS 0x200
  ]));
});

test('a captured address rebuilt from its values is byte for byte what the kernel sent', () => {
  const captured = raw.find((b) => decodeMessage(address, b).attrs.label === 've0:app')!;
  const { header, attrs } = decodeMessage(address, captured);
  const fresh = encodeMessage(address, {
    header,
    ifaddr: { family: AF_INET, prefixlen: 24, flags: IFA_F.PERMANENT, index: VE0 },
    attrs: { address: '10.10.0.1', local: '10.10.0.1', label: 've0:app', flags: IFA_F.PERMANENT, cacheinfo: { ...attrs.cacheinfo! } },
  });
  assert.deepEqual(fresh, captured);
});

test('unknown address attributes survive a round trip', () => {
  const captured = raw.find((b) => decodeMessage(address, b).attrs.label === 've0:app')!;
  const extra = Buffer.from('0900' + 'f000' + 'aabbccdd' + 'ee' + '000000', 'hex'); // type 240, 5 bytes, padded
  const bytes = withLength(Buffer.concat([captured, extra]));
  const msg = decodeMessage(address, bytes);
  assert.deepEqual(unknownAttrs(msg.attrs), [{ type: 240, payload: Buffer.from('aabbccddee', 'hex') }]);
  assert.equal(msg.attrs.label, 've0:app');
  assert.deepEqual(encodeMessage(address, msg), bytes);
});

test('truncated address messages raise a DecodeError naming the offset', () => {
  const captured = raw.find((b) => decodeMessage(address, b).attrs.label === 've0:app')!;
  const labelAt = captured.indexOf(Buffer.from([0x0c, 0, 3, 0])); // IFA_LABEL "ve0:app\0"
  assert.ok(labelAt > 24);
  const cut = withLength(Buffer.from(captured.subarray(0, labelAt + 6)));
  assert.throws(() => decodeMessage(address, cut), (e: unknown) =>
    e instanceof DecodeError && e.offset === labelAt && /IFA\(3 label\)/.test(e.message));

  // ifaddrmsg itself cut short.
  const header = withLength(Buffer.from(captured.subarray(0, 20)));
  assert.throws(() => decodeMessage(address, header), (e: unknown) => e instanceof DecodeError && e.offset === 16 && /ifaddrmsg/.test(e.message));

  // IFA_ADDRESS of 3 bytes.
  const bad = Buffer.from(captured);
  const addressAt = bad.indexOf(Buffer.from([0x08, 0, 1, 0]));
  bad.writeUInt16LE(7, addressAt);
  assert.throws(() => decodeMessage(address, bad), (e: unknown) => e instanceof DecodeError && e.offset === addressAt + 4 && /IFA\(1 address\)/.test(e.message));

  for (const bytes of raw) {
    for (let n = 16; n < bytes.length; n++) {
      try {
        decodeAll(family, withLength(Buffer.from(bytes.subarray(0, n))));
      } catch (e) {
        assert.ok(e instanceof DecodeError, `cut at ${n}: ${String(e)}`);
      }
    }
  }
});
