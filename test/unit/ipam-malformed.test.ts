import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { CniError } from '../../src/cni/errors.js';
import { parseHostLocalConfig } from '../../src/ipam/host-local/config.js';
import { builtinIpam, gcLeases } from '../../src/ipam/host-local/index.js';
import { sidecarPath } from '../../src/ipam/host-local/ledger.js';
import { UsageHint } from '../../src/ipam/host-local/usage-hint.js';
import type { IpamRequest } from '../../src/ipam/types.js';
import { NETWORK, auditIndex, ipamConfig, leaseFiles, leaseFolder, leaseOwners, plantIndexEntry, request, tempDataDir } from '../support/ipam-store.js';

const ipam = builtinIpam();
const RANGES = [[{ subnet: '10.22.0.0/24' }]];

function setup(t: TestContext) {
  const { dataDir, cleanup } = tempDataDir();
  t.after(cleanup);
  const config = ipamConfig(dataDir, RANGES);
  const req = (id: string, more: Partial<IpamRequest> = {}) => request(config, id, more);
  const add = async (id: string, more: Partial<IpamRequest> = {}) => (await ipam.add(req(id, more))).ips.map((i) => i.address);
  const folder = leaseFolder(dataDir);
  const home = sidecarPath(dataDir, NETWORK);
  const gc = (valid: string[]) =>
    ipam.gc({ network: NETWORK, config, netConf: {}, validAttachments: valid.map((containerID) => ({ containerID, ifname: 'eth0' })) });
  return { dataDir, config, req, add, folder, home, gc };
}

/** Every address has at most one lease file by construction; what must never happen is a second owner. */
function assertNoDuplicates(results: string[][]) {
  const all = results.flat();
  assert.equal(new Set(all).size, all.length, `duplicate address among ${all.join(', ')}`);
}

test('a garbage lease file keeps its address reserved, is reported by GC, and refuses a request clearly', async (t) => {
  const { add, folder, gc, dataDir } = setup(t);
  const a = await add('a');
  writeFileSync(join(folder, '10.22.0.3'), Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x0d, 0x0a, 0x00]));
  const b = await add('b');
  assert.deepEqual(b, ['10.22.0.4/24'], 'the garbage address is stepped over');
  assertNoDuplicates([a, b]);
  await assert.rejects(add('c', { requestedIPs: ['10.22.0.3'] }), (err: unknown) => {
    assert.ok(err instanceof CniError);
    assert.match(err.message, /10\.22\.0\.3 is not available.*malformed lease file/);
    assert.ok(err.message.includes(join(folder, '10.22.0.3')), err.message);
    return true;
  });
  await gc(['a', 'b']);
  assert.ok(leaseFiles(dataDir).has('10.22.0.3'), 'GC keeps what it cannot attribute');
  const report = await gcLeases({ dataDir, network: NETWORK, liveContainerIDs: ['a', 'b'] });
  assert.deepEqual(report.malformed.map((m) => m.ip), ['10.22.0.3']);
  assert.ok(auditIndex(dataDir));
});

test('an empty lease file (an interrupted create) is stepped over, then released by GC', async (t) => {
  const { add, folder, gc, dataDir } = setup(t);
  await add('a');
  writeFileSync(join(folder, '10.22.0.3'), '');
  assert.deepEqual(await add('b'), ['10.22.0.4/24']);
  await gc(['a', 'b']);
  assert.deepEqual([...leaseFiles(dataDir).keys()], ['10.22.0.2', '10.22.0.4']);
  assert.ok(auditIndex(dataDir));
});

test('a container ID cut short is given back to the one live container it starts, by GC', async (t) => {
  const { add, folder, gc, dataDir } = setup(t);
  const live = '0123456789abcdef0123456789abcdef';
  await add(live);
  writeFileSync(join(folder, '10.22.0.9'), live.slice(0, 14));
  writeFileSync(join(folder, '10.22.0.10'), `${live}\r\net`);
  await gc([live]);
  const files = leaseFiles(dataDir);
  assert.equal(files.get('10.22.0.9'), `${live}\r\neth0`, 'repaired to the whole owner');
  assert.equal(files.has('10.22.0.10'), false, 'an interface the runtime does not list is released');
  assert.ok(auditIndex(dataDir));
  assert.deepEqual(await ipam.del(request(ipamConfig(dataDir, RANGES), live)), undefined);
  assert.equal(leaseFiles(dataDir).size, 0, 'DEL releases the repaired lease with the rest');
});

