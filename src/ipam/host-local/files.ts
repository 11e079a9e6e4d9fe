import { closeSync, fstatSync, openSync, renameSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { fsErrorCode } from '../../sys/fs.js';

/** Small file primitives the store is built from. Callers hold the store lock. */

export function removeIfPresent(path: string): boolean {
  try {
    unlinkSync(path);
    return true;
  } catch (err) {
    if (fsErrorCode(err) === 'ENOENT') return false;
    throw err;
  }
}

/**
 * Creates `path` afresh (O_EXCL) holding `data`. A leftover of the same name is unlinked first rather
 * than truncated: it may be a second name of a live lease (see LeaseDir.reserve), which truncating
 * would empty.
 */
export function writeFresh(path: string, data: string | Uint8Array, mode = 0o600): void {
  let fd: number;
  try {
    fd = openSync(path, 'wx', mode);
  } catch (err) {
    if (fsErrorCode(err) !== 'EEXIST') throw err;
    removeIfPresent(path);
    fd = openSync(path, 'wx', mode);
  }
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
  } finally {
    closeSync(fd);
  }
}

/** Replaces `path` atomically: readers see the old file or the new one, never a part of either. */
export function replaceFile(path: string, data: string | Uint8Array, scratch: string): void {
  writeFresh(scratch, data);
  renameSync(scratch, path);
}

/**
 * Writes `data` over `path` in place: the bytes where the file has as many, else truncated and
 * written. Far cheaper than replaceFile on ext4 (no rename: 0.01 ms against 0.35 ms here), and only
 * for files whose reader refuses a torn copy (the seal, the usage hints) or that are advisory anyway
 * (last_reserved_ip, which host-local writes the same way). Callers hold the store lock.
 */
export function overwriteFile(path: string, data: string | Uint8Array, options: { mode?: number; size?: number } = {}): void {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  const mode = options.mode ?? 0o600;
  let fd: number;
  try {
    fd = openSync(path, 'r+');
  } catch (err) {
    if (fsErrorCode(err) !== 'ENOENT') throw err;
    writeFileSync(path, bytes, { mode, flag: 'wx' });
    return;
  }
  try {
    // `size`: what the caller knows the file holds (it wrote or read it under the lock).
    if ((options.size ?? fstatSync(fd).size) !== bytes.length) {
      closeSync(fd);
      fd = openSync(path, 'w', mode);
    }
    writeSync(fd, bytes, 0, bytes.length, 0);
  } finally {
    closeSync(fd);
  }
}
