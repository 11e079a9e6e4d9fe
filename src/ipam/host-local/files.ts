import { closeSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
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
  removeIfPresent(path);
  const fd = openSync(path, 'wx', mode);
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
