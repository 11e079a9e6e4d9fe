import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SUPPORTED_VERSIONS, type CniResult } from '../../src/cni/types.js';
import { ResultShapeError, compareVersions, formatResult, isSupportedVersion, parseResult, versionsFrom } from '../../src/cni/version.js';

const dualStack: CniResult = {
  interfaces: [
    { name: 'sl0123456789abc', mac: '02:00:00:00:00:01', mtu: 1450 },
    { name: 'eth0', mac: '02:00:00:00:00:02', mtu: 1450, sandbox: '/run/netns/p1', socketPath: '/run/x.sock', pciID: '0000:00:01.0' },
  ],
  ips: [
    { address: '10.1.0.5/32', gateway: '169.254.1.1', interface: 1 },
    { address: 'fd00::5/128', gateway: 'fe80::1', interface: 1 },
  ],
  routes: [{ dst: '0.0.0.0/0', gw: '169.254.1.1', mtu: 1400, table: 100, scope: 0 }, { dst: '::/0' }],
  dns: { nameservers: ['10.96.0.10'], search: ['svc.cluster.local'] },
};

describe('version ordering', () => {
  test('compares numerically, not as text', () => {
    assert.ok(compareVersions('0.10.0', '0.4.0') > 0);
    assert.ok(compareVersions('0.4.0', '0.3.1') > 0);
    assert.ok(compareVersions('0.3.1', '0.3.0') > 0);
    assert.ok(compareVersions('1.0.0', '0.4.0') > 0);
    assert.ok(compareVersions('1.1.0', '1.0.0') > 0);
    assert.ok(compareVersions('1.0.0', '1.1.0') < 0);
    assert.equal(compareVersions('1.1.0', '1.1.0'), 0);
    assert.ok(compareVersions('2.0.0', '1.99.99') > 0);
  });

  test('refuses malformed versions', () => {
    for (const bad of ['1.0', '1.0.0.0', 'v1.0.0', '01.0.0', '', '1.0.x']) assert.throws(() => compareVersions(bad, '1.0.0'), /major\.minor\.patch/, bad);
  });

  test('the supported list is ascending, and versionsFrom keeps the tail', () => {
    const sorted = [...SUPPORTED_VERSIONS].sort(compareVersions);
    assert.deepEqual(sorted, [...SUPPORTED_VERSIONS]);
    assert.deepEqual(SUPPORTED_VERSIONS, ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0']);
    assert.deepEqual(versionsFrom('0.4.0'), ['0.4.0', '1.0.0', '1.1.0']);
    assert.deepEqual(versionsFrom('1.1.0'), ['1.1.0']);
  });

  test('supported means exactly the five versions', () => {
    for (const v of SUPPORTED_VERSIONS) assert.ok(isSupportedVersion(v));
    for (const v of ['0.1.0', '0.2.0', '1.2.0', '2.0.0', '', 1, undefined]) assert.equal(isSupportedVersion(v), false, String(v));
  });
});

describe('formatResult', () => {
  test('1.1.0: the 1.x shape, no ips[].version, every interface and route field kept', () => {
    const out = formatResult(dualStack, '1.1.0');
    assert.deepEqual(out, { cniVersion: '1.1.0', ...dualStack });
    for (const ip of out.ips as object[]) assert.equal('version' in ip, false);
  });

  test('1.0.0: no ips[].version; interfaces and routes without the fields 1.1.0 added', () => {
    const out = formatResult(dualStack, '1.0.0');
    assert.deepEqual(out, {
      cniVersion: '1.0.0',
      interfaces: [
        { name: 'sl0123456789abc', mac: '02:00:00:00:00:01' },
        { name: 'eth0', mac: '02:00:00:00:00:02', sandbox: '/run/netns/p1' },
      ],
      ips: dualStack.ips,
      routes: [{ dst: '0.0.0.0/0', gw: '169.254.1.1' }, { dst: '::/0' }],
      dns: dualStack.dns,
    });
  });

  for (const version of ['0.3.0', '0.3.1', '0.4.0'] as const) {
    test(`${version}: ips[].version by family; interfaces only name, mac, sandbox`, () => {
      const out = formatResult(dualStack, version);
      assert.deepEqual(out, {
        cniVersion: version,
        interfaces: [
          { name: 'sl0123456789abc', mac: '02:00:00:00:00:01' },
          { name: 'eth0', mac: '02:00:00:00:00:02', sandbox: '/run/netns/p1' },
        ],
        ips: [
          { version: '4', interface: 1, address: '10.1.0.5/32', gateway: '169.254.1.1' },
          { version: '6', interface: 1, address: 'fd00::5/128', gateway: 'fe80::1' },
        ],
        routes: [{ dst: '0.0.0.0/0', gw: '169.254.1.1' }, { dst: '::/0' }],
        dns: dualStack.dns,
      });
      // libcni's key order, so the JSON reads like the reference plugins'.
      assert.deepEqual(Object.keys((out.ips as object[])[0]!), ['version', 'interface', 'address', 'gateway']);
    });
  }

  test('leaves out empty lists and an empty dns', () => {
    assert.deepEqual(formatResult({ interfaces: [], ips: [], routes: [], dns: {} }, '1.1.0'), { cniVersion: '1.1.0' });
    assert.deepEqual(formatResult({ interfaces: [], ips: [], routes: [], dns: { nameservers: [] } }, '0.4.0'), { cniVersion: '0.4.0' });
  });

  test('does not share objects with its input', () => {
    const out = formatResult(dualStack, '1.1.0');
    (out.ips as { address: string }[])[0]!.address = '1.2.3.4/32';
    assert.equal(dualStack.ips[0]!.address, '10.1.0.5/32');
  });
});

describe('parseResult', () => {
  test('reads every supported version back into the same 1.x result', () => {
    const representable: CniResult = {
      ...dualStack,
      interfaces: dualStack.interfaces.map(({ name, mac, sandbox }) => ({ name, mac: mac!, ...(sandbox ? { sandbox } : {}) })),
      routes: dualStack.routes.map(({ dst, gw }) => ({ dst, ...(gw ? { gw } : {}) })),
    };
    for (const version of SUPPORTED_VERSIONS) {
      const wire = JSON.parse(JSON.stringify(formatResult(representable, version)));
      assert.deepEqual(parseResult(wire, '1.1.0'), representable, version);
    }
  });

  test('reads 0.2.0 (ip4/ip6) results, as old IPAM plugins write them', () => {
    const parsed = parseResult(
      {
        cniVersion: '0.2.0',
        ip4: { ip: '10.1.0.5/16', gateway: '10.1.0.1', routes: [{ dst: '0.0.0.0/0' }] },
        ip6: { ip: 'fd00::5/64', routes: [{ dst: '::/0', gw: 'fd00::1' }] },
        dns: { nameservers: ['10.1.0.1'] },
      },
      '0.4.0',
    );
    assert.deepEqual(parsed, {
      interfaces: [],
      ips: [{ address: '10.1.0.5/16', gateway: '10.1.0.1' }, { address: 'fd00::5/64' }],
      routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0', gw: 'fd00::1' }],
      dns: { nameservers: ['10.1.0.1'] },
    });
  });

  test('a result without cniVersion is read in the fallback version', () => {
    const ips = [{ version: '4', address: '10.1.0.5/16' }];
    assert.deepEqual(parseResult({ ips }, '0.4.0').ips, [{ address: '10.1.0.5/16' }]);
    // In 0.2.0's shape there is no `ips`: the fallback decides how the object is read.
    assert.deepEqual(parseResult({ ips, ip4: { ip: '10.9.0.1/8' } }, '0.2.0').ips, [{ address: '10.9.0.1/8' }]);
  });

  test('ignores members it does not know; 1.x ignores a stray ips[].version', () => {
    const parsed = parseResult({ cniVersion: '1.0.0', ips: [{ address: '10.1.0.5/16', version: '6' }], foo: 1 }, '1.0.0');
    assert.deepEqual(parsed, { interfaces: [], ips: [{ address: '10.1.0.5/16' }], routes: [] });
  });

  const bad: [string, unknown, string][] = [
    ['not an object', [], 'result'],
    ['cniVersion not a string', { cniVersion: 1 }, 'result.cniVersion'],
    ['an unknown version', { cniVersion: '2.0.0' }, 'result.cniVersion'],
    ['ips not a list', { cniVersion: '1.0.0', ips: {} }, 'result.ips'],
    ['an address without prefix', { cniVersion: '1.0.0', ips: [{ address: '10.1.0.5' }] }, 'result.ips[0].address'],
    ['a prefix too long', { cniVersion: '1.0.0', ips: [{ address: '10.1.0.5/33' }] }, 'result.ips[0].address'],
    ['a bad gateway', { cniVersion: '1.0.0', ips: [{ address: '10.1.0.5/24', gateway: '10.1.0' }] }, 'result.ips[0].gateway'],
    ['a negative interface index', { cniVersion: '1.0.0', ips: [{ address: '10.1.0.5/24', interface: -1 }] }, 'result.ips[0].interface'],
    ['a version that contradicts the address', { cniVersion: '0.4.0', ips: [{ version: '6', address: '10.1.0.5/24' }] }, 'result.ips[0].version'],
    ['an interface without name', { cniVersion: '1.1.0', interfaces: [{ mac: '02:00:00:00:00:01' }] }, 'result.interfaces[0].name'],
    ['a route without dst', { cniVersion: '1.1.0', routes: [{ gw: '10.0.0.1' }] }, 'result.routes[0].dst'],
    ['a fractional route mtu', { cniVersion: '1.1.0', routes: [{ dst: '0.0.0.0/0', mtu: 1.5 }] }, 'result.routes[0].mtu'],
    ['a dns search that is not a string', { cniVersion: '1.1.0', dns: { search: [1] } }, 'result.dns.search[0]'],
    ['a 0.2.0 ip4 without prefix', { cniVersion: '0.2.0', ip4: { ip: '10.0.0.1' } }, 'result.ip4.ip'],
  ];
  for (const [name, raw, path] of bad) {
    test(`refuses ${name}, naming ${path}`, () => {
      assert.throws(() => parseResult(raw, '1.1.0'), (err: unknown) => err instanceof ResultShapeError && err.path === path);
    });
  }
});
