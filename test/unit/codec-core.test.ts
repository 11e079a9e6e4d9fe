import assert from 'node:assert/strict';
import { test } from 'node:test';
import { byKind, decodeAttrs, decodeSelectedAttrs, encodeAttrs, nest, NLA_F_NESTED, space, unknownAttrs } from '../../src/netlink/attributes.js';
import { DecodeError, EncodeError } from '../../src/netlink/errors.js';
import { decodeAll, decodeError, encodeAny, encodeError, Family, NLM_F } from '../../src/netlink/message.js';
import { be16, cstring, flag, ipaddr, lladdr, pad, parseIP, struct, TAIL, u16, u32, u64, u8 } from '../../src/netlink/types.js';
import { Writer } from '../../src/netlink/writer.js';

const pair = struct('pair', { a: u16, _: pad(2), b: u32 });
const inner = space('INNER', { 1: ['name', cstring], 2: ['ids', u32, { multi: true }] });
const demo = space('DEMO', {
  1: ['mtu', u32],
  2: ['name', cstring],
  3: ['mac', lladdr],
  4: ['inner', nest(inner), { flags: NLA_F_NESTED }],
  5: ['on', flag],
  6: ['pair', pair],
  7: ['kind', cstring],
  8: ['data', byKind('kind', { pair, inner: nest(inner) })],
  9: ['port', be16],
  10: ['addr', ipaddr],
  11: ['big', u64],
  12: ['small', u8],
});

function attr(type: number, payload: Buffer): Buffer {
  const b = Buffer.alloc(4 + payload.length + ((4 - (payload.length & 3)) & 3));
  b.writeUInt16LE(4 + payload.length, 0);
  b.writeUInt16LE(type, 2);
  payload.copy(b, 4);
  return b;
}
const u32le = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };

function encode(obj: object): Buffer {
  const w = new Writer(8);
  encodeAttrs(w, demo, obj);
  return w.finish();
}

test('attributes encode to aligned TLVs and decode back to the same values', () => {
  const value = {
    mtu: 1500, name: 'eth0', mac: '02:00:00:00:00:01', inner: { name: 'x', ids: [1, 2, 3] }, on: true,
    pair: { a: 7, b: 9 }, kind: 'pair', data: { a: 1, b: 2 }, port: 4789, addr: 'fd00::1', big: 2n ** 40n, small: 3,
  };
  const bytes = encode(value);
  assert.equal(bytes.length % 4, 0);
  assert.deepEqual(bytes.subarray(0, 8), Buffer.from([8, 0, 1, 0, 0xdc, 0x05, 0, 0]));
  assert.deepEqual(bytes.subarray(8, 20), attr(2, Buffer.from('eth0\0')));
  const decoded = decodeAttrs(demo, bytes, 0, bytes.length);
  assert.deepEqual({ ...decoded }, value);
  assert.deepEqual(encode(decoded), bytes);
  // The port is in network byte order on the wire.
  const portAt = bytes.indexOf(Buffer.from([6, 0, 9, 0]));
  assert.deepEqual(bytes.subarray(portAt + 4, portAt + 6), Buffer.from([0x12, 0xb5]));
  // The nest carries NLA_F_NESTED because the table asks for it.
  const nestAt = bytes.indexOf(Buffer.from([4, 0x80]), 0) - 2;
  assert.equal(bytes.readUInt16LE(nestAt + 2), 4 | NLA_F_NESTED);
});

test('decode keeps arrival order, unknown attributes and flag bits for a byte-exact re-encode', () => {
  const bytes = Buffer.concat([
    attr(2, Buffer.from('lo\0')),
    attr(0x3ff0, Buffer.from([1, 2, 3])),
    attr(1 | 0x4000, u32le(65536)),
    attr(4 | NLA_F_NESTED, Buffer.concat([attr(2, u32le(5)), attr(1, Buffer.from('in\0')), attr(2, u32le(6))])),
  ]);
  const decoded = decodeAttrs(demo, bytes, 0, bytes.length);
  assert.deepEqual(unknownAttrs(decoded), [{ type: 0x3ff0, payload: Buffer.from([1, 2, 3]) }]);
  assert.deepEqual(decoded.inner, { ids: [5, 6], name: 'in' });
  assert.deepEqual(encode(decoded), bytes);
  // A changed value is re-encoded, the rest stays where it was.
  decoded.mtu = 9000;
  const again = decodeAttrs(demo, encode(decoded), 0, bytes.length);
  assert.equal(again.mtu, 9000);
  assert.equal(again.name, 'lo');
});

test('structs longer than known are accepted and keep their tail; shorter ones are decode errors', () => {
  const payload = Buffer.from([1, 0, 0, 0, 2, 0, 0, 0, 0xaa, 0xbb, 0xcc, 0xdd]);
  const bytes = attr(6, payload);
  const decoded = decodeAttrs(demo, bytes, 0, bytes.length);
  assert.deepEqual({ ...decoded.pair }, { a: 1, b: 2 });
  assert.deepEqual((decoded.pair as Record<symbol, unknown>)[TAIL], Buffer.from([0xaa, 0xbb, 0xcc, 0xdd]));
  assert.deepEqual(encode(decoded), bytes);
  const short = attr(6, Buffer.from([1, 0, 0]));
  assert.throws(() => decodeAttrs(demo, short, 0, short.length), (e: unknown) => e instanceof DecodeError && e.offset === 4 && /DEMO\(6 pair\)/.test(e.message));
});

