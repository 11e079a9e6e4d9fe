// Ordering of the agent's calls (src/daemon/queue.ts): per-container serialisation and the GC gate.
// Every test orders events with promises it resolves itself: nothing depends on timing.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Gate, KeyedQueue } from '../../src/daemon/queue.js';

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(err: Error): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every pending callback run. */
const settle = () => new Promise((r) => setImmediate(r));

describe('KeyedQueue', () => {
  test('tasks for one key run one at a time, in order; other keys run meanwhile', async () => {
    const q = new KeyedQueue();
    const log: string[] = [];
    const gates = { a1: deferred(), a2: deferred(), b1: deferred() };
    const task = (name: keyof typeof gates) => async () => {
      log.push(`start ${name}`);
      await gates[name].promise;
      log.push(`end ${name}`);
      return name;
    };
    const a1 = q.run('a', task('a1'));
    const a2 = q.run('a', task('a2'));
    const b1 = q.run('b', task('b1'));
    await settle();
    assert.deepEqual(log, ['start a1', 'start b1'], 'a2 waits for a1; b1 does not');
    gates.b1.resolve();
    assert.equal(await b1, 'b1');
    gates.a2.resolve(); // a2 may finish early only once it started: it has not
    await settle();
    assert.deepEqual(log, ['start a1', 'start b1', 'end b1']);
    gates.a1.resolve();
    assert.deepEqual([await a1, await a2], ['a1', 'a2']);
    assert.deepEqual(log, ['start a1', 'start b1', 'end b1', 'end a1', 'start a2', 'end a2']);
    await settle();
    assert.equal(q.size, 0, 'idle keys are forgotten');
  });

  test('a failed task does not stop the next one for the key', async () => {
    const q = new KeyedQueue();
    const failing = q.run('k', async () => {
      throw new Error('boom');
    });
    const next = q.run('k', async () => 'ran');
    await assert.rejects(failing, /boom/);
    assert.equal(await next, 'ran');
  });
});

describe('Gate', () => {
  test('shared holders run together; an exclusive one waits for them and holds back later ones', async () => {
    const gate = new Gate();
    const log: string[] = [];
    const hold = { s1: deferred(), s2: deferred(), x: deferred(), s3: deferred() };
    const shared = (name: 's1' | 's2' | 's3') => gate.withShared(async () => {
      log.push(name);
      await hold[name].promise;
    });
    const p1 = shared('s1');
    const p2 = shared('s2');
    const px = gate.withExclusive(async () => {
      log.push('x');
      await hold.x.promise;
    });
    const p3 = shared('s3');
    await settle();
    assert.deepEqual(log, ['s1', 's2'], 'x waits for s1 and s2; s3, after x, waits too');
    hold.s1.resolve();
    await settle();
    assert.deepEqual(log, ['s1', 's2']);
    hold.s2.resolve();
    await settle();
    assert.deepEqual(log, ['s1', 's2', 'x']);
    hold.x.resolve();
    await settle();
    assert.deepEqual(log, ['s1', 's2', 'x', 's3']);
    hold.s3.resolve();
    await Promise.all([p1, p2, px, p3]);
  });

  test('a failing holder releases the gate', async () => {
    const gate = new Gate();
    await assert.rejects(gate.withExclusive(async () => {
      throw new Error('gc failed');
    }));
    assert.equal(await gate.withShared(async () => 'next'), 'next');
  });
});
