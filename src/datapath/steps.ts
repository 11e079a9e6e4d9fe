/**
 * ADD as a list of named steps, each with its undo. A step either completes or leaves nothing of its
 * own behind (what it made on an earlier step's object, say an address on the veth, goes with that
 * object's undo). When a step fails, the undos of every completed step run, newest first, and the error
 * names the failed step, says why, and reports any undo that failed too.
 *
 * Fault injection, for the tests: `failAt` makes the runner fail just before a step runs, or just after
 * it completed (then its own undo runs too), or kills the process just after it completed ("crash":
 * no undo at all, as after a SIGKILL or a power cut; what DEL must then clean up). The plugin process
 * takes it from SLUICE_FAIL_AT_STEP ("<step>", "<step>:after" or "<step>:crash") only when
 * SLUICE_TEST_HOOKS=1 is set as well.
 */
import { CniCode, CniError } from '../cni/errors.js';

export interface Step<C> {
  readonly name: string;
  run(ctx: C): void | Promise<void>;
  /** Undoes a completed run. Left out when there is nothing to undo (say what takes care of it instead). */
  undo?(ctx: C): void | Promise<void>;
  /**
   * The steps after it start while it runs (it waits on another thread or process); it must be done
   * before the first step that `needs` it. It completes (for undo, logs and fault points) when it is
   * joined there; a failure is still its own, and whatever completed meanwhile is undone.
   */
  background?: boolean;
  /** Background steps that must be done before this one runs. */
  needs?: readonly string[];
}

export interface FaultPoint {
  step: string;
  when: 'before' | 'after' | 'crash';
}

