import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DelegatingIpam } from '../../src/cni/delegate.js';
import { runCni, type CniOutput } from '../../src/cni/dispatch.js';
import { CniError } from '../../src/cni/errors.js';
import { hostVethName } from '../../src/cni/names.js';
import { compareVersions, formatResult } from '../../src/cni/version.js';
import type { CniResult } from '../../src/cni/types.js';
import { FakeDriver, VERSIONS, attachmentEnv, baseConfig, holdNetns, type NetnsHolder } from '../support/cni.js';

let pod: NetnsHolder;
// Made at load time: the bad-input table below names paths in it when the tests are declared.
const dir = mkdtempSync(join(tmpdir(), 'sluice-cni-dispatch-'));
writeFileSync(join(dir, 'file'), '');
before(async () => {
  pod = await holdNetns();
});
after(() => {
  pod.stop();
  rmSync(dir, { recursive: true, force: true });
});

const DNS = { nameservers: ['10.96.0.10'], search: ['default.svc.cluster.local'], options: ['ndots:5'] };

/** A chained plugin's earlier result (one host interface, one address), in the 1.x shape. */
const PREVIOUS: CniResult = {
  interfaces: [{ name: 'tap0', mac: '02:00:00:00:00:aa' }],
  ips: [{ address: '192.168.7.2/24', gateway: '192.168.7.1', interface: 0 }],
  routes: [{ dst: '192.168.0.0/16', gw: '192.168.7.1' }],
  dns: { nameservers: ['192.168.7.1'] },
};

function run(env: Record<string, string | undefined>, stdin: string | Uint8Array | Record<string, unknown>, driver = new FakeDriver()): Promise<CniOutput> {
  const input = typeof stdin === 'string' || stdin instanceof Uint8Array ? stdin : JSON.stringify(stdin);
  return runCni(env, input, driver);
}

/** The error object on stdout: only the spec's four keys, and exit status 1. */
function errorOf(out: CniOutput): { cniVersion: string; code: number; msg: string; details?: string } {
  assert.equal(out.exitCode, 1, `expected a failure, got ${out.stdout}`);
  const parsed = JSON.parse(out.stdout);
  assert.deepEqual(Object.keys(parsed).filter((k) => !['cniVersion', 'code', 'msg', 'details'].includes(k)), []);
  assert.equal(typeof parsed.msg, 'string');
  return parsed;
}

