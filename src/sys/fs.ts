import koffi from 'koffi';
import { SystemError } from './errno.js';
import { libc } from './libc.js';

/**
 * File-system calls node:fs lacks. Everything else the IPAM store needs (O_EXCL open, link, rename,
 * symlink, fdatasync) node:fs already gives with the same guarantees; flock(2) it does not.
 */

const rawFlock = libc.func('int flock(int fd, int operation)');

const LOCK_EX = 2;
const LOCK_NB = 4;
const LOCK_UN = 8;
const EINTR = 4;
const EWOULDBLOCK = 11;

/** Takes an exclusive flock without waiting: true when taken, false when another open file holds it. */
export function tryLockExclusive(fd: number): boolean {
  for (;;) {
    if ((rawFlock(fd, LOCK_EX | LOCK_NB) as number) === 0) return true;
    const errno = koffi.errno();
    if (errno === EWOULDBLOCK) return false;
    if (errno !== EINTR) throw new SystemError(errno, 'flock(LOCK_EX)');
  }
}

export function unlock(fd: number): void {
  if ((rawFlock(fd, LOCK_UN) as number) !== 0) throw new SystemError(koffi.errno(), 'flock(LOCK_UN)');
}

/** The errno name of a node:fs error ("EEXIST", "ENOENT", ...), or undefined for anything else. */
export function fsErrorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
