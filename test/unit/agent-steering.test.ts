// Steering a worker off the main thread's CPU (src/daemon/steering.ts): which CPUs a worker is given,
// when it gets them all back, what happens when the calls fail; and on this machine, with a real worker
// thread, that a job posted while the main thread is busy runs on another CPU at once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { CpuSteering, type AffinityCalls } from '../../src/daemon/steering.js';
import { affinityOf, currentCpu } from '../../src/sys/affinity.js';
import { SystemError } from '../../src/sys/errno.js';

/** A machine of `cpus` CPUs whose caller runs on `on.cpu`; every affinity set is recorded. */
function fakeMachine(cpus: number[], on: { cpu: number }, fail?: (tid: number) => SystemError | undefined) {
  const sets: [number, number[]][] = [];
  const sys: AffinityCalls = {
    currentCpu: () => on.cpu,
    affinityOf: () => [...cpus],
    setAffinity: (tid, set) => {
      const err = fail?.(tid);
      if (err) throw err;
      sets.push([tid, [...set]]);
    },
  };
  return { sys, sets };
}

const quiet = { warn() {} };

test('a worker is kept off the caller\'s CPU, moved only when the caller moves, and gets every CPU back on release', () => {
  const on = { cpu: 1 };
  const { sys, sets } = fakeMachine([0, 1, 2, 3], on);
  const steering = new CpuSteering(quiet, sys);
  steering.awayFromCaller(100);
  assert.deepEqual(sets, [[100, [0, 2, 3]]]);
  steering.awayFromCaller(100);
  assert.equal(sets.length, 1, 'the caller did not move: no call');
  on.cpu = 3;
  steering.awayFromCaller(100);
  assert.deepEqual(sets.at(-1), [100, [0, 1, 2]]);
  steering.release(100);
  assert.deepEqual(sets.at(-1), [100, [0, 1, 2, 3]]);
  steering.release(100);
  assert.equal(sets.length, 3, 'a worker not kept off anything is left alone');
  steering.awayFromCaller(undefined);
  assert.equal(sets.length, 3, 'a worker whose tid is not known yet is left alone');
});

test('with one CPU there is nowhere else to go: nothing is set', () => {
  const { sys, sets } = fakeMachine([0], { cpu: 0 });
  const steering = new CpuSteering(quiet, sys);
  steering.awayFromCaller(100);
  steering.release(100);
  assert.deepEqual(sets, []);
});

test('a worker that is gone is forgotten; any other refusal stops steering, with a warning, and gives the others their CPUs back', () => {
  const warnings: string[] = [];
  let refuse: SystemError | undefined;
  const { sys, sets } = fakeMachine([0, 1], { cpu: 0 }, (tid) => (tid === 200 ? new SystemError(3, 'sched_setaffinity') : tid === 300 ? refuse : undefined));
  const steering = new CpuSteering({ warn: (_obj, msg) => void warnings.push(msg) }, sys);
  steering.awayFromCaller(200);
  assert.deepEqual(warnings, [], 'ESRCH: the thread is gone, nothing to say');
  steering.awayFromCaller(100);
  assert.deepEqual(sets, [[100, [1]]]);
  refuse = new SystemError(1, 'sched_setaffinity');
  steering.awayFromCaller(300);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /cannot steer worker threads/);
  assert.deepEqual(sets.at(-1), [100, [0, 1]], 'the worker kept off a CPU gets every CPU back');
  const count = sets.length;
  steering.awayFromCaller(100);
  steering.awayFromCaller(400);
  assert.equal(sets.length, count, 'no steering after that');
});

test('on this machine: a worker steered off the main thread\'s CPU runs elsewhere while the main thread is busy, and release gives it every CPU', async (t) => {
  const allowed = affinityOf(0);
  if (allowed.length < 2) {
    // One CPU: steering must leave the worker alone (checked with the fake above); nothing to see here.
    t.diagnostic(`this machine gives the process ${allowed.length} CPU`);
    return;
  }
  const worker = new Worker(
    `const { parentPort } = require('node:worker_threads');
     const libc = require('koffi').load('libc.so.6');
     const gettid = libc.func('int gettid()');
     const getcpu = libc.func('int sched_getcpu()');
     parentPort.on('message', () => parentPort.postMessage({ cpu: getcpu() }));
     parentPort.postMessage({ tid: gettid() });`,
    { eval: true },
  );
  try {
    const { tid } = (await new Promise((resolve) => worker.once('message', resolve))) as { tid: number };
    const steering = new CpuSteering(quiet);
    let rounds = 0;
    for (let attempt = 0; attempt < 50 && rounds < 5; attempt++) {
      const before = currentCpu();
      steering.awayFromCaller(tid);
      if (currentCpu() !== before) continue; // moved in between: which CPU was left out is not known
      assert.deepEqual(affinityOf(tid), allowed.filter((c) => c !== before), 'every CPU but the caller\'s');
      const reply = new Promise<{ cpu: number }>((resolve) => worker.once('message', resolve));
      worker.postMessage('go');
      // Busy for a while, as the main thread is while it makes a veth.
      const until = process.hrtime.bigint() + 5_000_000n;
      while (process.hrtime.bigint() < until);
      assert.notEqual((await reply).cpu, before, 'the worker ran on another CPU');
      rounds++;
    }
    assert.ok(rounds > 0, 'the main thread stayed on one CPU through at least one round');
    steering.release(tid);
    assert.deepEqual(affinityOf(tid), allowed);
  } finally {
    await worker.terminate();
  }
});