test('non-canonical payloads (a u32 sent in 8 bytes, a string without NUL) re-encode verbatim', () => {
  const bytes = Buffer.concat([attr(1, Buffer.from([1, 0, 0, 0, 0, 0, 0, 0])), attr(2, Buffer.from('abc'))]);
  const decoded = decodeAttrs(demo, bytes, 0, bytes.length);
  assert.equal(decoded.mtu, 1);
  assert.equal(decoded.name, 'abc');
  assert.deepEqual(encode(decoded), bytes);
});

test('malformed attribute streams raise DecodeError naming the offset', () => {
  const cases: Array<[Buffer, number]> = [
    [Buffer.from([8, 0, 1, 0, 0, 0]), 0], // length overruns
    [Buffer.from([2, 0, 1, 0]), 0], // length shorter than a header
    [Buffer.concat([attr(1, u32le(1)), Buffer.from([1, 2])]), 8], // stray bytes
    [attr(1, Buffer.from([1, 2])), 4], // u32 in 2 bytes
    [attr(10, Buffer.from([1, 2, 3])), 4], // an IP address of 3 bytes
    [attr(4, Buffer.concat([Buffer.from([9, 0, 1, 0])])), 4], // nested overrun
  ];
  for (const [bytes, offset] of cases) {
    assert.throws(() => decodeAttrs(demo, bytes, 0, bytes.length), (e: unknown) => {
      assert.ok(e instanceof DecodeError, String(e));
      assert.equal(e.offset, offset, e.message);
      return true;
    });
  }
});

test('encode refuses values of the wrong type and names the attribute', () => {
  assert.throws(() => encode({ mtu: -1 }), (e: unknown) => e instanceof EncodeError && /DEMO\(1 mtu\)/.test(e.message));
  assert.throws(() => encode({ addr: '10.0.0.256' }), /DEMO\(10 addr\): expected an IPv4 or IPv6 address/);
  assert.throws(() => encode({ nope: 1 }), /no attribute named "nope"/);
  assert.throws(() => encode({ inner: { ids: 5 } }), /repeated attribute needs an array/);
});

test('byKind picks the payload type from a sibling; unknown kinds stay raw bytes', () => {
  const bytes = encode({ kind: 'inner', data: { name: 'n' } });
  assert.deepEqual({ ...decodeAttrs(demo, bytes, 0, bytes.length).data }, { name: 'n' });
  const raw = encode({ kind: 'other', data: Buffer.from([9, 9]) });
  assert.deepEqual(decodeAttrs(demo, raw, 0, raw.length).data, Buffer.from([9, 9]));
});

test('IP addresses format like inet_ntop and parse strictly', () => {
  const cases = ['::', '::1', 'fe80::1', '2001:db8::8:800:200c:417a', '1:0:0:1::', '2001:db8:0:1:1:1:1:1', '::ffff:10.1.2.3', '10.0.0.1', '255.255.255.255'];
  for (const s of cases) {
    const b = parseIP(s)!;
    assert.ok(b, s);
    assert.equal(ipaddr.decode(b, 0, b.length, { siblings: {} }), s);
  }
  for (const bad of ['1.2.3', '01.2.3.4', '1::2::3', '12345::', ':::', '1.2.3.4.5', 'g::1', '', '1:2:3:4:5:6:7:8:9']) assert.equal(parseIP(bad), undefined, bad);
});

test('NLMSG_ERROR with extended ACK decodes its message, offset and missing attribute, and re-encodes', () => {
  const family = new Family('test', []);
  const request = { len: 32, type: 16, flags: 0x405, seq: 7, pid: 0 };
  const msg = encodeError({
    header: { type: 2, flags: NLM_F.CAPPED | NLM_F.ACK_TLVS, seq: 7, pid: 1234 },
    error: -17,
    request,
    ack: { message: 'File exists', offset: 36, missingType: 3 },
  });
  const [decoded] = decodeAll(family, msg);
  assert.ok(decoded && decoded.kind === 'error');
  const err = decodeError(msg, 0);
  assert.equal(err.error, -17);
  assert.deepEqual(err.request, request);
  assert.equal(err.ack.message, 'File exists');
  assert.equal(err.ack.offset, 36);
  assert.equal(err.ack.missingType, 3);
  assert.deepEqual(encodeAny(family, decoded), msg);
});

test('decodeSelectedAttrs: a repeated attribute is collected in order; a selection is kept per space', () => {
  const w = new Writer(8);
  encodeAttrs(w, inner, { name: 'x', ids: [3, 1, 2] });
  const b = w.finish();
  const ids = ['ids'] as const;
  assert.deepEqual({ ...decodeSelectedAttrs(inner, ids, b, 0, b.length) }, { ids: [3, 1, 2] });
  assert.deepEqual({ ...decodeSelectedAttrs(inner, ['name'], b, 0, b.length) }, { name: 'x' });
  // The same array used with another space is worked out again for that space, not misread.
  const d = encode({ mtu: 9000, name: 'n' });
  assert.throws(() => decodeSelectedAttrs(demo, ids as never, d, 0, d.length), /DEMO has no attribute named "ids"/);
  assert.deepEqual({ ...decodeSelectedAttrs(inner, ids, b, 0, b.length) }, { ids: [3, 1, 2] });
});