describe('VERSION', () => {
  test('answers the supported versions, needing neither stdin nor other variables', async () => {
    const driver = new FakeDriver();
    const expected = { cniVersion: '1.1.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] };
    for (const stdin of ['', 'not json', '{}', '{"cniVersion":7}']) {
      const out = await run({ CNI_COMMAND: 'VERSION' }, stdin, driver);
      assert.deepEqual({ exitCode: out.exitCode, body: JSON.parse(out.stdout) }, { exitCode: 0, body: expected }, stdin);
    }
    assert.equal(driver.calls.length, 0);
  });

  test('echoes the cniVersion it was asked with, as the spec says', async () => {
    for (const asked of ['0.4.0', '1.0.0', '0.2.0']) {
      const out = await run({ CNI_COMMAND: 'VERSION' }, { cniVersion: asked });
      assert.equal(JSON.parse(out.stdout).cniVersion, asked);
    }
  });
});

for (const version of VERSIONS) {
  const legacy = compareVersions(version, '1.0.0') < 0;
  // Interface mtu (like socketPath and pciID) came with 1.1.0.
  const hasMtu = compareVersions(version, '1.1.0') >= 0;
  describe(`cniVersion ${version}`, () => {
    test(`ADD writes the result in ${version}'s shape with the config's dns`, async () => {
      const driver = new FakeDriver();
      const out = await run(attachmentEnv('ADD', pod.path), baseConfig(version, { dns: DNS }), driver);
      assert.equal(out.exitCode, 0, out.stdout);
      const result = JSON.parse(out.stdout);
      assert.equal(result.cniVersion, version);
      const host = hostVethName('c0ffee01', 'eth0');
      assert.deepEqual(
        result.interfaces,
        hasMtu
          ? [{ name: host, mac: '02:00:00:00:00:01', mtu: 1500 }, { name: 'eth0', mac: '02:00:00:00:00:02', mtu: 1500, sandbox: pod.path }]
          : [{ name: host, mac: '02:00:00:00:00:01' }, { name: 'eth0', mac: '02:00:00:00:00:02', sandbox: pod.path }],
      );
      for (const ip of result.ips) assert.equal('version' in ip, legacy, `ips[].version present exactly before 1.0.0`);
      if (legacy) assert.deepEqual(result.ips.map((ip: { version: string }) => ip.version), ['4', '6']);
      assert.deepEqual(result.ips.map((ip: { interface: number }) => ip.interface), [1, 1]);
      assert.deepEqual(result.routes, [{ dst: '0.0.0.0/0', gw: '169.254.1.1' }, { dst: '::/0', gw: 'fe80::1' }]);
      assert.deepEqual(result.dns, DNS);

      assert.equal(driver.calls.length, 1);
      const call = driver.calls[0]!;
      assert.equal(call.verb, 'add');
      if (call.verb !== 'add') return;
      assert.equal(call.req.netns, pod.path);
      assert.equal(call.req.hostVethName, host);
      assert.equal(call.req.prevResult, undefined);
      assert.equal(call.req.config.cniVersion, version);
      assert.ok(call.req.ipam instanceof DelegatingIpam && call.req.ipam.type === 'host-local');
      assert.deepEqual(call.req.cniPath, ['/opt/cni/bin', '/usr/lib/cni']);
      assert.deepEqual(
        { ...call.req.ipamRequest, netConf: undefined },
        { containerID: 'c0ffee01', ifname: 'eth0', netns: pod.path, network: 'podnet', config: baseConfig(version).ipam, netConf: undefined, requestedIPs: [] },
      );
      assert.equal(call.req.ipamRequest.netConf, call.req.config.raw);
    });

    test(`ADD after another plugin reads its ${version} prevResult and appends to it`, async () => {
      const driver = new FakeDriver();
      const prevResult = JSON.parse(JSON.stringify(formatResult(PREVIOUS, version)));
      const out = await run(attachmentEnv('ADD', pod.path), baseConfig(version, { prevResult }), driver);
      assert.equal(out.exitCode, 0, out.stdout);
      const result = JSON.parse(out.stdout);
      assert.deepEqual(result.interfaces.map((i: { name: string }) => i.name), ['tap0', hostVethName('c0ffee01', 'eth0'), 'eth0']);
      assert.deepEqual(result.ips.map((ip: { address: string; interface: number }) => [ip.address, ip.interface]), [
        ['192.168.7.2/24', 0],
        ['10.22.0.5/32', 2],
        ['fd00:22::5/128', 2],
      ]);
      assert.equal(result.routes.length, 3);
      assert.deepEqual(result.dns, PREVIOUS.dns, 'without dns in the config, the previous dns stays');
      const call = driver.calls[0]!;
      assert.ok(call.verb === 'add');
      assert.deepEqual(call.req.prevResult, legacy ? { ...PREVIOUS, interfaces: [{ name: 'tap0', mac: '02:00:00:00:00:aa' }] } : PREVIOUS);
    });

    test(`DEL reads a ${version} prevResult into the 1.x shape`, async () => {
      const driver = new FakeDriver();
      const prevResult = JSON.parse(JSON.stringify(formatResult(PREVIOUS, version)));
      const out = await run(attachmentEnv('DEL', pod.path), baseConfig(version, { prevResult }), driver);
      assert.deepEqual(out, { stdout: '', exitCode: 0 });
      const call = driver.calls[0]!;
      assert.ok(call.verb === 'del');
      assert.equal(call.req.netns, pod.path);
      assert.deepEqual(call.req.prevResult?.ips, PREVIOUS.ips);
      for (const ip of call.req.prevResult?.ips ?? []) assert.equal('version' in ip, false);
    });

    test('DEL without CNI_NETNS and without prevResult is accepted', async () => {
      const driver = new FakeDriver();
      const out = await run({ ...attachmentEnv('DEL', ''), CNI_NETNS: undefined }, baseConfig(version), driver);
      assert.deepEqual(out, { stdout: '', exitCode: 0 });
      const call = driver.calls[0]!;
      assert.ok(call.verb === 'del');
      assert.equal(call.req.netns, undefined);
      assert.equal(call.req.prevResult, undefined);
      assert.equal(call.req.hostVethName, hostVethName('c0ffee01', 'eth0'));
    });

    test('DEL of a pod whose namespace is gone still reaches the driver', async () => {
      const driver = new FakeDriver();
      const out = await run(attachmentEnv('DEL', join(dir, 'gone')), baseConfig(version), driver);
      assert.deepEqual(out, { stdout: '', exitCode: 0 });
      assert.ok(driver.calls[0]?.verb === 'del' && driver.calls[0].req.netns === undefined);
    });

    test(`CHECK ${legacy && version !== '0.4.0' ? 'is refused with code 1' : 'passes the normalized prevResult'}`, async () => {
      const driver = new FakeDriver();
      const prevResult = JSON.parse(JSON.stringify(formatResult(PREVIOUS, version)));
      const out = await run(attachmentEnv('CHECK', pod.path), baseConfig(version, { prevResult }), driver);
      if (compareVersions(version, '0.4.0') < 0) {
        const error = errorOf(out);
        assert.equal(error.code, 1);
        assert.match(error.msg, /does not allow CHECK/);
        assert.equal(error.cniVersion, version);
        assert.equal(driver.calls.length, 0);
      } else {
        assert.deepEqual(out, { stdout: '', exitCode: 0 });
        assert.ok(driver.calls[0]?.verb === 'check');
        assert.deepEqual(driver.calls[0].req.prevResult.ips, PREVIOUS.ips);
      }
    });

    for (const verb of ['GC', 'STATUS']) {
      test(`${verb} ${version === '1.1.0' ? 'reaches the driver' : 'is refused with code 1'}`, async () => {
        const driver = new FakeDriver();
        const out = await run({ CNI_COMMAND: verb, CNI_PATH: '/opt/cni/bin' }, baseConfig(version), driver);
        if (version === '1.1.0') {
          assert.deepEqual(out, { stdout: '', exitCode: 0 });
          assert.equal(driver.calls[0]?.verb, verb.toLowerCase());
        } else {
          const error = errorOf(out);
          assert.equal(error.code, 1);
          assert.match(error.msg, new RegExp(`does not allow ${verb}`));
          assert.match(error.details ?? '', /"1\.1\.0"/);
          assert.equal(driver.calls.length, 0);
        }
      });
    }

    test('a CniError from the driver reaches stdout with its code and the request\'s version', async () => {
      const driver = new FakeDriver();
      driver.failWith = new CniError(11, 'state directory is locked', 'by pid 42');
      const error = errorOf(await run(attachmentEnv('ADD', pod.path), baseConfig(version), driver));
      assert.deepEqual(error, { cniVersion: version, code: 11, msg: 'state directory is locked', details: 'by pid 42' });
    });
  });
}

describe('GC at 1.1.0', () => {
  const attachments = (list: string[]) => list.map((id) => ({ containerID: id, ifname: 'eth0' }));
  const cases: [string, Record<string, unknown>, string[]][] = [
    ['cni.dev/valid-attachments alone', { 'cni.dev/valid-attachments': attachments(['a', 'b']) }, ['a', 'b']],
    ['the older cni.dev/attachments alone', { 'cni.dev/attachments': attachments(['c']) }, ['c']],
    ['both, as libcni sends them', { 'cni.dev/valid-attachments': attachments(['a', 'b']), 'cni.dev/attachments': attachments(['a', 'b']) }, ['a', 'b']],
    ['both, differing: the union', { 'cni.dev/valid-attachments': attachments(['a']), 'cni.dev/attachments': attachments(['b']) }, ['a', 'b']],
    ['neither: no attachment is valid', {}, []],
  ];
  for (const [name, extra, expected] of cases) {
    test(name, async () => {
      const driver = new FakeDriver();
      const out = await run({ CNI_COMMAND: 'GC', CNI_PATH: '/opt/cni/bin', CNI_CONTAINERID: '', CNI_IFNAME: '', CNI_NETNS: '' }, baseConfig('1.1.0', extra), driver);
      assert.deepEqual(out, { stdout: '', exitCode: 0 });
      const call = driver.calls[0]!;
      assert.ok(call.verb === 'gc');
      assert.deepEqual(call.req.validAttachments, attachments(expected));
      assert.deepEqual(call.req.ipamGcRequest.validAttachments, attachments(expected));
      assert.equal(call.req.ipamGcRequest.network, 'podnet');
    });
  }
});

describe('STATUS errors', () => {
  for (const code of [50, 51]) {
    test(`code ${code} from the driver is the answer`, async () => {
      const driver = new FakeDriver();
      driver.failWith = new CniError(code, 'IP range exhausted');
      const error = errorOf(await run({ CNI_COMMAND: 'STATUS' }, baseConfig('1.1.0'), driver));
      assert.deepEqual(error, { cniVersion: '1.1.0', code, msg: 'IP range exhausted' });
    });
  }
});

describe('requests', () => {
  test('an unexpected exception becomes code 999 with its message', async () => {
    const driver = new FakeDriver();
    driver.failWith = new TypeError('boom');
    assert.deepEqual(errorOf(await run(attachmentEnv('ADD', pod.path), baseConfig('1.0.0'), driver)), { cniVersion: '1.0.0', code: 999, msg: 'boom' });
  });

  test('requested IPs and MAC: the capability, else args.cni, else CNI_ARGS', async () => {
    const env = attachmentEnv('ADD', pod.path, { CNI_ARGS: 'IP=10.22.0.7;MAC=02:00:00:00:00:07' });
    const cases: [Record<string, unknown>, string[], string][] = [
      [{}, ['10.22.0.7'], '02:00:00:00:00:07'],
      [{ args: { cni: { ips: ['10.22.0.8'], mac: '02:00:00:00:00:08' } } }, ['10.22.0.8'], '02:00:00:00:00:08'],
      [{ args: { cni: { ips: ['10.22.0.8'], mac: '02:00:00:00:00:08' } }, runtimeConfig: { ips: ['10.22.0.9/16'], mac: '02:00:00:00:00:09' } }, ['10.22.0.9/16'], '02:00:00:00:00:09'],
    ];
    for (const [extra, ips, mac] of cases) {
      const driver = new FakeDriver();
      await run(env, baseConfig('1.1.0', extra), driver);
      const call = driver.calls[0]!;
      assert.ok(call.verb === 'add');
      assert.deepEqual(call.req.ipamRequest.requestedIPs, ips);
      assert.equal(call.req.requestedMac, mac);
      assert.equal(call.req.ipamRequest.args, 'IP=10.22.0.7;MAC=02:00:00:00:00:07');
    }
  });

  test('dns: the config\'s, else the driver\'s (from IPAM), else the previous result\'s', async () => {
    const ipamDns = { nameservers: ['10.22.0.53'] };
    const prevResult = formatResult(PREVIOUS, '1.1.0');
    const cases: [Record<string, unknown>, unknown][] = [
      [{ dns: DNS, prevResult }, DNS],
      [{ prevResult }, ipamDns],
    ];
    for (const [extra, expected] of cases) {
      const driver = new FakeDriver();
      driver.addResult = () => ({ interfaces: [], ips: [], routes: [], dns: ipamDns });
      const out = await run(attachmentEnv('ADD', pod.path), baseConfig('1.1.0', extra), driver);
      assert.deepEqual(JSON.parse(out.stdout).dns, expected);
    }
  });

  test('the host veth name follows hostVethPrefix', async () => {
    const driver = new FakeDriver();
    await run(attachmentEnv('DEL', pod.path), baseConfig('1.1.0', { hostVethPrefix: 'ab' }), driver);
    assert.ok(driver.calls[0]?.verb === 'del' && driver.calls[0].req.hostVethName === hostVethName('c0ffee01', 'eth0', 'ab'));
  });

  test('an inconsistent driver result is an error, not a broken result', async () => {
    const driver = new FakeDriver();
    driver.addResult = () => ({ interfaces: [], ips: [{ address: '10.0.0.1/32', interface: 0 }], routes: [] });
    assert.equal(errorOf(await run(attachmentEnv('ADD', pod.path), baseConfig('1.1.0'), driver)).code, 999);
  });
});

// ---- every bad input is refused with its code, names what is wrong, and reaches no driver ----------

interface BadRow {
  name: string;
  code: number;
  /** Must appear in msg: the variable or field at fault. */
  names: string;
  command?: string;
  env?: Record<string, string | undefined>;
  /** Merged over the base config; an undefined value removes the key. */
  config?: Record<string, unknown>;
  version?: string;
  stdin?: string | Uint8Array;
}

const bridge = { mode: 'bridge' };
const badRows = (): BadRow[] => [
  // CNI_COMMAND
  { name: 'no CNI_COMMAND', code: 4, names: 'CNI_COMMAND', env: { CNI_COMMAND: undefined } },
  { name: 'unknown CNI_COMMAND', code: 4, names: 'CNI_COMMAND', command: 'ATTACH' },
  { name: 'lower-case CNI_COMMAND', code: 4, names: 'CNI_COMMAND', command: 'add' },
  // CNI_CONTAINERID
  { name: 'no CNI_CONTAINERID', code: 4, names: 'CNI_CONTAINERID', env: { CNI_CONTAINERID: undefined } },
  { name: 'empty CNI_CONTAINERID', code: 4, names: 'CNI_CONTAINERID', env: { CNI_CONTAINERID: '' } },
  { name: 'CNI_CONTAINERID starting with -', code: 4, names: 'CNI_CONTAINERID', env: { CNI_CONTAINERID: '-abc' } },
  { name: 'CNI_CONTAINERID with /', code: 4, names: 'CNI_CONTAINERID', env: { CNI_CONTAINERID: 'ab/../c' } },
  { name: 'CNI_CONTAINERID with a space', code: 4, names: 'CNI_CONTAINERID', env: { CNI_CONTAINERID: 'ab c' } },
  { name: 'CNI_CONTAINERID on DEL', code: 4, names: 'CNI_CONTAINERID', command: 'DEL', env: { CNI_CONTAINERID: 'a;b' } },
  // CNI_IFNAME
  { name: 'no CNI_IFNAME', code: 4, names: 'CNI_IFNAME', env: { CNI_IFNAME: undefined } },
  { name: 'CNI_IFNAME of 16 bytes', code: 4, names: 'CNI_IFNAME', env: { CNI_IFNAME: 'abcdefghijklmnop' } },
  { name: 'CNI_IFNAME of 8 two-byte characters', code: 4, names: 'CNI_IFNAME', env: { CNI_IFNAME: 'éééééééé' } },
  { name: 'CNI_IFNAME "."', code: 4, names: 'CNI_IFNAME', env: { CNI_IFNAME: '.' } },
  { name: 'CNI_IFNAME ".."', code: 4, names: 'CNI_IFNAME', env: { CNI_IFNAME: '..' } },
  { name: 'CNI_IFNAME with /', code: 4, names: 'CNI_IFNAME', env: { CNI_IFNAME: 'a/b' } },
  { name: 'CNI_IFNAME with :', code: 4, names: 'CNI_IFNAME', env: { CNI_IFNAME: 'eth0:1' } },
  { name: 'CNI_IFNAME with a space', code: 4, names: 'CNI_IFNAME', env: { CNI_IFNAME: 'eth 0' } },
  { name: 'CNI_IFNAME with a newline', code: 4, names: 'CNI_IFNAME', env: { CNI_IFNAME: 'eth\n0' } },
  { name: 'bad CNI_IFNAME on DEL', code: 4, names: 'CNI_IFNAME', command: 'DEL', env: { CNI_IFNAME: '..' } },
  // CNI_NETNS
  { name: 'no CNI_NETNS on ADD', code: 4, names: 'CNI_NETNS', env: { CNI_NETNS: undefined } },
  { name: 'no CNI_NETNS on CHECK', code: 4, names: 'CNI_NETNS', command: 'CHECK', env: { CNI_NETNS: undefined } },
  { name: 'relative CNI_NETNS', code: 4, names: 'CNI_NETNS', env: { CNI_NETNS: 'run/netns/x' } },
  { name: 'CNI_NETNS that does not exist', code: 4, names: 'CNI_NETNS', env: { CNI_NETNS: join(dir, 'missing') } },
  { name: 'CNI_NETNS that is a regular file', code: 4, names: 'CNI_NETNS', env: { CNI_NETNS: join(dir, 'file') } },
  { name: 'CNI_NETNS that is a directory', code: 4, names: 'CNI_NETNS', env: { CNI_NETNS: dir } },
  { name: 'CNI_NETNS that is a UTS namespace', code: 4, names: 'CNI_NETNS', env: { CNI_NETNS: '/proc/self/ns/uts' } },
  { name: 'CNI_NETNS that is the plugin\'s own', code: 4, names: 'CNI_NETNS', env: { CNI_NETNS: '/proc/self/ns/net' } },
  { name: 'CNI_NETNS that is the plugin\'s own, on DEL', code: 4, names: 'CNI_NETNS', command: 'DEL', env: { CNI_NETNS: '/proc/self/ns/net' } },
  // CNI_ARGS, CNI_PATH
  { name: 'unknown CNI_ARGS key', code: 4, names: 'CNI_ARGS', env: { CNI_ARGS: 'FOO=bar' } },
  { name: 'CNI_ARGS without =', code: 4, names: 'CNI_ARGS', env: { CNI_ARGS: 'IgnoreUnknown' } },
  { name: 'CNI_ARGS with a bad IP', code: 4, names: 'CNI_ARGS', env: { CNI_ARGS: 'IP=10.0.0.256' } },
  { name: 'CNI_ARGS with a multicast MAC', code: 4, names: 'CNI_ARGS', env: { CNI_ARGS: 'MAC=03:00:00:00:00:01' } },
  { name: 'GC without CNI_PATH', code: 4, names: 'CNI_PATH', command: 'GC', env: { CNI_PATH: undefined }, version: '1.1.0' },
  // stdin and versions
  { name: 'stdin not JSON', code: 6, names: 'stdin', stdin: '{"cniVersion":' },
  { name: 'stdin a JSON list', code: 6, names: 'stdin', stdin: '[]' },
  { name: 'stdin empty', code: 6, names: 'stdin', stdin: '' },
  { name: 'stdin not UTF-8', code: 6, names: 'stdin', stdin: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]) },
  { name: 'cniVersion a number', code: 6, names: 'cniVersion', config: { cniVersion: 1 } },
  { name: 'cniVersion unknown', code: 1, names: '"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"', version: '2.0.0' },
  { name: 'cniVersion 0.2.0', code: 1, names: '"0.2.0"', version: '0.2.0' },
  { name: 'no cniVersion (0.1.0 to libcni)', code: 1, names: '"0.1.0"', config: { cniVersion: undefined } },
  { name: 'CHECK at 0.3.1', code: 1, names: 'CHECK', command: 'CHECK', version: '0.3.1' },
  { name: 'GC at 1.0.0', code: 1, names: 'GC', command: 'GC', version: '1.0.0' },
  { name: 'STATUS at 0.4.0', code: 1, names: 'STATUS', command: 'STATUS', version: '0.4.0' },
  // protocol fields
  { name: 'no name', code: 7, names: '"name"', config: { name: undefined } },
  { name: 'name with /', code: 7, names: '"name"', config: { name: 'pod/net' } },
  { name: 'name starting with .', code: 7, names: '"name"', config: { name: '.podnet' } },
  { name: 'no type', code: 7, names: '"type"', config: { type: undefined } },
  { name: 'type with a path', code: 7, names: '"type"', config: { type: '../sluice' } },
  { name: 'ipam missing in mode ebpf', code: 7, names: '"ipam"', config: { ipam: undefined } },
  { name: 'ipam not an object', code: 7, names: '"ipam"', config: { ipam: 'host-local' } },
  { name: 'ipam without type', code: 7, names: '"ipam.type"', config: { ipam: { subnet: '10.0.0.0/8' } } },
  { name: 'ipam.type with a path', code: 7, names: '"ipam.type"', config: { ipam: { type: '/usr/lib/cni/host-local' } } },
  { name: 'dns nameserver not an address', code: 7, names: '"dns.nameservers[0]"', config: { dns: { nameservers: ['ns1'] } } },
  { name: 'dns with an unknown key', code: 2, names: '"dns.servers"', config: { dns: { servers: ['10.0.0.1'] } } },
  { name: 'args.cni.ips with a bad address', code: 7, names: '"args.cni.ips[0]"', config: { args: { cni: { ips: ['10.0.0.1/40'] } } } },
  { name: 'args.cni.mac not a MAC', code: 7, names: '"args.cni.mac"', config: { args: { cni: { mac: 'zz:zz' } } } },
  { name: 'capabilities with a non-boolean', code: 7, names: '"capabilities.ips"', config: { capabilities: { ips: 'yes' } } },
  { name: 'runtimeConfig not an object', code: 7, names: '"runtimeConfig"', config: { runtimeConfig: [] } },
  { name: 'runtimeConfig.ips with a bad address', code: 7, names: '"runtimeConfig.ips[1]"', config: { runtimeConfig: { ips: ['10.0.0.1', 'x'] } } },
  { name: 'runtimeConfig.mac all zeros', code: 7, names: '"runtimeConfig.mac"', config: { runtimeConfig: { mac: '00:00:00:00:00:00' } } },
  { name: 'runtimeConfig.portMappings port 0', code: 7, names: '"runtimeConfig.portMappings[0].hostPort"', config: { runtimeConfig: { portMappings: [{ hostPort: 0, containerPort: 80 }] } } },
  { name: 'runtimeConfig.portMappings protocol icmp', code: 7, names: '"runtimeConfig.portMappings[0].protocol"', config: { runtimeConfig: { portMappings: [{ hostPort: 1, containerPort: 80, protocol: 'icmp' }] } } },
  { name: 'runtimeConfig.bandwidth negative', code: 7, names: '"runtimeConfig.bandwidth.ingressRate"', config: { runtimeConfig: { bandwidth: { ingressRate: -1 } } } },
  { name: 'runtimeConfig.ipRanges without subnet', code: 7, names: '"runtimeConfig.ipRanges[0][0].subnet"', config: { runtimeConfig: { ipRanges: [[{ gateway: '10.0.0.1' }]] } } },
  { name: 'runtimeConfig.dns server not an address', code: 7, names: '"runtimeConfig.dns.servers[0]"', config: { runtimeConfig: { dns: { servers: ['dns'] } } } },
  { name: 'prevResult not an object', code: 7, names: '"prevResult"', config: { prevResult: 'ok' } },
  { name: 'prevResult address without prefix', code: 7, names: '"prevResult.ips[0].address"', config: { prevResult: { cniVersion: '1.1.0', ips: [{ address: '10.0.0.1' }] } } },
  { name: 'prevResult with a wrong ips[].version', code: 7, names: '"prevResult.ips[0].version"', version: '0.4.0', config: { prevResult: { ips: [{ version: '6', address: '10.0.0.1/24' }] } } },
  { name: 'CHECK without prevResult', code: 7, names: '"prevResult"', command: 'CHECK' },
  { name: 'GC attachment without ifname', code: 7, names: '"cni.dev/valid-attachments[0].ifname"', command: 'GC', config: { 'cni.dev/valid-attachments': [{ containerID: 'a' }] } },
  { name: 'GC attachments not a list', code: 7, names: '"cni.dev/attachments"', command: 'GC', config: { 'cni.dev/attachments': {} } },
  // sluice's fields
  { name: 'an unknown field', code: 2, names: '"vxlanPort" (value 4789)', config: { vxlanPort: 4789 } },
  { name: 'a bridge field in mode ebpf', code: 2, names: '"hairpinMode"', config: { hairpinMode: true } },
  { name: 'gateway in mode bridge', code: 2, names: '"gateway"', config: { ...bridge, gateway: { ipv4: '169.254.1.1' } } },
  { name: 'an unknown mode', code: 7, names: '"mode"', config: { mode: 'fast' } },
  { name: 'mtu 0', code: 7, names: '"mtu"', config: { mtu: 0 } },
  { name: 'mtu above 65535', code: 7, names: '"mtu"', config: { mtu: 65536 } },
  { name: 'mtu a string', code: 7, names: '"mtu"', config: { mtu: '1500' } },
  { name: 'mtu fractional', code: 7, names: '"mtu"', config: { mtu: 1499.5 } },
  { name: 'gateway not an object', code: 7, names: '"gateway"', config: { gateway: '169.254.1.1' } },
  { name: 'gateway.ipv4 an IPv6 address', code: 7, names: '"gateway.ipv4"', config: { gateway: { ipv4: 'fe80::1' } } },
  { name: 'gateway.ipv6 an IPv4 address', code: 7, names: '"gateway.ipv6"', config: { gateway: { ipv6: '169.254.1.1' } } },
  { name: 'gateway.ipv4 unspecified', code: 7, names: '"gateway.ipv4"', config: { gateway: { ipv4: '0.0.0.0' } } },
  { name: 'gateway with an unknown key', code: 2, names: '"gateway.ipv5"', config: { gateway: { ipv5: 'x' } } },
  { name: 'ipMasq not a boolean', code: 7, names: '"ipMasq"', config: { ipMasq: 'true' } },
  { name: 'logFile relative', code: 7, names: '"logFile"', config: { logFile: 'sluice.log' } },
  { name: 'logLevel unknown', code: 7, names: '"logLevel"', config: { logLevel: 'verbose' } },
  { name: 'pinRoot with ..', code: 7, names: '"pinRoot"', config: { pinRoot: '/sys/fs/bpf/../../etc' } },
  { name: 'stateDir relative', code: 7, names: '"stateDir"', config: { stateDir: 'run/sluice' } },
  { name: 'hostVethPrefix too long', code: 7, names: '"hostVethPrefix"', config: { hostVethPrefix: 'veth' } },
  { name: 'hostVethPrefix empty', code: 7, names: '"hostVethPrefix"', config: { hostVethPrefix: '' } },
  { name: 'hostVethPrefix starting with a digit', code: 7, names: '"hostVethPrefix"', config: { hostVethPrefix: '1a' } },
  // mode bridge
  { name: 'bridge vlan above 4094', code: 7, names: '"vlan"', config: { ...bridge, vlan: 4095 } },
  { name: 'bridge hairpinMode with promiscMode', code: 7, names: '"hairpinMode"', config: { ...bridge, hairpinMode: true, promiscMode: true } },
  { name: 'bridge vlanTrunk minID without maxID', code: 7, names: '"vlanTrunk[0].maxID"', config: { ...bridge, vlanTrunk: [{ minID: 5 }] } },
  { name: 'bridge vlanTrunk minID above maxID', code: 7, names: '"vlanTrunk[0].minID"', config: { ...bridge, vlanTrunk: [{ minID: 9, maxID: 5 }] } },
  { name: 'bridge ipMasqBackend unknown', code: 7, names: '"ipMasqBackend"', config: { ...bridge, ipMasqBackend: 'pf' } },
  { name: 'bridge name with a space', code: 7, names: '"bridge"', config: { ...bridge, bridge: 'br 0' } },
  { name: 'bridge disableContainerInterface with ipam', code: 7, names: '"disableContainerInterface"', config: { ...bridge, disableContainerInterface: true } },
];

