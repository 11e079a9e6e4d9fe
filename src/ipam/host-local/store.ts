import { closeSync, constants, linkSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fsErrorCode } from '../../sys/fs.js';
import { formatIp, parseIp } from './address.js';
import { crashPoint } from './crashpoint.js';
import { overwriteFile, removeIfPresent, writeFresh } from './files.js';
import { type LeaseOwner, parseLease } from './lease.js';

/**
 * host-local's store, byte for byte: `<dataDir>/<network>/<ip>` holding `<containerID>\r\n<ifname>`
 * (mode 0600, created exclusively), `last_reserved_ip.<rangeIndex>` holding the last address handed out
 * from that range set, and the `lock` file. Nothing of sluice's own lives in this folder, so host-local
 * (and any tool that lists it) sees exactly what it would have written itself.
 */

const LAST_RESERVED_PREFIX = 'last_reserved_ip.';

/** What identifies the folder's list of names: it changes whenever a file is created, renamed or removed. */
export interface DirStamp {
  dev: string;
  ino: string;
  mtimeNs: string;
  ctimeNs: string;
}

/** Errors that mean "this file system cannot hard-link", where leases are written in place instead. */
const NO_LINKS = new Set(['EPERM', 'EXDEV', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EMLINK']);

export class LeaseDir {
  constructor(readonly path: string) {}

  create(): void {
    try {
      mkdirSync(this.path, { mode: 0o755 });
    } catch (err) {
      // EEXIST: there already (a file of that name fails at the lock, which says so); ENOENT: parents too.
      if (fsErrorCode(err) === 'EEXIST') return;
      if (fsErrorCode(err) !== 'ENOENT') throw err;
      mkdirSync(this.path, { recursive: true, mode: 0o755 });
    }
  }

  leasePath(ip: string): string {
    return join(this.path, ip);
  }

  get lockPath(): string {
    return join(this.path, 'lock');
  }

  stamp(): DirStamp {
    const st = statSync(this.path, { bigint: true });
    return { dev: String(st.dev), ino: String(st.ino), mtimeNs: String(st.mtimeNs), ctimeNs: String(st.ctimeNs) };
  }

  /** The names of every lease file: exactly the names Go would print for an address. */
  leaseNames(): string[] {
    return readdirSync(this.path).filter(isLeaseName);
  }

  /** The owner the lease file names, or undefined when there is no lease for `ip`. */
  readLease(ip: string): LeaseOwner | undefined {
    let fd: number;
    try {
      fd = openSync(this.leasePath(ip), constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (err) {
      const code = fsErrorCode(err);
      if (code === 'ENOENT') return undefined;
      if (code === 'ELOOP') return { kind: 'malformed', reason: 'a symbolic link', text: '' };
      throw err;
    }
    try {
      return parseLease(readFileSync(fd));
    } catch (err) {
      if (fsErrorCode(err) === 'EISDIR') return { kind: 'malformed', reason: 'a directory', text: '' };
      throw err;
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Claims `ip` for the owner whose lease text is already in `scratch` (written by the caller):
   * link(2) gives the complete file its lease name in one step, and fails with EEXIST when the address
   * is taken, so a kill at any point leaves either no lease or a whole one. Returns false when taken.
   */
  reserve(ip: string, scratch: string, text: string): boolean {
    try {
      linkSync(scratch, this.leasePath(ip));
    } catch (err) {
      const code = fsErrorCode(err);
      if (code === 'EEXIST') return false;
      if (code && NO_LINKS.has(code)) return this.reserveInPlace(ip, text);
      throw err;
    }
    crashPoint();
    return true;
  }

  /** host-local's own way (create exclusively, then write), for file systems without hard links. */
  private reserveInPlace(ip: string, text: string): boolean {
    let fd: number;
    try {
      fd = openSync(this.leasePath(ip), 'wx', 0o600);
    } catch (err) {
      if (fsErrorCode(err) === 'EEXIST') return false;
      throw err;
    }
    try {
      writeSync(fd, Buffer.from(text));
    } finally {
      closeSync(fd);
    }
    return true;
  }

  release(ip: string): boolean {
    return removeIfPresent(this.leasePath(ip));
  }

  /** Replaces a lease's file by one holding `text`, in one rename (used to repair a truncated one). */
  rewrite(ip: string, text: string, scratch: string): void {
    writeFresh(scratch, text);
    try {
      renameSync(scratch, this.leasePath(ip));
    } catch (err) {
      if (fsErrorCode(err) !== 'EXDEV') throw err;
      // The lease folder is a file system of its own: stage the new file beside the lease instead.
      removeIfPresent(scratch);
      const beside = join(this.path, '.sluice-rewrite');
      writeFresh(beside, text);
      renameSync(beside, this.leasePath(ip));
    }
  }

  lastReserved(rangeIndex: number): string | undefined {
    try {
      return readFileSync(join(this.path, `${LAST_RESERVED_PREFIX}${rangeIndex}`), 'utf8');
    } catch (err) {
      if (fsErrorCode(err) === 'ENOENT') return undefined;
      throw err;
    }
  }

  /**
   * In place, as host-local writes it (a reader takes a torn one as none: allocation starts over).
   * `previous`: the content the caller read under the lock, when it has.
   */
  setLastReserved(rangeIndex: number, ip: string, previous?: string): void {
    overwriteFile(join(this.path, `${LAST_RESERVED_PREFIX}${rangeIndex}`), ip, previous === undefined ? {} : { size: Buffer.byteLength(previous) });
  }

}

function isLeaseName(name: string): boolean {
  const ip = parseIp(name);
  return ip !== undefined && formatIp(ip) === name;
}
