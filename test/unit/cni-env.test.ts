import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseCniArgs } from '../../src/cni/cni-args.js';
import { parseEnv } from '../../src/cni/env.js';
import { CniError } from '../../src/cni/errors.js';
import { inspectNetns } from '../../src/sys/ns-check.js';
import { holdNetns, type NetnsHolder } from '../support/cni.js';

let pod: NetnsHolder;
let dir: string;
before(async () => {
  pod = await holdNetns();
  dir = mkdtempSync(join(tmpdir(), 'sluice-cni-env-'));
  writeFileSync(join(dir, 'file'), '');
});
after(() => {
  pod.stop();
  rmSync(dir, { recursive: true, force: true });
});

function envError(env: Record<string, string>, variable: string): void {
  assert.throws(
    () => parseEnv(env),
    (err: unknown) => err instanceof CniError && err.code === 4 && err.msg.includes(variable),
    `expected code 4 naming ${variable}`,
  );
}

describe('inspectNetns', () => {
  test('tells a network namespace from everything else', () => {
    assert.deepEqual({ ...inspectNetns(pod.path), inode: 0 }, { kind: 'network', inode: 0, own: false });
    assert.equal(inspectNetns('/proc/self/ns/net').kind, 'network');
    assert.equal((inspectNetns('/proc/self/ns/net') as { own: boolean }).own, true);
    assert.deepEqual(inspectNetns(join(dir, 'nope')), { kind: 'missing' });
    assert.deepEqual(inspectNetns(join(dir, 'file', 'below')), { kind: 'missing' });
    assert.match((inspectNetns(join(dir, 'file')) as { reason: string }).reason, /not on nsfs/);
    assert.match((inspectNetns(dir) as { reason: string }).reason, /directory/);
    assert.match((inspectNetns('/proc/self/ns/uts') as { reason: string }).reason, /uts namespace/);
  });
});

describe('parseEnv', () => {
  test('ADD: every attachment variable, CNI_PATH split, CNI_ARGS parsed', () => {
    const env = parseEnv({
      CNI_COMMAND: 'ADD',
      CNI_CONTAINERID: 'A1_b.c-d',
      CNI_NETNS: pod.path,
      CNI_IFNAME: 'eth0',
      CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAME=web-0;FOO=bar',
      CNI_PATH: '/opt/cni/bin::/usr/lib/cni',
    });
    assert.equal(env.command, 'ADD');
    if (env.command !== 'ADD') return;
    assert.equal(env.containerId, 'A1_b.c-d');
    assert.equal(env.netns, pod.path);
    assert.equal(env.ifname, 'eth0');
    assert.deepEqual(env.path, ['/opt/cni/bin', '/usr/lib/cni']);
    assert.equal(env.args.k8sPodName, 'web-0');
    assert.equal(env.args.pairs.FOO, 'bar');
  });

  test('names every missing variable a verb needs', () => {
    assert.throws(() => parseEnv({ CNI_COMMAND: 'ADD' }), (err: CniError) => err.code === 4 && /CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME/.test(err.msg));
    assert.throws(() => parseEnv({ CNI_COMMAND: 'DEL' }), (err: CniError) => err.code === 4 && /CNI_CONTAINERID, CNI_IFNAME$/.test(err.msg));
    assert.throws(() => parseEnv({ CNI_COMMAND: 'GC' }), (err: CniError) => err.code === 4 && /CNI_PATH/.test(err.msg));
    assert.throws(() => parseEnv({}), (err: CniError) => err.code === 4 && /CNI_COMMAND/.test(err.msg));
  });

  test('what each verb does not need may be absent or empty', () => {
    assert.deepEqual(parseEnv({ CNI_COMMAND: 'VERSION' }), { command: 'VERSION' });
    assert.deepEqual(parseEnv({ CNI_COMMAND: 'STATUS' }), { command: 'STATUS', path: [] });
    // libcni sets the attachment variables to "" for GC.
    assert.deepEqual(parseEnv({ CNI_COMMAND: 'GC', CNI_PATH: '/opt/cni/bin', CNI_CONTAINERID: '', CNI_IFNAME: '', CNI_NETNS: '' }), { command: 'GC', path: ['/opt/cni/bin'] });
    const del = parseEnv({ CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'abc', CNI_IFNAME: 'eth0' });
    assert.equal(del.command === 'DEL' && del.netns, undefined);
  });

  test('DEL takes a vanished namespace as gone, but never the plugin\'s own', () => {
    for (const netns of [join(dir, 'nope'), join(dir, 'file')]) {
      const del = parseEnv({ CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'abc', CNI_IFNAME: 'eth0', CNI_NETNS: netns });
      assert.ok(del.command === 'DEL' && del.netns === undefined && del.netnsGone?.startsWith(netns), netns);
    }
    envError({ CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'abc', CNI_IFNAME: 'eth0', CNI_NETNS: '/proc/self/ns/net' }, 'CNI_NETNS');
  });

  test('interface names: bytes, not characters, count toward 15', () => {
    const env = (ifname: string) => ({ CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'abc', CNI_IFNAME: ifname });
    assert.doesNotThrow(() => parseEnv(env('a'.repeat(15))));
    assert.doesNotThrow(() => parseEnv(env('é'.repeat(7))));
    envError(env('é'.repeat(8)), 'CNI_IFNAME');
    for (const bad of ['a'.repeat(16), '.', '..', 'a/b', 'a:b', 'a b', 'a\tb', 'a\u00a0b', 'a\u0085b']) envError(env(bad), 'CNI_IFNAME');
  });

  test('container IDs: the spec\'s characters, starting with an alphanumeric', () => {
    const env = (id: string) => ({ CNI_COMMAND: 'DEL', CNI_CONTAINERID: id, CNI_IFNAME: 'eth0' });
    for (const good of ['a', '0', 'abc_DEF.1-2', 'f'.repeat(64)]) assert.doesNotThrow(() => parseEnv(env(good)), good);
    for (const bad of ['-abc', '_abc', '.abc', 'ab/c', 'ab c', 'ab;c', 'abç', 'x'.repeat(256)]) envError(env(bad), 'CNI_CONTAINERID');
  });
});

