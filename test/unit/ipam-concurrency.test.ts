import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ChildOutcome, runChild, runTogether } from '../support/ipam-processes.js';
import { auditIndex, ipamConfig, leaseOwners, request, tempDataDir } from '../support/ipam-store.js';

/** Starts `ids.length` separate processes that all ADD at the same moment. */
async function concurrentAdds(config: Record<string, unknown>, ids: string[]): Promise<ChildOutcome[]> {
  const outcomes = await runTogether(ids.map((id) => ({ op: 'add' as const, req: request(config, id) })));
  for (const o of outcomes) assert.ok(o.reply, `a child answered (status ${o.status}, signal ${o.signal}): ${o.stderr}`);
  return outcomes;
}

const addressesOf = (o: ChildOutcome) => ((o.reply!.result as { ips: Array<{ address: string }> }).ips ?? []).map((i) => i.address);

test('64 concurrent ADDs from separate processes get 64 distinct addresses', { timeout: 120_000 }, async (t) => {
  const { dataDir, cleanup } = tempDataDir();
  t.after(cleanup);
  const config = ipamConfig(dataDir, [[{ subnet: '10.50.0.0/24' }], [{ subnet: 'fd00:50::/64' }]]);
  const ids = Array.from({ length: 64 }, (_, i) => `container-${i}`);
  const outcomes = await concurrentAdds(config, ids);
  const failed = outcomes.filter((o) => !o.reply!.ok);
  assert.deepEqual(failed.map((o) => o.reply), []);
  const addresses = outcomes.flatMap(addressesOf);
  assert.equal(addresses.length, 128);
  assert.equal(new Set(addresses).size, 128, 'no address given twice');
  const owners = leaseOwners(dataDir);
  assert.equal(owners.size, 128);
  outcomes.forEach((o, i) => {
    for (const address of addressesOf(o)) assert.equal(owners.get(address.split('/')[0]!), `${ids[i]}/eth0`);
  });
  assert.ok(auditIndex(dataDir));
});

test('a range of 4 gives 4 addresses to 8 concurrent ADDs, then "range exhausted" naming the range', { timeout: 120_000 }, async (t) => {
  const { dataDir, cleanup } = tempDataDir();
  t.after(cleanup);
  const config = ipamConfig(dataDir, [[{ subnet: '10.51.0.0/24', rangeStart: '10.51.0.100', rangeEnd: '10.51.0.103' }]]);
  const outcomes = await concurrentAdds(config, Array.from({ length: 8 }, (_, i) => `c${i}`));
  const won = outcomes.filter((o) => o.reply!.ok);
  const lost = outcomes.filter((o) => !o.reply!.ok);
  assert.equal(won.length, 4);
  assert.deepEqual(won.flatMap(addressesOf).sort(), ['10.51.0.100/24', '10.51.0.101/24', '10.51.0.102/24', '10.51.0.103/24']);
  for (const o of lost) {
    assert.equal(o.reply!.code, 999);
    assert.equal(o.reply!.msg, 'range exhausted: no free address left in range set 10.51.0.0/24 (10.51.0.100-10.51.0.103)');
  }
  const late = await runChild({ op: 'add', req: request(config, 'late') });
  assert.equal(late.reply!.code, 999);
  assert.match(late.reply!.msg!, /range exhausted.*10\.51\.0\.100-10\.51\.0\.103/);
  assert.equal(leaseOwners(dataDir).size, 4);
  assert.ok(auditIndex(dataDir));
});
