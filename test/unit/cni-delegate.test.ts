import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { DelegatingIpam, findPlugin } from '../../src/cni/delegate.js';
import type { AddRequest, CheckRequest, DelRequest, GcRequest, StatusRequest } from '../../src/cni/dispatch.js';
import { runCni } from '../../src/cni/dispatch.js';
import { CniError } from '../../src/cni/errors.js';
import type { EnvVars } from '../../src/cni/env.js';
import type { CniResult, PluginConfig } from '../../src/cni/types.js';
import type { IpamRequest } from '../../src/ipam/types.js';
import { FakeDriver, holdNetns, type NetnsHolder } from '../support/cni.js';

/**
 * A stand-in IPAM plugin: records each invocation's CNI_* environment and stdin as `<n>.<VERB>.env` and
 * `<n>.<VERB>.stdin`, writes a line to stderr, then prints `<VERB>.out` and exits with `<VERB>.exit`.
 */
const FAKE_PLUGIN = `#!/bin/sh
d="\${0%/*}/../record"
n=$(cat "$d/count" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$d/count"
env | grep '^CNI_' | LC_ALL=C sort > "$d/$n.$CNI_COMMAND.env"
cat > "$d/$n.$CNI_COMMAND.stdin"
echo "fake-ipam says $CNI_COMMAND" >&2
[ -f "$d/$CNI_COMMAND.out" ] && cat "$d/$CNI_COMMAND.out"
[ -f "$d/$CNI_COMMAND.kill" ] && kill -9 $$
exit $(cat "$d/$CNI_COMMAND.exit" 2>/dev/null || echo 0)
`;

interface Invocation {
  verb: string;
  env: Record<string, string>;
  stdin: Record<string, unknown>;
}

let pod: NetnsHolder;
let root: string;
let bin: string;
let record: string;

before(async () => {
  pod = await holdNetns();
  root = mkdtempSync(join(tmpdir(), 'sluice-cni-delegate-'));
  bin = join(root, 'bin');
  record = join(root, 'record');
  mkdirSync(bin);
  writeFileSync(join(bin, 'fake-ipam'), FAKE_PLUGIN);
  chmodSync(join(bin, 'fake-ipam'), 0o755);
});
after(() => {
  pod.stop();
  rmSync(root, { recursive: true, force: true });
});
afterEach(() => {
  rmSync(record, { recursive: true, force: true });
});

function respond(verb: string, out: unknown, exit = 0): void {
  mkdirSync(record, { recursive: true });
  writeFileSync(join(record, `${verb}.out`), typeof out === 'string' ? out : JSON.stringify(out));
  writeFileSync(join(record, `${verb}.exit`), String(exit));
}

