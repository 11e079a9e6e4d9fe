import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CniError } from '../../src/cni/errors.js';
import { formatIp } from '../../src/ipam/host-local/address.js';
import { DEFAULT_DATA_DIR, parseHostLocalConfig, requestedAddresses } from '../../src/ipam/host-local/config.js';
import type { RangeSet } from '../../src/ipam/host-local/range.js';

const parse = (ipam: Record<string, unknown>, netConf: Record<string, unknown> = {}, network = 'net') =>
  parseHostLocalConfig(network, { type: 'sluice', ...ipam }, { cniVersion: '1.0.0', ...netConf });

const describe = (set: RangeSet) =>
  set.ranges.map((r) => {
    const ip = (v: bigint) => formatIp({ family: r.family, value: v });
    return { start: ip(r.start), end: ip(r.end), gateway: ip(r.gateway) };
  });

function assertInvalid(fn: () => unknown, code: number, field: string) {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof CniError, String(err));
    assert.equal(err.code, code);
    assert.ok(err.msg.includes(field), `"${err.msg}" names ${field}`);
    return true;
  });
}

test('defaults are host-local\'s: .1 gateway and start, broadcast-1 end (IPv4), last address (IPv6)', () => {
  const config = parse({ ranges: [[{ subnet: '10.22.0.0/24' }], [{ subnet: 'fd00:1::/64' }]] });
  assert.equal(config.dataDir, DEFAULT_DATA_DIR);
  assert.deepEqual(describe(config.rangeSets[0]!), [{ start: '10.22.0.1', end: '10.22.0.254', gateway: '10.22.0.1' }]);
  assert.deepEqual(describe(config.rangeSets[1]!), [{ start: 'fd00:1::1', end: 'fd00:1::ffff:ffff:ffff:ffff', gateway: 'fd00:1::1' }]);
  assert.equal(config.rangeSets[0]!.capacity, 253n);
});

test('the single-range form comes first, the ipRanges capability before it', () => {
  const config = parse(
    { subnet: '10.1.0.0/24', rangeStart: '10.1.0.10', rangeEnd: '10.1.0.20', gateway: '10.1.0.254', ranges: [[{ subnet: '10.2.0.0/24' }]] },
    { runtimeConfig: { ipRanges: [[{ subnet: '10.3.0.0/24' }]] } },
  );
  assert.deepEqual(
    config.rangeSets.map((s) => describe(s)[0]),
    [
      { start: '10.3.0.1', end: '10.3.0.254', gateway: '10.3.0.1' },
      { start: '10.1.0.10', end: '10.1.0.20', gateway: '10.1.0.254' },
      { start: '10.2.0.1', end: '10.2.0.254', gateway: '10.2.0.1' },
    ],
  );
});

test('routes, dataDir and resolvConf are read', () => {
  const config = parse({
    ranges: [[{ subnet: '10.1.0.0/24' }]],
    dataDir: '/tmp/x',
    resolvConf: '/etc/resolv.conf',
    routes: [{ dst: '0.0.0.0/0' }, { dst: '192.168.0.0/16', gw: '10.1.0.1', mtu: 1400 }],
  });
  assert.equal(config.dataDir, '/tmp/x');
  assert.equal(config.resolvConf, '/etc/resolv.conf');
  assert.deepEqual(config.routes, [{ dst: '0.0.0.0/0' }, { dst: '192.168.0.0/16', gw: '10.1.0.1', mtu: 1400 }]);
});

test('a bad config is CNI error 7 naming the field', () => {
  const r = (range: Record<string, unknown>) => ({ ranges: [[{ subnet: '10.1.0.0/24', ...range }]] });
  assertInvalid(() => parse({}), 7, 'ipam.ranges');
  assertInvalid(() => parse({ ranges: [[{}]] }), 7, 'ipam.ranges[0][0].subnet');
  assertInvalid(() => parse({ ranges: [[{ subnet: 'nonsense' }]] }), 7, 'ipam.ranges[0][0].subnet');
  assertInvalid(() => parse({ ranges: [[{ subnet: '10.1.0.5/24' }]] }), 7, 'ipam.ranges[0][0].subnet');
  assertInvalid(() => parse({ ranges: [[{ subnet: '10.1.0.0/31' }]] }), 7, 'ipam.ranges[0][0].subnet');
  assertInvalid(() => parse(r({ rangeStart: '10.2.0.1' })), 7, 'ipam.ranges[0][0].rangeStart');
  assertInvalid(() => parse(r({ rangeEnd: 'fd00::1' })), 7, 'ipam.ranges[0][0].rangeEnd');
  assertInvalid(() => parse(r({ rangeStart: '10.1.0.9', rangeEnd: '10.1.0.8' })), 7, 'ipam.ranges[0][0].rangeEnd');
  assertInvalid(() => parse(r({ gateway: 'x' })), 7, 'ipam.ranges[0][0].gateway');
  assertInvalid(() => parse({ ranges: [[{ subnet: '10.1.0.0/24' }, { subnet: 'fd00::/64' }]] }), 7, 'ipam.ranges[0][1].subnet');
  assertInvalid(() => parse({ ranges: [[{ subnet: '10.1.0.0/24' }, { subnet: '10.1.0.0/25' }]] }), 7, 'ipam.ranges[0]');
  assertInvalid(() => parse({ ranges: [[{ subnet: '10.1.0.0/24' }], [{ subnet: '10.1.0.128/25' }]] }), 7, 'ipam.ranges');
  assertInvalid(() => parse({ ranges: [[]] }), 7, 'ipam.ranges[0]');
  assertInvalid(() => parse({ ranges: 'x' }), 7, 'ipam.ranges');
  assertInvalid(() => parse({ subnet: '10.1.0.0/24', dataDir: 5 }), 7, 'ipam.dataDir');
  assertInvalid(() => parse({ subnet: '10.1.0.0/24', routes: [{ dst: '10.0.0.1' }] }), 7, 'ipam.routes[0].dst');
  assertInvalid(() => parse({ subnet: '10.1.0.0/24' }, {}, '../etc'), 7, 'name');
  assertInvalid(() => parse({ ranges: [[{ subnet: '10.1.0.0/24' }], [{ subnet: '10.2.0.0/24' }]] }, { cniVersion: '0.2.0' }), 7, 'ipam.ranges');
});

test('requested addresses: CNI_ARGS IP=, args.cni.ips, the ips capability, in that order, once each', () => {
  const netConf = { args: { cni: { ips: ['10.1.0.7', '10.1.0.5'] } }, runtimeConfig: { ips: ['10.1.0.8/24', 'fd00::9'] } };
  const ips = requestedAddresses(['10.1.0.8'], 'K8S_POD_NAME=x;IP=10.1.0.5;IgnoreUnknown=1', netConf);
  assert.deepEqual(ips.map(formatIp), ['10.1.0.5', '10.1.0.7', '10.1.0.8', 'fd00::9']);
  assertInvalid(() => requestedAddresses([], 'IP=10.1.0', {}), 4, 'CNI_ARGS');
  assertInvalid(() => requestedAddresses([], undefined, { runtimeConfig: { ips: ['bad'] } }), 7, 'runtimeConfig.ips[0]');
  assertInvalid(() => requestedAddresses([], undefined, { args: { cni: { ips: [5] } } }), 7, 'args.cni.ips[0]');
});
