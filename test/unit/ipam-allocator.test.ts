import assert from 'node:assert/strict';
import fs, { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { CniError } from '../../src/cni/errors.js';
import { tryLockExclusive, unlock } from '../../src/sys/fs.js';
import { builtinIpam, gcLeases } from '../../src/ipam/host-local/index.js';
import { sidecarPath } from '../../src/ipam/host-local/ledger.js';
import type { IpamRequest } from '../../src/ipam/types.js';
import { NETWORK, auditIndex, ipamConfig, leaseFiles, leaseFolder, leaseOwners, request, tempDataDir } from '../support/ipam-store.js';

const ipam = builtinIpam();

function setup(t: TestContext, ranges: unknown[][], extra: Record<string, unknown> = {}) {
  const { dataDir, cleanup } = tempDataDir();
  t.after(cleanup);
  const config = ipamConfig(dataDir, ranges, extra);
  const req = (id: string, more: Partial<IpamRequest> = {}) => request(config, id, more);
  const add = async (id: string, more: Partial<IpamRequest> = {}) => (await ipam.add(req(id, more))).ips.map((i) => i.address);
  return { dataDir, config, req, add };
}

async function rejects(promise: Promise<unknown>, code: number, ...fragments: string[]) {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof CniError, String(err));
    assert.equal(err.code, code, err.message);
    for (const f of fragments) assert.ok(err.message.includes(f), `"${err.message}" mentions ${f}`);
    return true;
  });
}

test('the store is host-local\'s, byte for byte; sluice\'s index lives outside the lease folder', async (t) => {
  const { dataDir, add } = setup(t, [[{ subnet: '10.22.0.0/24' }], [{ subnet: 'fd00:22::/64' }]]);
  assert.deepEqual(await add('c1'), ['10.22.0.2/24', 'fd00:22::2/64']);
  const folder = leaseFolder(dataDir);
  assert.deepEqual(readdirSync(folder).sort(), ['10.22.0.2', 'fd00:22::2', 'last_reserved_ip.0', 'last_reserved_ip.1', 'lock']);
  assert.equal(readFileSync(join(folder, '10.22.0.2'), 'utf8'), 'c1\r\neth0');
  assert.equal(statSync(join(folder, '10.22.0.2')).mode & 0o777, 0o600);
  assert.equal(statSync(join(folder, '10.22.0.2')).nlink, 1, 'the scratch name of the lease is gone');
  assert.equal(readFileSync(join(folder, 'last_reserved_ip.0'), 'utf8'), '10.22.0.2');
  assert.equal(readFileSync(join(folder, 'last_reserved_ip.1'), 'utf8'), 'fd00:22::2');
  assert.ok(existsSync(sidecarPath(dataDir, NETWORK)));
  assert.ok(auditIndex(dataDir));
});