function invocations(): Invocation[] {
  if (!existsSync(record)) return [];
  return readdirSync(record)
    .filter((f) => /^\d+\.[A-Z]+\.env$/.test(f))
    .sort((a, b) => parseInt(a) - parseInt(b))
    .map((f) => {
      const [n, verb] = f.split('.') as [string, string];
      const env = Object.fromEntries(
        readFileSync(join(record, f), 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
      );
      return { verb, env, stdin: JSON.parse(readFileSync(join(record, `${n}.${verb}.stdin`), 'utf8')) };
    });
}

function netConf(cniVersion = '1.0.0'): Record<string, unknown> {
  return { cniVersion, name: 'podnet', type: 'sluice', ipam: { type: 'fake-ipam', subnet: '10.22.0.0/16' } };
}

function ipamFor(env: Record<string, string> = {}, stderr?: (chunk: Buffer) => void): DelegatingIpam {
  mkdirSync(record, { recursive: true });
  return new DelegatingIpam('fake-ipam', { env: { PATH: process.env.PATH, CNI_PATH: bin, CNI_COMMAND: 'ADD', ...env }, stderr: stderr ?? (() => undefined) });
}

function request(conf = netConf()): IpamRequest {
  return { containerID: 'c0ffee01', ifname: 'eth0', network: 'podnet', config: conf.ipam as Record<string, unknown>, netConf: conf, requestedIPs: [], netns: pod.path };
}

function cniError(code: number, msg?: RegExp): (err: unknown) => boolean {
  return (err) => err instanceof CniError && err.code === code && (!msg || msg.test(err.msg));
}

/** A driver whose every verb goes through req.ipam, as the data path's will. */
class IpamDriver extends FakeDriver {
  override async add(req: AddRequest): Promise<CniResult> {
    this.calls.push({ verb: 'add', req });
    const lease = await req.ipam!.add(req.ipamRequest);
    const result: CniResult = { interfaces: [{ name: req.ifname, sandbox: req.netns }], ips: lease.ips.map((ip) => ({ ...ip, interface: 0 })), routes: lease.routes };
    if (lease.dns) result.dns = lease.dns;
    return result;
  }
  override async del(req: DelRequest): Promise<void> {
    this.calls.push({ verb: 'del', req });
    await req.ipam!.del(req.ipamRequest);
  }
  override async check(req: CheckRequest): Promise<void> {
    this.calls.push({ verb: 'check', req });
    await req.ipam!.check(req.ipamRequest, { ips: req.prevResult.ips, routes: req.prevResult.routes });
  }
  override async gc(req: GcRequest): Promise<void> {
    this.calls.push({ verb: 'gc', req });
    await req.ipam!.gc(req.ipamGcRequest);
  }
  override async status(req: StatusRequest): Promise<void> {
    this.calls.push({ verb: 'status', req });
    await req.ipam!.status(req.ipamStatusRequest);
  }
}

describe('delegation to a fake IPAM plugin', () => {
  test('ADD through runCni: same environment, the whole config on stdin, a 0.3.1 result read', async () => {
    respond('ADD', {
      cniVersion: '0.3.1',
      ips: [{ version: '4', address: '10.22.0.5/16', gateway: '10.22.0.1' }, { version: '6', address: 'fd00::5/64' }],
      routes: [{ dst: '0.0.0.0/0' }],
      dns: { nameservers: ['10.22.0.1'] },
    });
    mkdirSync(record, { recursive: true });
    const env = { PATH: process.env.PATH!, CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c0ffee01', CNI_NETNS: pod.path, CNI_IFNAME: 'eth0', CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAME=web', CNI_PATH: `/nonexistent:${bin}` };
    const conf = { ...netConf('0.3.1'), runtimeConfig: { ips: ['10.22.0.5'] } };
    const stderr: string[] = [];
    const ipamFor = (config: PluginConfig, requestEnv: EnvVars) => new DelegatingIpam(config.ipam!.type, { env: requestEnv, stderr: (c) => stderr.push(c.toString()) });
    const out = await runCni(env, JSON.stringify(conf), new IpamDriver(), { ipamFor });
    assert.equal(out.exitCode, 0, out.stdout);
    assert.match(stderr.join(''), /fake-ipam says ADD/);
    assert.deepEqual(JSON.parse(out.stdout), {
      cniVersion: '0.3.1',
      interfaces: [{ name: 'eth0', sandbox: pod.path }],
      ips: [
        { version: '4', interface: 0, address: '10.22.0.5/16', gateway: '10.22.0.1' },
        { version: '6', interface: 0, address: 'fd00::5/64' },
      ],
      routes: [{ dst: '0.0.0.0/0' }],
      dns: { nameservers: ['10.22.0.1'] },
    });
    const [call] = invocations();
    assert.equal(call?.verb, 'ADD');
    const { PATH: _path, ...cniEnv } = env;
    assert.deepEqual(call.env, cniEnv);
    assert.deepEqual(call.stdin, conf);
  });

  test('a result without cniVersion is read in the config\'s version; 0.2.0 results are read too', async () => {
    respond('ADD', { ips: [{ version: '4', address: '10.22.0.6/16' }] });
    assert.deepEqual(await ipamFor().add(request(netConf('0.4.0'))), { ips: [{ address: '10.22.0.6/16' }], routes: [] });
    respond('ADD', { cniVersion: '0.2.0', ip4: { ip: '10.22.0.7/16', gateway: '10.22.0.1', routes: [{ dst: '0.0.0.0/0' }] } });
    assert.deepEqual(await ipamFor().add(request()), { ips: [{ address: '10.22.0.7/16', gateway: '10.22.0.1' }], routes: [{ dst: '0.0.0.0/0' }] });
  });

  test('the IPAM result drops ips[].interface (IPAM plugins must not set it)', async () => {
    respond('ADD', { cniVersion: '1.0.0', ips: [{ address: '10.22.0.8/16', interface: 3 }] });
    assert.deepEqual((await ipamFor().add(request())).ips, [{ address: '10.22.0.8/16' }]);
  });

  test('a failed ADD passes the plugin\'s error through, after running DEL', async () => {
    respond('ADD', { cniVersion: '1.0.0', code: 7, msg: 'no IP ranges specified', details: 'ipam.ranges is empty' }, 1);
    await assert.rejects(ipamFor().add(request()), (err: unknown) => err instanceof CniError && err.code === 7 && err.msg === 'no IP ranges specified' && err.details === 'ipam.ranges is empty');
    assert.deepEqual(invocations().map((i) => i.verb), ['ADD', 'DEL']);
    assert.equal(invocations()[1]!.env.CNI_CONTAINERID, 'c0ffee01');
  });

  test('DEL tolerates a plugin with nothing to release (code 3), not other errors', async () => {
    respond('DEL', { code: 3, msg: 'container unknown' }, 1);
    await ipamFor().del(request());
    respond('DEL', '', 0);
    await ipamFor().del(request());
    respond('DEL', { code: 11, msg: 'store locked' }, 1);
    await assert.rejects(ipamFor().del(request()), cniError(11, /store locked/));
    assert.deepEqual(invocations().map((i) => i.verb), ['DEL', 'DEL', 'DEL']);
  });

  test('DEL keeps the runtime\'s CNI_NETNS when the pod\'s namespace is gone', async () => {
    respond('DEL', '', 0);
    const { netns: _netns, ...req } = request();
    await ipamFor({ CNI_NETNS: '/run/netns/gone' }).del(req);
    assert.equal(invocations()[0]!.env.CNI_NETNS, '/run/netns/gone');
  });

  test('CHECK passes, or passes the error on', async () => {
    respond('CHECK', '', 0);
    await ipamFor().check(request(), { ips: [], routes: [] });
    respond('CHECK', { code: 999, msg: 'failed to find address added by container c0ffee01' }, 1);
    await assert.rejects(ipamFor().check(request(), { ips: [], routes: [] }), cniError(999, /c0ffee01/));
    assert.equal(invocations()[0]!.env.CNI_COMMAND, 'CHECK');
  });

  test('GC sends the valid attachments under both names', async () => {
    respond('GC', '', 0);
    const valid = [{ containerID: 'a', ifname: 'eth0' }];
    await ipamFor({ CNI_COMMAND: 'GC' }).gc({ network: 'podnet', config: {}, netConf: netConf('1.1.0'), validAttachments: valid });
    const [call] = invocations();
    assert.equal(call?.env.CNI_COMMAND, 'GC');
    assert.deepEqual(call.stdin['cni.dev/valid-attachments'], valid);
    assert.deepEqual(call.stdin['cni.dev/attachments'], valid);
  });

  test('STATUS: ok, or the plugin\'s 50/51 thrown with its code', async () => {
    respond('STATUS', '', 0);
    assert.deepEqual(await ipamFor().status({ network: 'podnet', config: {}, netConf: netConf('1.1.0') }), { ok: true });
    respond('STATUS', { code: 50, msg: 'range exhausted' }, 1);
    await assert.rejects(ipamFor().status({ network: 'podnet', config: {}, netConf: netConf('1.1.0') }), cniError(50, /range exhausted/));
  });

  test('a result sluice cannot read is code 6 naming what is wrong, and is released', async () => {
    respond('ADD', 'not json', 0);
    await assert.rejects(ipamFor().add(request()), cniError(6, /fake-ipam/));
    respond('ADD', { cniVersion: '1.0.0', ips: [{ address: '10.22.0.5' }] }, 0);
    await assert.rejects(ipamFor().add(request()), (err: unknown) => err instanceof CniError && err.code === 6 && err.details.includes('result.ips[0].address'));
    assert.deepEqual(invocations().map((i) => i.verb), ['ADD', 'DEL', 'ADD', 'DEL'], 'what it allocated is released');
  });

  test('a plugin that fails without a CNI error: code 999 with its output, or the signal that killed it', async () => {
    respond('ADD', 'panic: runtime error', 2);
    await assert.rejects(ipamFor().add(request()), (err: unknown) => err instanceof CniError && err.code === 999 && /exited with status 2/.test(err.msg) && err.details.includes('panic'));
    respond('DEL', '', 0);
    writeFileSync(join(record, 'ADD.kill'), '');
    await assert.rejects(ipamFor().add(request()), cniError(999, /SIGKILL/));
  });

  test('the plugin\'s stderr goes to the caller\'s sink', async () => {
    respond('ADD', { cniVersion: '1.0.0', ips: [{ address: '10.22.0.5/16' }] });
    const chunks: string[] = [];
    await ipamFor({}, (c) => chunks.push(c.toString())).add(request());
    assert.match(chunks.join(''), /fake-ipam says ADD/);
  });
});

describe('findPlugin', () => {
  test('takes the first CNI_PATH directory holding a regular file of that name', () => {
    const other = join(root, 'other');
    mkdirSync(join(other, 'fake-ipam'), { recursive: true });
    assert.equal(findPlugin('fake-ipam', `${other}:${bin}/`), join(bin, 'fake-ipam'));
  });

  test('refuses path separators (code 7), an empty CNI_PATH (code 4), and a missing plugin (code 7)', () => {
    assert.throws(() => findPlugin('../bin/fake-ipam', bin), cniError(7, /ipam\.type/));
    assert.throws(() => findPlugin('a\\b', bin), cniError(7, /ipam\.type/));
    assert.throws(() => findPlugin('fake-ipam', ''), cniError(4, /CNI_PATH/));
    assert.throws(() => findPlugin('fake-ipam', '::'), cniError(4, /CNI_PATH/));
    assert.throws(() => findPlugin('dhcp', bin), (err: unknown) => err instanceof CniError && err.code === 7 && /"dhcp"/.test(err.msg) && err.details.includes(bin));
  });
});

const HOST_LOCAL = '/usr/lib/cni/host-local';

describe('round trip with the reference host-local plugin', { skip: existsSync(HOST_LOCAL) ? false : `${HOST_LOCAL} missing: install containernetworking-plugins` }, () => {
  let dataDir: string;
  before(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'sluice-host-local-'));
  });
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  const conf = (cniVersion: string) => ({
    cniVersion,
    name: 'sluice-test-net',
    type: 'sluice',
    ipam: { type: 'host-local', dataDir, ranges: [[{ subnet: '10.99.0.0/24' }], [{ subnet: 'fd99::/64' }]], routes: [{ dst: '0.0.0.0/0' }] },
  });
  const env = (command: string, containerId: string, extra: Record<string, string> = {}) => ({
    PATH: process.env.PATH!,
    CNI_COMMAND: command,
    CNI_CONTAINERID: containerId,
    CNI_NETNS: pod.path,
    CNI_IFNAME: 'eth0',
    CNI_PATH: '/usr/lib/cni',
    ...extra,
  });
  const leases = () => readdirSync(join(dataDir, 'sluice-test-net')).filter((f) => f !== 'lock' && !f.startsWith('last_reserved_ip'));

  for (const version of ['1.0.0', '0.3.1']) {
    test(`ADD, CHECK, DEL, DEL again at ${version}`, async () => {
      const driver = new IpamDriver();
      const id = `hostlocal-${version.replaceAll('.', '')}`;
      const added = await runCni(env('ADD', id), JSON.stringify(conf(version)), driver);
      assert.equal(added.exitCode, 0, added.stdout);
      const result = JSON.parse(added.stdout);
      assert.equal(result.cniVersion, version);
      const addresses: string[] = result.ips.map((ip: { address: string }) => ip.address);
      assert.equal(addresses.length, 2);
      assert.match(addresses[0]!, /^10\.99\.0\.\d+\/24$/);
      assert.match(addresses[1]!, /^fd99::[0-9a-f]+\/64$/);
      assert.deepEqual(result.routes, [{ dst: '0.0.0.0/0' }]);
      const v4 = addresses[0]!.split('/')[0]!;
      assert.equal(readFileSync(join(dataDir, 'sluice-test-net', v4), 'utf8'), `${id}\r\neth0`);

      if (version !== '0.3.1') {
        const checked = await runCni(env('CHECK', id), JSON.stringify({ ...conf(version), prevResult: result }), driver);
        assert.deepEqual(checked, { stdout: '', exitCode: 0 });
        const stranger = await runCni(env('CHECK', 'stranger'), JSON.stringify({ ...conf(version), prevResult: result }), driver);
        assert.equal(stranger.exitCode, 1);
        assert.match(JSON.parse(stranger.stdout).msg, /stranger/);
      }

      for (let i = 0; i < 2; i++) {
        const deleted = await runCni(env('DEL', id), JSON.stringify({ ...conf(version), prevResult: result }), driver);
        assert.deepEqual(deleted, { stdout: '', exitCode: 0 }, `DEL #${i + 1}`);
      }
      assert.equal(existsSync(join(dataDir, 'sluice-test-net', v4)), false, 'the lease is released');
    });
  }

  test('a requested address (CNI_ARGS IP=) reaches host-local', async () => {
    const driver = new IpamDriver();
    const added = await runCni(env('ADD', 'wants-77', { CNI_ARGS: 'IP=10.99.0.77' }), JSON.stringify({ ...conf('1.0.0'), ipam: { ...conf('1.0.0').ipam, ranges: [[{ subnet: '10.99.0.0/24' }]] } }), driver);
    assert.equal(added.exitCode, 0, added.stdout);
    assert.deepEqual(JSON.parse(added.stdout).ips.map((ip: { address: string }) => ip.address), ['10.99.0.77/24']);
    assert.ok(leases().includes('10.99.0.77'));
    const deleted = await runCni(env('DEL', 'wants-77'), JSON.stringify(conf('1.0.0')), driver);
    assert.equal(deleted.exitCode, 0, deleted.stdout);
    assert.equal(leases().includes('10.99.0.77'), false);
  });

  test('host-local\'s own error comes back as its code and message', async () => {
    const out = await runCni(env('ADD', 'no-ranges'), JSON.stringify({ ...conf('1.0.0'), ipam: { type: 'host-local', dataDir } }), new IpamDriver());
    assert.equal(out.exitCode, 1);
    const error = JSON.parse(out.stdout);
    assert.equal(error.cniVersion, '1.0.0');
    assert.match(error.msg, /no IP ranges specified/);
  });
});
