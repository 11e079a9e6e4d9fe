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

export async function withStoreLock<T>(lockPath: string, timeoutMs: number, critical: () => T): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  const previous = queues.get(lockPath) ?? Promise.resolve();
  const mine = previous.then(() => lockAndRun(lockPath, deadline, timeoutMs, critical));
  const tail = mine.catch(() => undefined);
  queues.set(lockPath, tail);
  try {
    return await mine;
  } finally {
    if (queues.get(lockPath) === tail) queues.delete(lockPath);
  }
}

async function lockAndRun<T>(lockPath: string, deadline: number, timeoutMs: number, critical: () => T): Promise<T> {
  let fd: number;
  try {
    fd = openSync(lockPath, constants.O_CREAT | constants.O_RDONLY, 0o600);
  } catch (err) {
    throw ioError(`cannot open the IPAM lock file ${lockPath}`, err);
  }
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
      return critical();
    } finally {
      unlock(fd);
    }
  } finally {
    closeSync(fd);
  }
}
