import assert from 'node:assert/strict';
import { test } from 'node:test';
import { endpoint, endpointCounters, maps } from '../../src/bpf/layout.js';
import { ipv4, ipv6, mac, struct, u32, u64 } from '../../src/bpf/struct.js';

test('fields are placed as a C compiler places them, padding included', () => {
  const s = struct('mixed', { a: u32, m: mac, b: u64, c: u32 });
  assert.deepEqual(s.fields.map((f) => [f.cName, f.offset]), [['a', 0], ['m', 4], ['b', 16], ['c', 24]]);
  assert.equal(s.size, 32, 'the tail padded to the 8-byte alignment');
  assert.equal(struct('camel', { endpointId: u32 }).fields[0]!.cName, 'endpoint_id');
});

test('an endpoint round-trips through its bytes, in the byte order the program reads', () => {
  const value = { ifindex: 7, id: 12, podMac: '02:00:00:00:01:01', gatewayMac: '02:00:00:00:01:fe', flags: 1 };
  const bytes = endpoint.pack(value);
  assert.equal(bytes.toString('hex'), '070000000c000000' + '020000000101' + '0200000001fe' + '01000000');
  assert.deepEqual(endpoint.unpack(bytes), value);
});

test('addresses are encoded in network byte order', () => {
  const key = Buffer.alloc(4);
  ipv4.encode(key, 0, '10.213.0.2');
  assert.equal(key.toString('hex'), '0ad50002');
  const key6 = Buffer.alloc(16);
  for (const [text, hex, canonical] of [
    ['fd00:213::2', 'fd000213000000000000000000000002', 'fd00:213::2'],
    ['::', '00000000000000000000000000000000', '::'],
    ['::ffff:10.0.0.1', '00000000000000000000ffff0a000001', '::ffff:a00:1'],
    ['1:0:0:1:0:0:0:1', '00010000000000010000000000000001', '1:0:0:1::1'],
  ] as const) {
    ipv6.encode(key6, 0, text);
    assert.equal(key6.toString('hex'), hex, text);
    assert.equal(ipv6.decode(key6, 0), canonical);
  }
  assert.equal(maps.endpointsV6.key.size, 16);
});

test('bad values are refused, naming the value', () => {
  const buf = Buffer.alloc(16);
  assert.throws(() => mac.encode(buf, 0, '02:00:00:00:01'), /not a MAC address: 02:00:00:00:01/);
  assert.throws(() => ipv4.encode(buf, 0, '10.0.0.256'), /not an IPv4 address/);
  assert.throws(() => ipv6.encode(buf, 0, '1::2::3'), /not an IPv6 address/);
  assert.throws(() => ipv6.encode(buf, 0, '1:2:3:4:5:6:7'), /not an IPv6 address/);
  assert.throws(() => endpoint.pack({ ifindex: 1 } as never), /struct endpoint: missing field id/);
});

test('nested structs decode whole', () => {
  const zero = { packets: 0n, bytes: 0n, drops: 0n };
  const value = { egress: { packets: 1n, bytes: 98n, drops: 2n }, ingress: zero };
  assert.equal(endpointCounters.size, 48);
  assert.deepEqual(endpointCounters.unpack(endpointCounters.pack(value)), value);
});