test('the result carries the gateway, the routes and the DNS of resolvConf', async (t) => {
  const { dataDir } = tempDataDir();
  t.after(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const resolv = join(dataDir, 'resolv.conf');
  writeFileSync(resolv, '# x\nnameserver 10.0.0.53\nnameserver 10.0.0.54\ndomain example.org\nsearch a.example b.example\noptions ndots:2\n');
  const config = ipamConfig(dataDir, [[{ subnet: '10.22.0.0/16', gateway: '10.22.0.254' }]], { routes: [{ dst: '0.0.0.0/0' }], resolvConf: resolv });
  const result = await ipam.add(request(config, 'c1'));
  assert.deepEqual(result, {
    ips: [{ address: '10.22.0.1/16', gateway: '10.22.0.254' }],
    routes: [{ dst: '0.0.0.0/0' }],
    dns: { nameservers: ['10.0.0.53', '10.0.0.54'], domain: 'example.org', search: ['a.example', 'b.example'], options: ['ndots:2'] },
  });
});

test('round-robin after last_reserved_ip, gateway skipped, wrapping through the set\'s ranges', async (t) => {
  const { add, req } = setup(t, [[{ subnet: '10.22.0.0/29' }, { subnet: '10.23.0.0/30' }]]);
  assert.deepEqual(await add('a'), ['10.22.0.2/29']);
  assert.deepEqual(await add('b'), ['10.22.0.3/29']);
  await ipam.del(req('a'));
  // A released address is not reused until the cursor comes round again.
  assert.deepEqual(await add('c'), ['10.22.0.4/29']);
  assert.deepEqual(await add('d'), ['10.22.0.5/29']);
  assert.deepEqual(await add('e'), ['10.22.0.6/29']);
  assert.deepEqual(await add('f'), ['10.23.0.2/30'], 'on into the next range, skipping its gateway');
  assert.deepEqual(await add('g'), ['10.22.0.2/29'], 'and round again');
  await rejects(add('h'), 999, 'range exhausted', '10.22.0.0/29 (10.22.0.1-10.22.0.6), 10.23.0.0/30 (10.23.0.1-10.23.0.2)');
});

test('a range of 4 gives 4 addresses, then "range exhausted" naming the range; STATUS says so too', async (t) => {
  const { add, config } = setup(t, [[{ subnet: '10.40.0.0/24', rangeStart: '10.40.0.10', rangeEnd: '10.40.0.13' }]]);
  const status = () => ipam.status({ network: NETWORK, config, netConf: {} });
  assert.deepEqual(await status(), { ok: true });
  const got = [];
  for (const id of ['a', 'b', 'c', 'd']) got.push(...(await add(id)));
  assert.deepEqual(got, ['10.40.0.10/24', '10.40.0.11/24', '10.40.0.12/24', '10.40.0.13/24']);
  await rejects(add('e'), 999, 'range exhausted', '10.40.0.10-10.40.0.13');
  assert.deepEqual(await status(), { ok: false, reason: 'range set 10.40.0.0/24 (10.40.0.10-10.40.0.13) exhausted' });
});

test('requested addresses are honoured from CNI_ARGS, args.cni.ips and the ips capability', async (t) => {
  const { add, config } = setup(t, [[{ subnet: '10.22.0.0/24' }], [{ subnet: 'fd00::/64' }]]);
  assert.deepEqual(await add('a', { args: 'IgnoreUnknown=1;IP=10.22.0.50' }), ['10.22.0.50/24', 'fd00::2/64']);
  assert.deepEqual(await add('b', { requestedIPs: ['fd00::77'] }), ['10.22.0.51/24', 'fd00::77/64']);
  assert.deepEqual(
    await add('c', { netConf: { cniVersion: '1.1.0', name: NETWORK, ipam: config, runtimeConfig: { ips: ['10.22.0.9/24'] }, args: { cni: { ips: ['fd00::9'] } } } }),
    ['10.22.0.9/24', 'fd00::9/64'],
  );
});

test('requested addresses are refused clearly: taken, gateway, outside every range, two in one set', async (t) => {
  const { add, dataDir } = setup(t, [[{ subnet: '10.22.0.0/24' }], [{ subnet: 'fd00::/64' }]]);
  await add('a', { requestedIPs: ['10.22.0.50'] });
  await rejects(add('b', { requestedIPs: ['10.22.0.50'] }), 999, '10.22.0.50 is not available', 'container a interface eth0');
  await rejects(add('b', { requestedIPs: ['10.22.0.1'] }), 999, '10.22.0.1 is the gateway');
  await rejects(add('b', { requestedIPs: ['10.99.0.1'] }), 999, '10.99.0.1 not in any range set');
  await rejects(add('b', { requestedIPs: ['10.22.0.60', '10.22.0.61'] }), 999, '10.22.0.61 not in any range set');
  // Each failure gave back what it took before failing.
  assert.deepEqual([...leaseOwners(dataDir).keys()], ['10.22.0.50', 'fd00::2']);
  assert.ok(auditIndex(dataDir));
});

test('an attachment gets one address per range set: a second ADD is refused, another interface is not', async (t) => {
  const { add } = setup(t, [[{ subnet: '10.22.0.0/24' }]]);
  await add('a');
  await rejects(add('a'), 999, '10.22.0.2 is already allocated to container a interface eth0');
  assert.deepEqual(await add('a', { ifname: 'net1' }), ['10.22.0.3/24']);
});

test('DEL releases every set\'s lease, succeeds when repeated or when nothing was ever leased', async (t) => {
  const { add, req, dataDir } = setup(t, [[{ subnet: '10.22.0.0/24' }], [{ subnet: 'fd00::/64' }]]);
  await add('a');
  await add('b');
  await ipam.del(req('a'));
  await ipam.del(req('a'));
  await ipam.del(req('never'));
  assert.deepEqual([...leaseOwners(dataDir).values()], ['b/eth0', 'b/eth0']);
  assert.ok(auditIndex(dataDir));
});

test('CHECK passes for the attachment\'s own addresses and names what differs', async (t) => {
  const { req, add } = setup(t, [[{ subnet: '10.22.0.0/24' }]]);
  const result = await ipam.add(req('a'));
  await ipam.check(req('a'), result);
  await add('b');
  await rejects(ipam.check(req('a'), { ips: [{ address: '10.22.0.3/24' }], routes: [] }), 999, '10.22.0.3', 'not leased to container a');
  await rejects(ipam.check(req('a'), { ips: [], routes: [] }), 999, '10.22.0.2', 'missing from the previous result');
  await rejects(ipam.check(req('a'), { ips: [{ address: '10.22.0.2/16' }], routes: [] }), 999, 'prefix length 16');
  await rejects(ipam.check(req('zzz'), result), 999, 'no address is leased to container zzz');
});

test('GC releases every lease whose attachment is not valid (the reboot leak)', async (t) => {
  const { add, config, dataDir } = setup(t, [[{ subnet: '10.22.0.0/24' }], [{ subnet: 'fd00::/64' }]]);
  for (const id of ['a', 'b', 'c']) await add(id);
  await add('a', { ifname: 'net1' });
  await ipam.gc({ network: NETWORK, config, netConf: {}, validAttachments: [{ containerID: 'b', ifname: 'eth0' }, { containerID: 'a', ifname: 'net1' }] });
  assert.deepEqual([...new Set(leaseOwners(dataDir).values())].sort(), ['a/net1', 'b/eth0']);
  assert.ok(auditIndex(dataDir));
  assert.deepEqual(await add('d'), ['10.22.0.6/24', 'fd00::6/64'], 'allocation goes on after GC');
});

test('gcLeases (sluice gc) keeps the live containers\' leases, can dry-run, and leaves unknown networks alone', async (t) => {
  const { add, dataDir } = setup(t, [[{ subnet: '10.22.0.0/24' }]]);
  for (const id of ['a', 'b', 'c']) await add(id);
  const dry = await gcLeases({ dataDir, network: NETWORK, liveContainerIDs: ['b'], dryRun: true });
  assert.deepEqual(dry.released.map((l) => l.ip), ['10.22.0.2', '10.22.0.4']);
  assert.equal(leaseFiles(dataDir).size, 3, 'a dry run changes nothing');
  const report = await gcLeases({ dataDir, network: NETWORK, liveContainerIDs: ['b'] });
  assert.deepEqual(report.released.map((l) => [l.ip, l.owner]), [['10.22.0.2', 'container a interface eth0'], ['10.22.0.4', 'container c interface eth0']]);
  assert.equal(report.kept, 1);
  assert.deepEqual([...leaseOwners(dataDir).values()], ['b/eth0']);
  assert.ok(auditIndex(dataDir));
  assert.deepEqual(await gcLeases({ dataDir, network: 'other', liveContainerIDs: [] }), { released: [], repaired: [], kept: 0, malformed: [] });
  assert.equal(existsSync(join(dataDir, 'other')), false);
  await rejects(gcLeases({ dataDir, network: '../x', liveContainerIDs: [] }), 7, 'network');
});

test('concurrent ADDs in one process get distinct addresses', async (t) => {
  const { add, dataDir } = setup(t, [[{ subnet: '10.22.0.0/24' }]]);
  const got = await Promise.all(Array.from({ length: 40 }, (_, i) => add(`c${i}`)));
  assert.equal(new Set(got.flat()).size, 40);
  assert.equal(leaseFiles(dataDir).size, 40);
  assert.ok(auditIndex(dataDir));
});

test('release and lookup by container read O(1) files, however many leases there are', async (t) => {
  const { add, req, dataDir } = setup(t, [[{ subnet: '10.22.0.0/20' }]]);
  for (let i = 0; i < 2000; i++) await add(`c${i}`);
  const folder = leaseFolder(dataDir);
  const touched: string[] = [];
  const original = { openSync: fs.openSync, readFileSync: fs.readFileSync, readdirSync: fs.readdirSync };
  const spy = <F extends (...args: never[]) => unknown>(name: string, fn: F) =>
    ((...args: Parameters<F>) => {
      const path = String(args[0]);
      if (path === folder || path.startsWith(`${folder}/`)) touched.push(`${name} ${path.slice(folder.length)}`);
      return fn(...args);
    }) as unknown as F;
  fs.openSync = spy('open', original.openSync);
  fs.readFileSync = spy('read', original.readFileSync);
  fs.readdirSync = spy('readdir', original.readdirSync);
  syncBuiltinESMExports();
  try {
    await ipam.del(req('c1234'));
    await ipam.del(req('c1234'));
    await add('late');
  } finally {
    Object.assign(fs, original);
    syncBuiltinESMExports();
  }
  assert.ok(!touched.some((op) => op.startsWith('readdir')), `no listing of the lease folder: ${touched.join(', ')}`);
  const leaseReads = touched.filter((op) => /^(open|read) \/\d/.test(op) && !op.includes('last_reserved'));
  assert.ok(leaseReads.length <= 4, `lease files opened: ${leaseReads.join(', ')}`);
  assert.ok(!leaseFiles(dataDir).has(`10.22.${(1234 + 2) >> 8}.${(1234 + 2) & 255}`));
});

test('leases host-local wrote behind sluice\'s back are seen: DEL finds them, ADD steps over them', async (t) => {
  const { add, req, dataDir } = setup(t, [[{ subnet: '10.22.0.0/24' }]]);
  await add('a');
  const folder = leaseFolder(dataDir);
  writeFileSync(join(folder, '10.22.0.3'), 'foreign\r\neth0', { mode: 0o600 });
  writeFileSync(join(folder, '10.22.0.4'), 'legacy-id');
  assert.equal(auditIndex(dataDir), false, 'the seal no longer matches the folder');
  assert.deepEqual(await add('b'), ['10.22.0.5/24']);
  assert.ok(auditIndex(dataDir));
  await ipam.del(req('foreign'));
  await ipam.del(req('legacy-id', { ifname: 'eth7' }));
  assert.deepEqual([...leaseOwners(dataDir).values()], ['a/eth0', 'b/eth0']);
  assert.ok(auditIndex(dataDir));
});

test('a store locked by another process for too long is CNI error 11, "try again later"', async (t) => {
  const { req, dataDir, add } = setup(t, [[{ subnet: '10.22.0.0/24' }]]);
  await add('a');
  const fd = fs.openSync(join(leaseFolder(dataDir), 'lock'), 'r');
  t.after(() => fs.closeSync(fd));
  assert.ok(tryLockExclusive(fd), 'the test holds the lock');
  const started = Date.now();
  await rejects(builtinIpam({ lockTimeoutMs: 300 }).add(req('b')), 11, 'IPAM store busy', join(leaseFolder(dataDir), 'lock'));
  assert.ok(Date.now() - started >= 300);
  unlock(fd);
  assert.deepEqual(await add('b'), ['10.22.0.3/24']);
});

test('an unusable data dir is CNI error 5 for ADD and "not ok" for STATUS', async (t) => {
  const { dataDir, cleanup } = tempDataDir();
  t.after(cleanup);
  writeFileSync(join(dataDir, 'file'), '');
  const config = ipamConfig(join(dataDir, 'file'), [[{ subnet: '10.22.0.0/24' }]]);
  await rejects(ipam.add(request(config, 'a')), 5, 'cannot create the IPAM store');
  const status = await ipam.status({ network: NETWORK, config, netConf: {} });
  assert.equal(status.ok, false);
  assert.match(status.reason!, /cannot create the IPAM store/);
});

test('STATUS of a range too big for a usage hint (an IPv6 /64) counts from the folder', async (t) => {
  const { add, config } = setup(t, [[{ subnet: 'fd00:9::/64' }]]);
  await add('a');
  assert.deepEqual(await ipam.status({ network: NETWORK, config, netConf: {} }), { ok: true });
});
