/**
 * SIGKILLs an IPAM operation at every crash point it passes (SLUICE_TEST_CRASH_AT=N for N = 1, 2, ...
 * until it runs to the end) and checks the store after each kill: no lease lost, no half-written
 * lease file, no address given twice, and the next operations work and leave a sealed, exact index.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { builtinIpam } from '../../src/ipam/host-local/index.js';
import { parseLease } from '../../src/ipam/host-local/lease.js';
import type { Attachment } from '../../src/ipam/types.js';
import { type ChildJob, runChild } from '../support/ipam-processes.js';
import { auditIndex, ipamConfig, leaseFiles, leaseFolder, leaseOwners, request, tempDataDir } from '../support/ipam-store.js';

const ipam = builtinIpam();
const RANGES = [[{ subnet: '10.60.0.0/28' }], [{ subnet: 'fd00:60::/120' }]];
const BASELINE = ['a', 'b', 'c'];

interface Scenario {
  /** Extra store state before the operation (the baseline containers are always there). */
  prepare?: (dataDir: string, config: Record<string, unknown>) => Promise<void>;
  job: (config: Record<string, unknown>) => ChildJob;
  /** Containers whose leases may change under the operation (all others must not). */
  affected: string[];
  /** Run after each kill, before the generic checks of the next allocation. */
  recover: (config: Record<string, unknown>) => Promise<void>;
}

function ownersByContainer(dataDir: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [ip, owner] of leaseOwners(dataDir)) out.set(owner, [...(out.get(owner) ?? []), ip].sort());
  return out;
}

/** Kills the job at every point; returns how many points it has. */
async function sweep(scenario: Scenario): Promise<number> {
  for (let n = 1; ; n++) {
    const { dataDir, cleanup } = tempDataDir();
    try {
      const config = ipamConfig(dataDir, RANGES);
      for (const id of BASELINE) await ipam.add(request(config, id));
      await scenario.prepare?.(dataDir, config);
      const before = ownersByContainer(dataDir);

      const outcome = await runChild(scenario.job(config), { SLUICE_TEST_CRASH_AT: String(n) });
      if (outcome.signal !== 'SIGKILL') {
        assert.equal(outcome.status, 0, outcome.stderr);
        assert.ok(outcome.reply, outcome.stderr);
        return n - 1;
      }
      const label = `killed at point ${n}`;

      // No half-written file: every lease names an owner.
      for (const [ip, content] of leaseFiles(dataDir)) {
        assert.equal(parseLease(Buffer.from(content, 'latin1')).kind, 'attachment', `${label}: lease ${ip} holds ${JSON.stringify(content)}`);
      }
      // No lost lease: everyone the operation was not about keeps exactly what they had.
      const after = ownersByContainer(dataDir);
      for (const [owner, ips] of before) {
        if (scenario.affected.some((id) => owner.startsWith(`${id}/`))) continue;
        assert.deepEqual(after.get(owner), ips, `${label}: ${owner} kept its leases`);
      }
      // At most one address per range set for any attachment.
      for (const [owner, ips] of after) {
        assert.ok(ips.filter((ip) => ip.includes('.')).length <= 1 && ips.filter((ip) => ip.includes(':')).length <= 1, `${label}: ${owner} holds ${ips}`);
      }

      await scenario.recover(config);
      // The next allocation gets addresses nobody holds, and leaves an exact, sealed index.
      const taken = new Set(leaseOwners(dataDir).keys());
      const next = await ipam.add(request(config, 'next'));
      for (const { address } of next.ips) assert.ok(!taken.has(address.split('/')[0]!), `${label}: ${address} was already leased`);
      assert.ok(auditIndex(dataDir), `${label}: index sealed`);
    } finally {
      cleanup();
    }
  }
}

async function delAndReadd(config: Record<string, unknown>, id: string): Promise<void> {
  await ipam.del(request(config, id));
  const dataDir = config.dataDir as string;
  assert.ok(![...leaseOwners(dataDir).values()].includes(`${id}/eth0`), `DEL ${id} released everything`);
  await ipam.add(request(config, id));
}

test('a kill at any point of an ADD', { timeout: 300_000 }, async (t) => {
  const points = await sweep({
    job: (config) => ({ op: 'add', req: request(config, 'victim') }),
    affected: ['victim'],
    recover: (config) => delAndReadd(config, 'victim'),
  });
  t.diagnostic(`killed at each of ${points} points`);
  assert.ok(points >= 8, `an ADD passes ${points} crash points`);
});

test('a kill at any point of an ADD that fails and rolls back', { timeout: 300_000 }, async (t) => {
  const points = await sweep({
    job: (config) => ({ op: 'add', req: request(config, 'victim', { requestedIPs: ['fd00:60::2'] }) }),
    affected: ['victim'],
    recover: (config) => delAndReadd(config, 'victim'),
  });
  t.diagnostic(`killed at each of ${points} points`);
  assert.ok(points >= 4, `a rolled-back ADD passes ${points} crash points`);
});

test('a kill at any point of an agent\'s ADD (index remembered, written after the answer)', { timeout: 300_000 }, async (t) => {
  const points = await sweep({
    job: (config) => ({ op: 'add', req: request(config, 'victim'), agent: true, warmup: request(config, 'warm') }),
    affected: ['victim', 'warm'],
    recover: async (config) => {
      await delAndReadd(config, 'victim');
      await delAndReadd(config, 'warm');
    },
  });
  t.diagnostic(`killed at each of ${points} points`);
  assert.ok(points >= 12, `a warmed-up agent's ADD passes ${points} crash points`);
});

test('a kill at any point of a DEL', { timeout: 300_000 }, async (t) => {
  const points = await sweep({
    prepare: async (_dataDir, config) => {
      await ipam.add(request(config, 'victim'));
    },
    job: (config) => ({ op: 'del', req: request(config, 'victim') }),
    affected: ['victim'],
    recover: (config) => delAndReadd(config, 'victim'),
  });
  t.diagnostic(`killed at each of ${points} points`);
  assert.ok(points >= 4, `a DEL passes ${points} crash points`);
});

test('a kill at any point of an ADD that first rebuilds the index after host-local wrote', { timeout: 300_000 }, async (t) => {
  const points = await sweep({
    prepare: async (dataDir) => {
      writeFileSync(join(leaseFolder(dataDir), '10.60.0.9'), 'hostlocal\r\neth0', { mode: 0o600 });
      writeFileSync(join(leaseFolder(dataDir), 'fd00:60::9'), 'hostlocal\r\neth0', { mode: 0o600 });
    },
    job: (config) => ({ op: 'add', req: request(config, 'victim') }),
    affected: ['victim'],
    recover: async (config) => {
      await delAndReadd(config, 'victim');
      await delAndReadd(config, 'hostlocal');
    },
  });
  t.diagnostic(`killed at each of ${points} points`);
  assert.ok(points >= 12, `a rebuilding ADD passes ${points} crash points`);
});

test('a kill at any point of a GC', { timeout: 300_000 }, async (t) => {
  const valid: Attachment[] = [{ containerID: 'a', ifname: 'eth0' }];
  const points = await sweep({
    job: (config) => ({ op: 'gc', req: request(config, 'unused'), validAttachments: valid }),
    affected: ['b', 'c'],
    recover: async (config) => {
      await ipam.gc({ network: request(config, 'x').network, config, netConf: {}, validAttachments: valid });
      assert.deepEqual([...new Set(leaseOwners(config.dataDir as string).values())], ['a/eth0']);
    },
  });
  t.diagnostic(`killed at each of ${points} points`);
  assert.ok(points >= 4, `a GC passes ${points} crash points`);
});
