/**
 * Interop with the reference host-local binary (Debian's containernetworking-plugins): both share one
 * data dir, in both directions, IPv4 and IPv6.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { builtinIpam } from '../../src/ipam/host-local/index.js';
import { HOST_LOCAL, hostLocalAvailable, runChild, runHostLocal, runHostLocalAsync, runTogether } from '../support/ipam-processes.js';
import { NETWORK, auditIndex, ipamConfig, leaseFolder, leaseOwners, request, tempDataDir } from '../support/ipam-store.js';

const ipam = builtinIpam();
const skip = hostLocalAvailable() ? false : `${HOST_LOCAL} is missing: apt-get install containernetworking-plugins`;

const FAMILIES = [
  { name: 'IPv4', ranges: [[{ subnet: '10.70.0.0/24' }]], first: '10.70.0.2', nth: (n: number) => `10.70.0.${n + 2}` },
  { name: 'IPv6', ranges: [[{ subnet: 'fd00:70::/64' }]], first: 'fd00:70::2', nth: (n: number) => `fd00:70::${(n + 2).toString(16)}` },
];

function shared(t: TestContext, ranges: unknown[][]) {
  const { dataDir, cleanup } = tempDataDir();
  t.after(cleanup);
  const config = ipamConfig(dataDir, ranges);
  const hostLocalConf = { cniVersion: '1.0.0', name: NETWORK, ipam: { ...config, type: 'host-local' } };
  const hl = (command: 'ADD' | 'DEL' | 'CHECK', id: string, cniArgs = '') => {
    const out = runHostLocal(command, hostLocalConf, id, 'eth0', cniArgs);
    return out;
  };
  const hlAdd = (id: string, cniArgs = '') => {
    const out = hl('ADD', id, cniArgs);
    assert.equal(out.status, 0, `host-local ADD ${id}: ${out.stdout}${out.stderr}`);
    return ((out.json!.ips as Array<{ address: string }>) ?? []).map((i) => i.address.split('/')[0]!);
  };
  const slAdd = async (id: string, requestedIPs: string[] = []) => (await ipam.add(request(config, id, { requestedIPs }))).ips.map((i) => i.address.split('/')[0]!);
  const slDel = (id: string) => ipam.del(request(config, id));
  return { dataDir, config, hostLocalConf, hl, hlAdd, slAdd, slDel };
}

for (const family of FAMILIES) {
  test(`${family.name}: host-local allocates, sluice releases`, { skip }, async (t) => {
    const s = shared(t, family.ranges);
    await s.slAdd('sluice-first');
    assert.deepEqual(s.hlAdd('h1'), [family.nth(1)]);
    assert.deepEqual(s.hlAdd('h2'), [family.nth(2)]);
    await s.slDel('h1');
    assert.deepEqual([...leaseOwners(s.dataDir)], [
      [family.nth(0), 'sluice-first/eth0'],
      [family.nth(2), 'h2/eth0'],
    ]);
    assert.ok(auditIndex(s.dataDir));
    await s.slDel('h2');
    assert.equal(leaseOwners(s.dataDir).size, 1);
  });

  test(`${family.name}: sluice allocates, host-local releases`, { skip }, async (t) => {
    const s = shared(t, family.ranges);
    assert.deepEqual(await s.slAdd('s1'), [family.first]);
    assert.deepEqual(await s.slAdd('s2'), [family.nth(1)]);
    const check = s.hl('CHECK', 's1');
    assert.equal(check.status, 0, `host-local CHECK finds sluice's lease: ${check.stdout}`);
    const del = s.hl('DEL', 's1');
    assert.equal(del.status, 0, del.stdout);
    assert.deepEqual([...leaseOwners(s.dataDir)], [[family.nth(1), 's2/eth0']]);
    // sluice notices the foreign release: its index follows, allocation goes on round-robin.
    assert.deepEqual(await s.slAdd('s3'), [family.nth(2)]);
    assert.ok(auditIndex(s.dataDir));
    await s.slDel('s1');
    assert.equal(leaseOwners(s.dataDir).size, 2);
  });

  test(`${family.name}: one round-robin cursor, each refuses the other's addresses`, { skip }, async (t) => {
    const s = shared(t, family.ranges);
    const order = [s.hlAdd('h1'), await s.slAdd('s1'), s.hlAdd('h2'), await s.slAdd('s2')];
    assert.deepEqual(order, [[family.nth(0)], [family.nth(1)], [family.nth(2)], [family.nth(3)]]);
    const refused = s.hl('ADD', 'h3', `IP=${family.nth(1)}`);
    assert.notEqual(refused.status, 0);
    assert.match(String(refused.json?.msg), /not available/);
    await assert.rejects(s.slAdd('s3', [family.nth(2)]), /not available.*container h2 interface eth0/);
  });
}

test('the same operations leave the same lease folder under host-local and under sluice', { skip }, async (t) => {
  const ranges = [
    [{ subnet: '10.71.0.0/29', gateway: '10.71.0.3' }, { subnet: '10.72.0.0/30' }],
    [{ subnet: 'fd00:71::/125', rangeStart: 'fd00:71::2' }],
  ];
  const viaHostLocal = shared(t, ranges);
  const viaSluice = shared(t, ranges);
  const script: Array<[string, string, string?]> = [
    ['ADD', 'a'], ['ADD', 'b'], ['ADD', 'c'], ['DEL', 'b'], ['ADD', 'd'], ['ADD', 'e', '10.71.0.2'],
    ['ADD', 'f'], ['DEL', 'a'], ['ADD', 'g'], ['ADD', 'h'], ['DEL', 'd'], ['ADD', 'i'],
  ];
  for (const [verb, id, ip] of script) {
    if (verb === 'ADD') {
      const hl = viaHostLocal.hl('ADD', id, ip ? `IP=${ip}` : '');
      let sl: unknown;
      try {
        sl = (await ipam.add(request(viaSluice.config, id, { requestedIPs: ip ? [ip] : [] }))).ips.map((i) => i.address);
      } catch (err) {
        sl = 'error';
      }
      const hlIps = hl.status === 0 ? (hl.json!.ips as Array<{ address: string }>).map((i) => i.address) : 'error';
      assert.deepEqual(sl, hlIps, `ADD ${id}`);
    } else {
      assert.equal(viaHostLocal.hl('DEL', id).status, 0);
      await viaSluice.slDel(id);
    }
  }
  const folderOf = (dataDir: string) =>
    Object.fromEntries(readdirSync(leaseFolder(dataDir)).sort().filter((n) => n !== 'lock').map((n) => [n, readFileSync(join(leaseFolder(dataDir), n), 'utf8')]));
  assert.deepEqual(folderOf(viaSluice.dataDir), folderOf(viaHostLocal.dataDir));
});

test('host-local and sluice processes allocating at once share the lock and never collide', { skip, timeout: 120_000 }, async (t) => {
  const s = shared(t, [[{ subnet: '10.73.0.0/24' }], [{ subnet: 'fd00:73::/64' }]]);
  const ids = Array.from({ length: 12 }, (_, i) => i);
  const [sluiceOutcomes, hostLocalOutcomes] = await Promise.all([
    runTogether(ids.map((i) => ({ op: 'add' as const, req: request(s.config, `sl${i}`) }))),
    Promise.all(ids.map((i) => runHostLocalAsync('ADD', s.hostLocalConf, `hl${i}`))),
  ]);
  for (const o of sluiceOutcomes) assert.ok(o.reply?.ok, JSON.stringify(o.reply));
  for (const o of hostLocalOutcomes) assert.equal(o.status, 0, o.stdout + o.stderr);
  const owners = leaseOwners(s.dataDir);
  assert.equal(owners.size, 48, 'every ADD got its own IPv4 and IPv6 lease');
  // Then each releases the other's half.
  await Promise.all(ids.map((i) => s.slDel(`hl${i}`)));
  for (const i of ids) assert.equal(s.hl('DEL', `sl${i}`).status, 0);
  assert.equal(leaseOwners(s.dataDir).size, 0);
  assert.deepEqual((await runChild({ op: 'status', req: request(s.config, 'x') })).reply, { ok: true, result: { ok: true } });
  assert.ok(auditIndex(s.dataDir));
});
