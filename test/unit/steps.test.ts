// The step runner (src/datapath/steps.ts): order, undo on failure, fault points, and background steps
// that let the steps after them run until a step needs them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runSteps, StepFailure, type Step } from '../../src/datapath/steps.js';

interface Ctx {
  log: string[];
}

/** A step that logs its run and undo; `wait` resolves it later (a background step's work elsewhere). */
function step(name: string, options: { fail?: boolean; wait?: Promise<void>; background?: boolean; needs?: string[] } = {}): Step<Ctx> {
  return {
    name,
    ...(options.background ? { background: true } : {}),
    ...(options.needs ? { needs: options.needs } : {}),
    run: async (ctx) => {
      ctx.log.push(`start ${name}`);
      if (options.wait) await options.wait;
      if (options.fail) throw new Error(`${name} broke`);
      ctx.log.push(`done ${name}`);
    },
    undo: (ctx) => void ctx.log.push(`undo ${name}`),
  };
}

function later(): { promise: Promise<void>; resolve(): void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

test('a background step lets the next steps run, and the step that needs it waits for it', async () => {
  const ipam = later();
  const ctx: Ctx = { log: [] };
  const veth: Step<Ctx> = { name: 'veth', run: (c) => { c.log.push('veth'); ipam.resolve(); } };
  await runSteps([step('state'), step('ipam', { background: true, wait: ipam.promise }), veth, step('addresses', { needs: ['ipam'] })], ctx);
  assert.deepEqual(ctx.log, ['start state', 'done state', 'start ipam', 'veth', 'done ipam', 'start addresses', 'done addresses']);
});

test('a background step that fails is named in the error, and what completed meanwhile is undone, newest first', async () => {
  const ctx: Ctx = { log: [] };
  await assert.rejects(
    runSteps([step('state'), step('ipam', { background: true, fail: true }), step('veth'), step('addresses', { needs: ['ipam'] })], ctx),
    (err: unknown) => err instanceof StepFailure && err.step === 'ipam' && /ADD failed at step "ipam": ipam broke/.test(err.message),
  );
  assert.deepEqual(ctx.log.filter((l) => l.startsWith('undo')), ['undo veth', 'undo state'], 'the failed step leaves nothing to undo; the others are undone');
  assert.ok(!ctx.log.includes('start addresses'));
});

test('a foreground step that fails while a background one runs waits for it and undoes it too', async () => {
  const ipam = later();
  const ctx: Ctx = { log: [] };
  const broken: Step<Ctx> = { name: 'veth', run: () => { setTimeout(() => ipam.resolve(), 5); throw new Error('EEXIST'); } };
  await assert.rejects(
    runSteps([step('state'), step('ipam', { background: true, wait: ipam.promise }), broken, step('addresses', { needs: ['ipam'] })], ctx),
    (err: unknown) => err instanceof StepFailure && err.step === 'veth',
  );
  assert.deepEqual(ctx.log, ['start state', 'done state', 'start ipam', 'done ipam', 'undo ipam', 'undo state']);
});

test('fault points on a background step: "before" stops it from starting, "after" fires once it is joined', async () => {
  const before: Ctx = { log: [] };
  const steps = () => [step('state'), step('ipam', { background: true }), step('veth'), step('addresses', { needs: ['ipam'] })];
  await assert.rejects(runSteps(steps(), before, { failAt: { step: 'ipam', when: 'before' } }), /ADD failed at step "ipam": injected failure before/);
  assert.deepEqual(before.log, ['start state', 'done state', 'undo state']);

  const after: Ctx = { log: [] };
  await assert.rejects(runSteps(steps(), after, { failAt: { step: 'ipam', when: 'after' } }), /ADD failed at step "ipam": injected failure after/);
  assert.deepEqual(after.log.filter((l) => l.startsWith('undo')), ['undo ipam', 'undo veth', 'undo state'], 'it completed, so its own undo runs too');
  assert.ok(!after.log.includes('start addresses'));
});

test('a step list is refused when a background step is needed by none, or a step needs one that is not before it', async () => {
  await assert.rejects(runSteps([step('ipam', { background: true }), step('veth')], { log: [] }), /no step needs the background step\(s\) ipam/);
  await assert.rejects(runSteps([step('veth', { needs: ['ipam'] }), step('ipam', { background: true })], { log: [] }), /step "veth" needs "ipam", which is no background step before it/);
  await assert.rejects(runSteps([step('ipam'), step('veth', { needs: ['ipam'] })], { log: [] }), /which is no background step before it/);
});
