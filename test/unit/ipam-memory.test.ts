/**
 * The agent's IPAM (builtinIpam with `remember` and `commitAfterResult`): each store's index kept in
 * memory between calls, trusted only while nobody else wrote; answers before the index and seal are
 * written. Whatever it skips, it never hands out an address twice nor misses a lease of its own.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { parseHostLocalConfig } from '../../src/ipam/host-local/config.js';
import { builtinIpam } from '../../src/ipam/host-local/index.js';
import { Ledger, sidecarPath } from '../../src/ipam/host-local/ledger.js';
import { auditIndex, ipamConfig, leaseFolder, leaseOwners, NETWORK, request, tempDataDir } from '../support/ipam-store.js';

function setup(t: { after(fn: () => void): void }) {
  const { dataDir, cleanup } = tempDataDir();
  t.after(cleanup);
  const config = ipamConfig(dataDir, [[{ subnet: '10.70.0.0/24' }]]);
  const sets = parseHostLocalConfig(NETWORK, config, {}).rangeSets;
  const gen = () => (JSON.parse(readFileSync(join(sidecarPath(dataDir, NETWORK), 'seal'), 'utf8')) as { gen: number }).gen;
  return { dataDir, config, sets, gen };
}

const address = (result: { ips: { address: string }[] }) => result.ips.map((ip) => ip.address);

/** Opens a ledger from `memory`, runs `fn`, commits; returns the ledger. */
function session(dataDir: string, sets: ReturnType<typeof setup>['sets'], memory: Ledger['memory'], fn: (ledger: Ledger) => void = () => {}): Ledger {
  const ledger = new Ledger(dataDir, NETWORK, sets, true);
  ledger.open(memory);
  fn(ledger);
  ledger.commit();
  return ledger;
}

test('a ledger starts from the last one\'s memory only while nobody else has written', async (t) => {
  const { dataDir, config, sets } = setup(t);
  const plain = builtinIpam();
  await plain.add(request(config, 'a'));

  const first = session(dataDir, sets, undefined);
  const memory = first.memory;
  assert.ok(memory, 'a committed ledger leaves a memory');
  assert.equal(session(dataDir, sets, memory).memory, memory, 'nothing written since: the memory is taken as it is');

  // Another sluice process allocates: its seal is not the one remembered.
  await plain.add(request(config, 'b'));
  const afterSluice = session(dataDir, sets, memory, (l) => assert.deepEqual(l.leasesOf({ containerID: 'b', ifname: 'eth0' }), ['10.70.0.3']));
  assert.notEqual(afterSluice.memory, memory);

  // host-local writes a lease (and its cursor): the folder no longer matches the remembered stamp.
  const current = afterSluice.memory;
  writeFileSync(join(leaseFolder(dataDir), '10.70.0.9'), 'hostlocal\r\neth0', { mode: 0o600 });
  writeFileSync(join(leaseFolder(dataDir), 'last_reserved_ip.0'), '10.70.0.9');
  const afterHostLocal = session(dataDir, sets, current, (l) => assert.deepEqual(l.leasesOf({ containerID: 'hostlocal', ifname: 'eth0' }), ['10.70.0.9']));
  assert.notEqual(afterHostLocal.memory, current);
  assert.ok(auditIndex(dataDir));
});

test('the agent\'s IPAM and another process share a store without a duplicate or a lost lease', async (t) => {
  const { dataDir, config } = setup(t);
  const agent = builtinIpam({ remember: true, commitAfterResult: true });
  const other = builtinIpam();
  const results = [address(await agent.add(request(config, 'a')))];
  await nextTurn();
  results.push(address(await other.add(request(config, 'b'))));
  results.push(address(await agent.add(request(config, 'c'))));
  await nextTurn();
  // b's index entry exists only on disk: the agent must read it, not trust what it knew.
  await agent.del(request(config, 'b'));
  results.push(address(await other.add(request(config, 'd'))));
  await other.del(request(config, 'a'));
  results.push(address(await agent.add(request(config, 'e'))));
  await nextTurn();
  await agent.del(request(config, 'c'));
  await agent.check(request(config, 'e'), { ips: [{ address: '10.70.0.6/24', gateway: '10.70.0.1' }], routes: [] });

  assert.deepEqual(results, [['10.70.0.2/24'], ['10.70.0.3/24'], ['10.70.0.4/24'], ['10.70.0.5/24'], ['10.70.0.6/24']]);
  assert.deepEqual([...leaseOwners(dataDir)].sort(), [['10.70.0.5', 'd/eth0'], ['10.70.0.6', 'e/eth0']]);
  assert.ok(auditIndex(dataDir));
});

test('with commitAfterResult the lease is in place at the answer, the seal follows before the next operation', async (t) => {
  const { dataDir, config, gen } = setup(t);
  const agent = builtinIpam({ remember: true, commitAfterResult: true });
  await agent.add(request(config, 'a'));
  await nextTurn();
  const sealed = gen();

  const pending = agent.add(request(config, 'b'));
  const next = agent.add(request(config, 'c'));
  assert.deepEqual(address(await pending), ['10.70.0.3/24']);
  assert.equal(leaseOwners(dataDir).get('10.70.0.3'), 'b/eth0', 'the lease is written before the answer');
  assert.equal(gen(), sealed, 'the seal is not yet written at the answer');
  assert.deepEqual(address(await next), ['10.70.0.4/24'], 'the next operation waited for the lock');
  assert.equal(gen(), sealed + 1, 'b\'s seal was written before c ran');
  await nextTurn();
  assert.equal(gen(), sealed + 2);
  assert.ok(auditIndex(dataDir));
});
