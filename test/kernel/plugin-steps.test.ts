// The step runner of ADD (src/datapath/steps.ts): a failure undoes every completed step, newest first,
// and the error names the step and its cause; fault points fail before or after a step. No root needed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CniError } from '../../src/cni/errors.js';
import { faultPointFromEnv, runSteps, StepFailure, type Step } from '../../src/datapath/steps.js';

function recorder() {
  const log: string[] = [];
  const step = (name: string, fail?: Error): Step<unknown> => ({
    name,
    run: () => {
      if (fail) throw fail;
      log.push(`run ${name}`);
    },
    undo: () => void log.push(`undo ${name}`),
  });
  return { log, step };
}

test('a failing step undoes the completed ones, newest first, and is named', async () => {
  const { log, step } = recorder();
  const noUndo: Step<unknown> = { name: 'b', run: () => void log.push('run b') };
  await assert.rejects(runSteps([step('a'), noUndo, step('c'), step('d', new Error('no route to host'))], {}), (err: unknown) => {
    assert.ok(err instanceof StepFailure);
    assert.equal(err.code, 999);
    assert.equal(err.msg, 'ADD failed at step "d": no route to host');
    return true;
  });
  assert.deepEqual(log, ['run a', 'run b', 'run c', 'undo c', 'undo a']);
});

test('a CniError keeps its code and details; a failed undo is reported, the others still run', async () => {
  const { log, step } = recorder();
  const broken: Step<unknown> = { name: 'b', run: () => void log.push('run b'), undo: () => Promise.reject(new Error('device busy')) };
  const failure = new CniError(11, 'the store is locked', 'try again');
  await assert.rejects(runSteps([step('a'), broken, step('c', failure)], {}), (err: unknown) => {
    assert.ok(err instanceof StepFailure);
    assert.equal(err.code, 11);
    assert.equal(err.msg, 'ADD failed at step "c": the store is locked');
    assert.match(err.details, /^try again; undoing step "b" failed too, it may have left something behind: device busy$/);
    return true;
  });
  assert.deepEqual(log, ['run a', 'run b', 'undo a']);
});

test('fault points fail before a step, or after it and undo it too', async () => {
  for (const [when, expected] of [
    ['before', ['run a', 'undo a']],
    ['after', ['run a', 'run b', 'undo b', 'undo a']],
  ] as const) {
    const { log, step } = recorder();
    await assert.rejects(runSteps([step('a'), step('b'), step('c')], {}, { failAt: { step: 'b', when } }), /ADD failed at step "b": injected failure/);
    assert.deepEqual(log, expected);
  }
  const only: Step<unknown> = { name: 'only', run: () => undefined };
  await assert.rejects(runSteps([only], {}, { failAt: { step: 'nope', when: 'before' } }), (err: unknown) => err instanceof CniError && err.code === 4);
});

test('the environment sets a fault point only together with the test flag', () => {
  assert.equal(faultPointFromEnv({ SLUICE_FAIL_AT_STEP: 'veth' }), undefined);
  assert.deepEqual(faultPointFromEnv({ SLUICE_TEST_HOOKS: '1', SLUICE_FAIL_AT_STEP: 'veth' }), { step: 'veth', when: 'before' });
  assert.deepEqual(faultPointFromEnv({ SLUICE_TEST_HOOKS: '1', SLUICE_FAIL_AT_STEP: 'veth:after' }), { step: 'veth', when: 'after' });
  assert.deepEqual(faultPointFromEnv({ SLUICE_TEST_HOOKS: '1', SLUICE_FAIL_AT_STEP: 'veth:crash' }), { step: 'veth', when: 'crash' });
  assert.throws(() => faultPointFromEnv({ SLUICE_TEST_HOOKS: '1', SLUICE_FAIL_AT_STEP: 'veth:during' }), TypeError);
});
