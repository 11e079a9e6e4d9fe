import { closeSync, constants, openSync, readlinkSync, statSync, statfsSync } from 'node:fs';

/**
 * Whether a path is a network namespace (a /proc/<pid>/ns/net link or a bind mount of one, as in
 * /run/netns/<name>), without native bindings: the file system must be nsfs, and the namespace type is
 * what /proc/self/fd/<fd> says of the opened file ("net:[4026532177]").
 */

/** NSFS_MAGIC from <linux/magic.h>. */
const NSFS_MAGIC = 0x6e736673;

export type NetnsInspection =
  | { kind: 'network'; inode: number; /** The caller's own network namespace. */ own: boolean }
  | { kind: 'missing' }
  | { kind: 'not-a-namespace'; reason: string };

export function inspectNetns(path: string): NetnsInspection {
  let inode: number;
  let device: number;
  try {
    const stat = statSync(path);
    if (!stat.isFile()) return { kind: 'not-a-namespace', reason: stat.isDirectory() ? 'it is a directory' : 'it is not a namespace file' };
    inode = stat.ino;
    device = stat.dev;
    // Checked before opening: opening an arbitrary file (a device, say) can have side effects.
    if (statfsSync(path).type !== NSFS_MAGIC) return { kind: 'not-a-namespace', reason: 'it is not on nsfs' };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'missing' };
    return { kind: 'not-a-namespace', reason: `it cannot be inspected (${code ?? (err as Error).message})` };
  }

  const type = namespaceType(path);
  if (type !== 'net') return { kind: 'not-a-namespace', reason: `it is a ${type} namespace, not a network namespace` };
  const own = ownNetns();
  return { kind: 'network', inode, own: own.ino === inode && own.dev === device };
}

function namespaceType(path: string): string {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  try {
    const link = readlinkSync(`/proc/self/fd/${fd}`);
    return /^([a-z_]+):\[/.exec(link)?.[1] ?? 'unknown';
  } finally {
    closeSync(fd);
  }
}

function ownNetns(): { ino: number; dev: number } {
  try {
    return statSync('/proc/thread-self/ns/net');
  } catch {
    return statSync('/proc/self/ns/net');
  }
}