export interface StepLogger {
  debug(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface RunStepsOptions {
  /** What the error calls the whole operation: "ADD". */
  operation?: string;
  failAt?: FaultPoint;
  logger?: StepLogger;
}

export const TEST_HOOKS_VAR = 'SLUICE_TEST_HOOKS';
export const FAIL_AT_STEP_VAR = 'SLUICE_FAIL_AT_STEP';

/** The fault point the environment asks for, honoured only with SLUICE_TEST_HOOKS=1. */
export function faultPointFromEnv(env: Readonly<Record<string, string | undefined>>): FaultPoint | undefined {
  if (env[TEST_HOOKS_VAR] !== '1') return undefined;
  const value = env[FAIL_AT_STEP_VAR];
  if (!value) return undefined;
  const [step = '', when = 'before'] = value.split(':');
  if (when !== 'before' && when !== 'after' && when !== 'crash') {
    throw new TypeError(`${FAIL_AT_STEP_VAR}: expected "<step>", "<step>:after" or "<step>:crash", got ${JSON.stringify(value)}`);
  }
  return { step, when };
}

/** The failure a fault point causes. */
export class InjectedFault extends Error {
  override readonly name = 'InjectedFault';
  constructor(point: FaultPoint) {
    super(`injected failure ${point.when} step "${point.step}" (${FAIL_AT_STEP_VAR})`);
  }
}

/** A failed step, after the undos ran. A CniError, so the dispatcher prints it as the spec says. */
export class StepFailure extends CniError {
  constructor(
    readonly step: string,
    /** What the step threw. */
    readonly error: unknown,
    readonly undoFailures: { step: string; error: unknown }[],
    operation: string,
  ) {
    const code = error instanceof CniError ? error.code : CniCode.Internal;
    const reason = error instanceof CniError ? error.msg : messageOf(error);
    const details: string[] = [];
    if (error instanceof CniError && error.details) details.push(error.details);
    for (const u of undoFailures) details.push(`undoing step "${u.step}" failed too, it may have left something behind: ${messageOf(u.error)}`);
    super(code, `${operation} failed at step "${step}": ${reason}`, details.join('; '));
  }
}

export function messageOf(err: unknown): string {
  return err instanceof CniError ? err.message : err instanceof Error ? err.message : String(err);
}

/** Runs the steps in order; on failure undoes the completed ones and throws a StepFailure. */
export async function runSteps<C>(steps: readonly Step<C>[], ctx: C, options: RunStepsOptions = {}): Promise<void> {
  checkSteps(steps, options.failAt);
  const done: Step<C>[] = [];
  const running = new Map<string, Background<C>>();
  const completed = (step: Step<C>, started: number) => {
    done.push(step);
    options.logger?.debug({ step: step.name, ms: Math.round((performance.now() - started) * 1000) / 1000 }, `step ${step.name} done`);
    if (options.failAt?.step === step.name && options.failAt.when === 'after') throw new InjectedFault(options.failAt);
    if (options.failAt?.step === step.name && options.failAt.when === 'crash') process.kill(process.pid, 'SIGKILL');
  };
  const join = async (name: string) => {
    const bg = running.get(name)!;
    running.delete(name);
    const outcome = await bg.outcome;
    if (!outcome.ok) throw new Failed(bg.step, outcome.error);
    try {
      completed(bg.step, bg.started);
    } catch (err) {
      throw new Failed(bg.step, err);
    }
  };
  let current: Step<C> | undefined;
  try {
    for (const step of steps) {
      current = step;
      for (const name of step.needs ?? []) await join(name);
      if (options.failAt?.step === step.name && options.failAt.when === 'before') throw new InjectedFault(options.failAt);
      const started = performance.now();
      if (step.background) {
        const outcome = (async () => step.run(ctx))().then((): Outcome => ({ ok: true }), (error: unknown): Outcome => ({ ok: false, error }));
        running.set(step.name, { step, started, outcome });
        continue;
      }
      await step.run(ctx);
      completed(step, started);
    }
  } catch (err) {
    const [failed, error] = err instanceof Failed ? [err.step, err.error] : [current!, err];
    // What still runs in the background completes first, so that its undo runs too.
    for (const bg of running.values()) if ((await bg.outcome).ok) done.push(bg.step);
    const undoFailures = await undoAll(done, ctx, options.logger);
    throw new StepFailure(failed.name, error, undoFailures, options.operation ?? 'ADD');
  }
}

type Outcome = { ok: true } | { ok: false; error: unknown };

interface Background<C> {
  step: Step<C>;
  started: number;
  outcome: Promise<Outcome>;
}

/** A background step's failure, found where it is joined. */
class Failed<C> {
  constructor(
    readonly step: Step<C>,
    readonly error: unknown,
  ) {}
}

/** Unique names, a fault point that names a step, and every background step needed by a later one. */
function checkSteps<C>(steps: readonly Step<C>[], failAt: FaultPoint | undefined): void {
  const names = new Set<string>();
  const background = new Set<string>();
  for (const s of steps) {
    if (names.has(s.name)) throw new Error(`two steps are called "${s.name}"`);
    for (const name of s.needs ?? []) {
      if (!background.delete(name)) throw new Error(`step "${s.name}" needs "${name}", which is no background step before it`);
    }
    names.add(s.name);
    if (s.background) background.add(s.name);
  }
  if (background.size) throw new Error(`no step needs the background step(s) ${[...background].join(', ')}`);
  if (failAt && !names.has(failAt.step)) {
    throw new CniError(CniCode.InvalidEnvironment, `invalid ${FAIL_AT_STEP_VAR}: no step "${failAt.step}"`, `the steps are ${[...names].join(', ')}`);
  }
}

/** Undoes `done` newest first, going on past failures; returns them. */
export async function undoAll<C>(done: readonly Step<C>[], ctx: C, logger?: StepLogger): Promise<{ step: string; error: unknown }[]> {
  const failures: { step: string; error: unknown }[] = [];
  for (const step of [...done].reverse()) {
    if (!step.undo) continue;
    try {
      await step.undo(ctx);
      logger?.debug({ step: step.name }, `step ${step.name} undone`);
    } catch (error) {
      failures.push({ step: step.name, error });
      logger?.warn({ step: step.name, err: error }, `undoing step ${step.name} failed`);
    }
  }
  return failures;
}
