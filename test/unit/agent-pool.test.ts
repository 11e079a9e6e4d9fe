// The agent's worker threads (src/daemon/pool.ts, worker.ts) without root: calls spread over the
// workers and answered, their log records written by the main thread's logger, and a worker that dies
// during a call: the call fails with an error, a new worker takes its place, later calls are served.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { after, test } from 'node:test';
import pino from 'pino';
import { CniError } from '../../src/cni/errors.js';
import { WorkerPool } from '../../src/daemon/pool.js';

const dir = mkdtempSync(join(tmpdir(), 'sluice-pool-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** An IPAM plugin whose STATUS waits until <dir>/open exists, after saying it started. */
const slowIpam = join(dir, 'slow-ipam');
writeFileSync(slowIpam, `#!/bin/sh\ncat > /dev/null\n: > "${dir}/started"\nwhile [ ! -e "${dir}/open" ]; do sleep 0.01; done\n`);
chmodSync(slowIpam, 0o755);

const until = async (check: () => boolean) => {
  while (!check()) await new Promise((r) => setTimeout(r, 10));
};

test('calls are served by the workers; a worker that dies fails its call and is replaced', async () => {
  const records: any[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void records.push(JSON.parse(line)) });
  const pool = new WorkerPool(2, { logLevel: 'debug', testHooks: false, driver: {} }, logger);
  try {
    await pool.ready();
    assert.equal(pool.threadIds.length, 2);
    const version = { CNI_COMMAND: 'VERSION' };
    const answers = await Promise.all(Array.from({ length: 6 }, () => pool.run(version, Buffer.from('{"cniVersion":"0.4.0"}'), { id: 1 })));
    for (const a of answers) assert.deepEqual(JSON.parse(a.stdout), { cniVersion: '0.4.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });

    // A refused call logs a warning in the worker: it reaches the main thread's logger, tagged.
    const bad = await pool.run({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1' }, Buffer.from('{"cniVersion":"1.0.0","name":"n","type":"sluice","ipam":{"type":"sluice"}}'), { id: 7 });
    assert.equal(bad.exitCode, 1);
    assert.ok(records.some((r) => r.level === 40 && r.req === 7 && r.containerId === 'c1' && /required environment variables missing/.test(r.msg)), JSON.stringify(records));

    // A STATUS held in its IPAM plugin; its worker dies under it.
    const status = { CNI_COMMAND: 'STATUS', CNI_PATH: dir };
    const held = pool.run(status, Buffer.from(JSON.stringify({ cniVersion: '1.1.0', name: 'n', type: 'sluice', ipam: { type: 'slow-ipam' } })), { id: 2 });
    await until(() => existsSync(join(dir, 'started')));
    const slots = (pool as unknown as { slots: { worker: Worker; inFlight: Map<number, unknown> }[] }).slots;
    const busy = slots.find((s) => s.inFlight.size === 1)!;
    await busy.worker.terminate();
    await assert.rejects(held, /worker thread stopped during the call/);
    writeFileSync(join(dir, 'open'), '');
    assert.ok(records.some((r) => r.msg === 'a worker thread stopped: starting another'));

    await pool.ready();
    const after = await Promise.all(Array.from({ length: 4 }, () => pool.run(version, Buffer.alloc(0), { id: 3 })));
    assert.deepEqual(after.map((a) => a.exitCode), [0, 0, 0, 0]);
    assert.equal(pool.threadIds.length, 2, 'two workers again');
  } finally {
    await pool.close();
  }
});

test('a worker allocates for the main thread: the result, a CNI error whole, and a failure when the worker dies', async () => {
  const logger = pino({ level: 'silent' });
  const pool = new WorkerPool(1, { logLevel: 'silent', testHooks: false, driver: {} }, logger);
  const dataDir = mkdtempSync(join(dir, 'ipam-'));
  const config = { type: 'sluice', dataDir, ranges: [[{ subnet: '10.71.0.0/29' }]] };
  const request = (containerID: string, requestedIPs: string[] = []) => ({
    containerID, ifname: 'eth0', network: 'pooltest', config, netConf: { cniVersion: '1.1.0', name: 'pooltest', ipam: config }, requestedIPs,
  });
  try {
    await pool.ready();
    assert.deepEqual(await pool.allocate(request('a')), { ips: [{ address: '10.71.0.2/29', gateway: '10.71.0.1' }], routes: [] });
    await assert.rejects(pool.allocate(request('b', ['10.99.0.1'])), (err: unknown) => {
      assert.ok(err instanceof CniError, String(err));
      assert.equal(err.code, 999);
      assert.match(err.msg, /requested IP address 10\.99\.0\.1 not in any range set/);
      assert.match(err.details, /range sets: /);
      return true;
    });
    const slots = (pool as unknown as { slots: { worker: Worker }[] }).slots;
    // Stopped before it can answer: the allocation fails instead of waiting for ever.
    const pending = pool.allocate(request('c'));
    await slots[0]!.worker.terminate();
    await assert.rejects(pending, /worker thread stopped during the call/);
  } finally {
    await pool.close();
  }
});
