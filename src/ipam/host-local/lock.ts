import { closeSync, constants, openSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { CniCode, CniError } from '../../cni/errors.js';
import { tryLockExclusive, unlock } from '../../sys/fs.js';
import { ioError } from './errors.js';

/**
 * host-local's lock: an exclusive flock on `<store>/lock` for each whole allocation or release. Within
 * one process (the agent) callers also queue in order, so at most one of them polls the lock.
 *
 * The critical section is synchronous on purpose: nothing else runs while the lock is held, and no
 * thread-pool thread sits blocked in flock(2) (it is polled with LOCK_NB instead), so a busy store can
 * never starve the agent's other work.
 */

const queues = new Map<string, Promise<unknown>>();

/**
 * Runs `critical` holding the lock; resolves with its result. `after`, when given, runs next, still
 * holding the lock, in a later turn of the event loop: the caller's continuation comes first (it may
 * use the result while `after` finishes the operation's bookkeeping), the next holder after.
 */
export async function withStoreLock<T>(lockPath: string, timeoutMs: number, critical: () => T, after?: () => void): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  const previous = queues.get(lockPath) ?? Promise.resolve();
  const mine = previous.then(() => lockAndRun(lockPath, deadline, timeoutMs, critical, after));
  const tail = mine.then((held) => held.released).catch(() => undefined);
  queues.set(lockPath, tail);
  void tail.then(() => {
    if (queues.get(lockPath) === tail) queues.delete(lockPath);
  });
  return (await mine).result;
}

async function lockAndRun<T>(
  lockPath: string, deadline: number, timeoutMs: number, critical: () => T, after: (() => void) | undefined,
): Promise<{ result: T; released: Promise<void> }> {
  let fd: number;
  try {
    fd = openSync(lockPath, constants.O_CREAT | constants.O_RDONLY, 0o600);
  } catch (err) {
    throw ioError(`cannot open the IPAM lock file ${lockPath}`, err);
  }
  /** The lock is held by `after` from here on: it unlocks and closes. */
  let handedOver = false;
  try {
    let delayMs = 0.5;
    while (!tryLockExclusive(fd)) {
      if (Date.now() >= deadline) {
        throw new CniError(
          CniCode.TryAgainLater,
          `IPAM store busy: could not lock ${lockPath} within ${timeoutMs / 1000} s`,
          'another process holds the lock; try again later',
        );
      }
      await sleep(delayMs * (0.5 + Math.random()));
      delayMs = Math.min(delayMs * 2, 8);
    }
    try {
      const result = critical();
      if (!after) return { result, released: Promise.resolve() };
      handedOver = true;
      const released = new Promise<void>((resolve) => {
        setImmediate(() => {
          try {
            after();
          } catch {
            // `after` reports its own failures; the lock is released whatever happened.
          } finally {
            unlock(fd);
            closeSync(fd);
            resolve();
          }
        });
      });
      return { result, released };
    } finally {
      if (!handedOver) unlock(fd);
    }
  } finally {
    if (!handedOver) closeSync(fd);
  }
}
