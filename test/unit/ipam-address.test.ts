import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatIp, parseCidr, parseIp, parseIpOrCidr } from '../../src/ipam/host-local/address.js';

const canon = (text: string) => {
  const ip = parseIp(text);
  return ip && formatIp(ip);
};

test('IPv4 parses and prints like Go, refusing what Go refuses', () => {
  assert.equal(canon('10.22.0.5'), '10.22.0.5');
  assert.equal(canon('0.0.0.0'), '0.0.0.0');
  assert.equal(canon('255.255.255.255'), '255.255.255.255');
  for (const bad of ['010.0.0.1', '1.2.3', '256.0.0.1', '1.2.3.4.5', '1.2.3.-1', ' 1.2.3.4', '1.2.3.4/24', '']) {
    assert.equal(parseIp(bad), undefined, bad);
  }
});

test('IPv6 prints in RFC 5952 form, as Go names host-local lease files', () => {
  const cases: Array<[string, string]> = [
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['1:0:0:1:0:0:0:1', '1:0:0:1::1'], // the longest run
    ['1:0:0:1:1:0:0:1', '1::1:1:0:0:1'], // the first of equal runs
    ['1:0:1:1:1:1:1:1', '1:0:1:1:1:1:1:1'], // never "::" for one group
    ['fd00:0:0:0:0:0:0:a', 'fd00::a'],
    ['0001:0002::0003', '1:2::3'],
    ['::1.2.3.4', '::102:304'],
  ];
  for (const [input, printed] of cases) assert.equal(canon(input), printed, input);
  for (const bad of ['1::2::3', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '12345::', 'fe80::1%eth0', ':1', '1:', 'g::1', '1.2.3.4::', '::1.2.3']) {
    assert.equal(parseIp(bad), undefined, bad);
  }
});

test('IPv4-mapped IPv6 addresses become IPv4, as host-local canonicalizes them', () => {
  assert.deepEqual(parseIp('::ffff:10.1.2.3'), { family: 4, value: 0x0a010203n });
});

test('random IPv6 addresses print as the WHATWG URL serializer (also RFC 5952) prints them', () => {
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  for (let i = 0; i < 2000; i++) {
    const groups = Array.from({ length: 8 }, () => (rand() % 3 === 0 ? 0 : rand() % 0x10000));
    if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) continue;
    const full = groups.map((g) => g.toString(16)).join(':');
    assert.equal(canon(full), new URL(`http://[${full}]/`).hostname.slice(1, -1), full);
  }
});

test('CIDR and "address or CIDR" parsing', () => {
  assert.deepEqual(parseCidr('10.1.0.0/16'), { ip: { family: 4, value: 0x0a010000n }, prefix: 16 });
  assert.deepEqual(parseCidr('fd00::/64')?.prefix, 64);
  for (const bad of ['10.1.0.0', '10.1.0.0/33', '10.1.0.0/016', 'fd00::/129', '10.1.0.0/']) assert.equal(parseCidr(bad), undefined, bad);
  assert.equal(formatIp(parseIpOrCidr('10.1.2.3/24')!), '10.1.2.3');
  assert.equal(formatIp(parseIpOrCidr('fd00::5')!), 'fd00::5');
});