test('an index entry naming another container\'s lease (wrong owner) never releases it', async (t) => {
  const { add, req, folder, dataDir } = setup(t);
  await add('a');
  plantIndexEntry(dataDir, 'x@eth0', 'x@eth0 10.22.0.2\n');
  await ipam.del(req('x'));
  assert.deepEqual([...leaseOwners(dataDir)], [['10.22.0.2', 'a/eth0']]);
  assert.deepEqual(await add('x'), ['10.22.0.3/24']);
  assert.ok(auditIndex(dataDir));
  // The same for a lease whose interface differs: (a, eth1) is not (a, eth0).
  writeFileSync(join(folder, '10.22.0.20'), 'b\r\neth1');
  await ipam.del(req('b'));
  assert.equal(leaseOwners(dataDir).get('10.22.0.20'), 'b/eth1');
});

test('a garbled index (entry, seal, usage hint) is rebuilt from the lease files', async (t) => {
  const { add, req, home, dataDir } = setup(t);
  await add('a');
  await add('b');
  plantIndexEntry(dataDir, 'a@eth0', 'a@eth0 garbage\n');
  await ipam.del(req('a'));
  assert.deepEqual([...leaseOwners(dataDir).values()], ['b/eth0']);
  assert.ok(auditIndex(dataDir));

  for (const bucket of readdirSync(join(home, 'att'))) writeFileSync(join(home, 'att', bucket), Buffer.from([0, 1, 2, 0xff]));
  mkdirSync(join(home, 'att', 'stray-directory'));
  await ipam.del(req('b'));
  assert.equal(leaseFiles(dataDir).size, 0);
  assert.ok(auditIndex(dataDir));

  await add('c');
  writeFileSync(join(home, 'seal'), '{"v":1,"gen":');
  assert.deepEqual(await add('d'), ['10.22.0.5/24']);
  for (const name of readdirSync(home)) if (name.startsWith('usage-')) writeFileSync(join(home, name), 'junk');
  assert.deepEqual(await add('e'), ['10.22.0.6/24']);
  assert.ok(auditIndex(dataDir));
});

test('a usage hint that is wrong either way never gives a duplicate nor a false "exhausted"', async (t) => {
  const { add, config, home, dataDir } = setup(t);
  const results = [await add('a'), await add('b'), await add('c')];
  const set = parseHostLocalConfig(NETWORK, config, {}).rangeSets[0]!;
  const seal = JSON.parse(readFileSync(join(home, 'seal'), 'utf8')) as { gen: number };
  mkdirSync(join(home, 'tmp'), { recursive: true });
  // "Everything is free": the links fail with EEXIST and the search goes on.
  writeFileSync(join(leaseFolder(dataDir), 'last_reserved_ip.0'), 'nonsense');
  UsageHint.empty(set).save(join(home, UsageHint.fileName(set)), seal.gen);
  const fixedSeal = JSON.parse(readFileSync(join(home, 'seal'), 'utf8')) as { lastReserved: Record<string, string> };
  fixedSeal.lastReserved['0'] = 'nonsense';
  writeFileSync(join(home, 'seal'), JSON.stringify(fixedSeal));
  results.push(await add('d'));
  assertNoDuplicates(results);
  assert.deepEqual(results[3], ['10.22.0.5/24'], 'garbage in last_reserved_ip starts from the range start');

  // "Everything is taken": the folder is listed again before anyone is told the range is full.
  const seal2 = JSON.parse(readFileSync(join(home, 'seal'), 'utf8')) as { gen: number };
  const full = UsageHint.empty(set);
  for (let i = 0; i < Number(set.size); i++) full.mark(i, true);
  full.save(join(home, UsageHint.fileName(set)), seal2.gen);
  assert.deepEqual(await ipam.status({ network: NETWORK, config, netConf: {} }), { ok: true });
  results.push(await add('e'));
  assertNoDuplicates(results);
  assert.ok(auditIndex(dataDir));
});

test('a directory or a symlink named like an address counts as taken', async (t) => {
  const { add, folder } = setup(t);
  mkdirSync(join(folder, '10.22.0.2'), { recursive: true });
  symlinkSync('/etc/hostname', join(folder, '10.22.0.3'));
  assert.deepEqual(await add('a'), ['10.22.0.4/24']);
  rmSync(join(folder, '10.22.0.2'), { recursive: true });
});