describe('bad input', () => {
  test('the table covers every code the spec assigns to input', () => {
    assert.deepEqual([...new Set(badRows().map((r) => r.code))].sort((a, b) => a - b), [1, 2, 4, 6, 7]);
  });

  for (const row of badRows()) {
    test(`${row.name}: code ${row.code}, naming ${row.names}`, async () => {
      const command = row.command ?? 'ADD';
      const version = row.version ?? (command === 'GC' || command === 'STATUS' ? '1.1.0' : '1.0.0');
      const env: Record<string, string | undefined> = { ...attachmentEnv(command, pod.path), ...row.env };
      let stdin: string | Uint8Array;
      if (row.stdin !== undefined) {
        stdin = row.stdin;
      } else {
        const config: Record<string, unknown> = { ...baseConfig(version), ...row.config };
        if (command === 'CHECK' && !row.name.includes('without prevResult') && !('prevResult' in (row.config ?? {}))) {
          config.prevResult = formatResult(PREVIOUS, version as '1.0.0');
        }
        stdin = JSON.stringify(config);
      }
      const driver = new FakeDriver();
      const error = errorOf(await run(env, stdin, driver));
      assert.equal(error.code, row.code, `msg: ${error.msg}`);
      assert.ok(error.msg.includes(row.names), `msg ${JSON.stringify(error.msg)} should name ${row.names}`);
      const knownVersion = row.stdin === undefined && ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'].includes(version) && row.config?.cniVersion === undefined && !('cniVersion' in (row.config ?? {}));
      assert.equal(error.cniVersion, knownVersion ? version : '1.1.0');
      assert.deepEqual(driver.calls, [], 'nothing reaches the driver');
    });
  }
});
