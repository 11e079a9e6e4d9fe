import { readFileSync } from 'node:fs';
import { fsErrorCode } from '../../sys/fs.js';
import { overwriteFile } from './files.js';
import type { DirStamp } from './store.js';

/**
 * The seal says "sluice's index describes the lease folder exactly as it was when this was written".
 * It records what changes whenever anyone (host-local included) creates or removes a lease: the
 * folder's identity and mtime/ctime, and the content of each last_reserved_ip file (which host-local
 * rewrites on every allocation). It is written last in each operation; any difference on the next one
 * means someone else wrote (or an operation died part-way), and the index is rebuilt from the leases.
 *
 * Timestamps: on kernels with multigrain timestamps (6.13+: ext4, xfs, btrfs, tmpfs) the stat taken
 * when sealing guarantees the next change gets a later time. On older kernels a foreign change within
 * the same clock tick (≤ 10 ms) can go unseen if it also writes the same last_reserved_ip content;
 * the index then misses one host-local lease (a later DEL of it by sluice would not release it; GC does),
 * but never hands out a leased address: allocation trusts only link(2).
 */
export interface Seal {
  v: 1;
  /** Bumped at every commit; usage hints carry the generation they were saved at. */
  gen: number;
  dir: DirStamp;
  /** last_reserved_ip.<index> content by index, null when the file did not exist. */
  lastReserved: Record<string, string | null>;
}

export function readSeal(path: string): Seal | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (fsErrorCode(err) === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const seal = JSON.parse(text) as Partial<Seal>;
    if (seal.v !== 1 || !Number.isSafeInteger(seal.gen) || !isObject(seal.dir) || !isObject(seal.lastReserved)) return undefined;
    return seal as Seal;
  } catch {
    return undefined;
  }
}

/** Written in place: a torn seal does not parse, which readSeal takes as no seal (a rebuild). */
export function writeSeal(path: string, seal: Seal): void {
  overwriteFile(path, JSON.stringify(seal));
}

export function sameStamp(a: DirStamp, b: DirStamp): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null;
}
