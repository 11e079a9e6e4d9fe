import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULTS, configVersion, decodeConfig, parseConfig } from '../../src/cni/config.js';
import { CniError } from '../../src/cni/errors.js';
import { baseConfig } from '../support/cni.js';

function codeOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof CniError) return err.code;
    throw err;
  }
  return undefined;
}

describe('decoding', () => {
  test('anything but a JSON object is code 6', () => {
    for (const text of ['', '{', 'null', '[]', '"x"', '1']) assert.equal(codeOf(() => decodeConfig(text)), 6, text);
    assert.deepEqual(decodeConfig('{"a":1}'), { a: 1 });
  });

  test('cniVersion: absent or empty reads as 0.1.0, as libcni reads it; not a string is code 6', () => {
    assert.equal(configVersion({}), '0.1.0');
    assert.equal(configVersion({ cniVersion: '' }), '0.1.0');
    assert.equal(configVersion({ cniVersion: '0.4.0' }), '0.4.0');
    assert.equal(codeOf(() => configVersion({ cniVersion: 1 })), 6);
  });
});

describe('parseConfig', () => {
  test('applies sluice\'s documented defaults', () => {
    const config = parseConfig(baseConfig('1.1.0'), '1.1.0');
    assert.deepEqual(config.sluice, {
      mode: 'ebpf',
      gateway: { ipv4: '169.254.1.1', ipv6: 'fe80::1' },
      ipMasq: false,
      logLevel: 'warn',
      pinRoot: '/sys/fs/bpf/sluice',
      stateDir: '/run/sluice',
      hostVethPrefix: 'sl',
    });
    assert.equal(config.sluice.mtu, undefined);
    assert.equal(DEFAULTS.hostVethPrefix, 'sl');
    assert.deepEqual(config.args, {});
    assert.deepEqual(config.runtimeConfig, { other: {} });
    assert.deepEqual(config.capabilities, {});
    assert.equal(config.prevResult, undefined);
    assert.equal(config.validAttachments, undefined);
  });

  test('reads every sluice field', () => {
    const config = parseConfig(
      baseConfig('1.0.0', {
        mode: 'ebpf',
        mtu: 1450,
        gateway: { ipv4: '169.254.7.7', ipv6: 'fe80::7' },
        ipMasq: true,
        logFile: '/var/log/sluice.log',
        logLevel: 'debug',
        pinRoot: '/sys/fs/bpf/node1',
        stateDir: '/run/node1',
        hostVethPrefix: 'n1',
      }),
      '1.0.0',
    );
    assert.deepEqual(config.sluice, {
      mode: 'ebpf',
      mtu: 1450,
      gateway: { ipv4: '169.254.7.7', ipv6: 'fe80::7' },
      ipMasq: true,
      logFile: '/var/log/sluice.log',
      logLevel: 'debug',
      pinRoot: '/sys/fs/bpf/node1',
      stateDir: '/run/node1',
      hostVethPrefix: 'n1',
    });
  });

  test('keeps the protocol fields: ipam as given, dns, args.cni, capabilities, cni.dev keys, raw', () => {
    const raw = baseConfig('1.1.0', {
      ipam: { type: 'host-local', dataDir: '/tmp/x', ranges: [[{ subnet: '10.1.0.0/24' }]] },
      dns: { nameservers: ['10.96.0.10', 'fd00::a'], domain: 'cluster.local', search: ['svc.cluster.local'], options: ['ndots:5'] },
      args: { cni: { ips: ['10.1.0.9/24'], mac: '02:00:00:00:00:09', labels: [{ key: 'app', value: 'x' }] }, other: { anything: true } },
      capabilities: { ips: true, mac: true, portMappings: false },
      'cni.dev/some-future-key': 1,
    });
    const config = parseConfig(raw, '1.1.0');
    assert.equal(config.raw, raw);
    assert.deepEqual(config.ipam, raw.ipam);
    assert.deepEqual(config.dns, raw.dns);
    assert.deepEqual(config.args, { ips: ['10.1.0.9/24'], mac: '02:00:00:00:00:09' });
    assert.deepEqual(config.capabilities, { ips: true, mac: true, portMappings: false });
  });

  test('reads the capabilities of runtimeConfig, keeping unknown ones as given', () => {
    const config = parseConfig(
      baseConfig('1.1.0', {
        runtimeConfig: {
          ips: ['10.1.0.9', 'fd00::9/64'],
          mac: '02:00:00:00:00:09',
          dns: { servers: ['10.96.0.10'], searches: ['a.b'], options: ['ndots:5'] },
          bandwidth: { ingressRate: 1000000, ingressBurst: 2000, egressRate: 0 },
          portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'TCP' }, { hostPort: 53, containerPort: 53, protocol: 'udp', hostIP: '10.0.0.1' }],
          ipRanges: [[{ subnet: '10.1.0.0/24', rangeStart: '10.1.0.10', rangeEnd: '10.1.0.20', gateway: '10.1.0.1' }]],
          infinibandGUID: 'c2:11:22:33:44:55:66:77',
          deviceID: '0000:04:00.5',
          aliases: ['db'],
          cgroupPath: '/kubepods/x',
          'io.kubernetes.cri.pod-annotations': { a: 'b' },
        },
      }),
      '1.1.0',
    );
    assert.deepEqual(config.runtimeConfig, {
      ips: ['10.1.0.9', 'fd00::9/64'],
      mac: '02:00:00:00:00:09',
      dns: { servers: ['10.96.0.10'], searches: ['a.b'], options: ['ndots:5'] },
      bandwidth: { ingressRate: 1000000, ingressBurst: 2000, egressRate: 0 },
      portMappings: [
        { hostPort: 8080, containerPort: 80, protocol: 'tcp' },
        { hostPort: 53, containerPort: 53, protocol: 'udp', hostIP: '10.0.0.1' },
      ],
      ipRanges: [[{ subnet: '10.1.0.0/24', rangeStart: '10.1.0.10', rangeEnd: '10.1.0.20', gateway: '10.1.0.1' }]],
      infinibandGUID: 'c2:11:22:33:44:55:66:77',
      deviceID: '0000:04:00.5',
      aliases: ['db'],
      cgroupPath: '/kubepods/x',
      other: { 'io.kubernetes.cri.pod-annotations': { a: 'b' } },
    });
  });

  test('merges both GC keys; an attachment either one lists is valid', () => {
    const config = parseConfig(
      baseConfig('1.1.0', {
        'cni.dev/valid-attachments': [{ containerID: 'a', ifname: 'eth0' }, { containerID: 'b', ifname: 'eth0' }],
        'cni.dev/attachments': [{ containerID: 'b', ifname: 'eth0' }, { containerID: 'c', ifname: 'net1' }],
      }),
      '1.1.0',
    );
    assert.deepEqual(config.validAttachments, [
      { containerID: 'a', ifname: 'eth0' },
      { containerID: 'b', ifname: 'eth0' },
      { containerID: 'c', ifname: 'net1' },
    ]);
  });

  test('mode bridge: the reference bridge plugin\'s fields and defaults', () => {
    const config = parseConfig(baseConfig('1.0.0', { mode: 'bridge' }), '1.0.0');
    assert.deepEqual(config.sluice.bridge, {
      bridge: 'cni0',
      isGateway: false,
      isDefaultGateway: false,
      forceAddress: false,
      hairpinMode: false,
      promiscMode: false,
      vlan: 0,
      vlanTrunk: [],
      preserveDefaultVlan: false,
      enabledad: false,
      macspoofchk: false,
      disableContainerInterface: false,
      portIsolation: false,
    });
    const custom = parseConfig(
      baseConfig('1.0.0', {
        mode: 'bridge',
        bridge: 'br-pods',
        isDefaultGateway: true,
        ipMasq: true,
        ipMasqBackend: 'nftables',
        hairpinMode: true,
        vlan: 100,
        vlanTrunk: [{ minID: 10, maxID: 12 }, { id: 11 }, { id: 200 }],
        mtu: 9000,
      }),
      '1.0.0',
    );
    assert.equal(custom.sluice.bridge?.bridge, 'br-pods');
    assert.equal(custom.sluice.bridge?.isGateway, true, 'isDefaultGateway implies isGateway');
    assert.equal(custom.sluice.bridge?.ipMasqBackend, 'nftables');
    assert.deepEqual(custom.sluice.bridge?.vlanTrunk, [10, 11, 12, 200]);
    assert.equal(custom.sluice.mtu, 9000);
    assert.equal(custom.sluice.ipMasq, true);
  });

  test('mode bridge works without ipam; mode ebpf requires it', () => {
    const { ipam: _ipam, ...noIpam } = baseConfig('1.0.0');
    assert.equal(parseConfig({ ...noIpam, mode: 'bridge' }, '1.0.0').ipam, undefined);
    assert.equal(codeOf(() => parseConfig(noIpam, '1.0.0')), 7);
  });
});
