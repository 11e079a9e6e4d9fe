/**
 * A test hook: with SLUICE_TEST_CRASH_AT=N the process SIGKILLs itself at the N-th crash point it
 * passes, so a test can kill an allocation between any two of its steps. The points sit between the
 * store's file-system steps; without the variable a point costs one comparison.
 */
const crashAt = Number(process.env.SLUICE_TEST_CRASH_AT ?? 0);
let passed = 0;

export function crashPoint(): void {
  if (crashAt > 0 && ++passed === crashAt) process.kill(process.pid, 'SIGKILL');
}