describe('parseCniArgs', () => {
  test('reads the keys sluice knows', () => {
    const args = parseCniArgs('IP=10.1.0.9,fd00::9/64;MAC=02:11:22:33:44:55;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=u');
    assert.deepEqual(args.ips, ['10.1.0.9', 'fd00::9/64']);
    assert.equal(args.mac, '02:11:22:33:44:55');
    assert.equal(args.k8sPodNamespace, 'ns');
    assert.equal(args.k8sPodInfraContainerId, 'abc');
    assert.equal(args.k8sPodUid, 'u');
    assert.equal(args.ignoreUnknown, false);
    assert.deepEqual(parseCniArgs(''), { ips: [], ignoreUnknown: false, pairs: {} });
  });

  test('IgnoreUnknown takes 1/true/0/false in any case', () => {
    assert.equal(parseCniArgs('IgnoreUnknown=TRUE;X=1').ignoreUnknown, true);
    assert.throws(() => parseCniArgs('IgnoreUnknown=0;X=1'), /unknown keys X/);
    assert.throws(() => parseCniArgs('IgnoreUnknown=yes'), /not a boolean/);
  });

  const bad: [string, RegExp][] = [
    ['FOO=bar', /unknown keys FOO/],
    ['IP', /not a KEY=VALUE pair/],
    ['IP=1=2', /not a KEY=VALUE pair/],
    ['=x', /not a KEY=VALUE pair/],
    ['IP=10.0.0.1;', /not a KEY=VALUE pair/],
    ['IP=10.0.0.1;IP=10.0.0.2', /given twice/],
    ['IP=10.0.0.300', /IP=/],
    ['MAC=01:00:5e:00:00:01', /MAC=/],
    ['MAC=02:00:00:00:00', /MAC=/],
  ];
  for (const [text, reason] of bad) {
    test(`refuses ${JSON.stringify(text)} with code 4 naming CNI_ARGS`, () => {
      assert.throws(() => parseCniArgs(text), (err: unknown) => err instanceof CniError && err.code === 4 && err.msg.startsWith('invalid CNI_ARGS') && reason.test(err.msg));
    });
  }
});
