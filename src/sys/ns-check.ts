import { closeSync, constants, openSync, readFileSync, readlinkSync, realpathSync, statSync, statfsSync } from 'node:fs';

/**
 * Whether a path is a network namespace (a /proc/<pid>/ns/net link or a bind mount of one, as in
 * /run/netns/<name>): the file system must be nsfs, and the namespace type is what the kernel answers
 * for the opened file (the probe below) or, without native bindings, what /proc/self/fd/<fd> says of
 * it ("net:[4026532177]").
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
    const probed = typeProbe?.(fd);
    if (probed !== undefined) return probed;
    return /^([a-z_]+):\[/.exec(readlinkSync(`/proc/self/fd/${fd}`))?.[1] ?? mountedType(path) ?? 'unknown';
  } finally {
    closeSync(fd);
  }
}

/**
 * How the type of an open nsfs file is asked of the kernel (ioctl NS_GET_NSTYPE), when the process
 * has one: the agent installs it (sys/ns-type.ts), as reading mountinfo costs a millisecond and more
 * on a node with hundreds of namespaces mounted. The plugin does without, so that a call refused
 * before the data path never loads a native addon.
 */
let typeProbe: ((fd: number) => string | undefined) | undefined;

export function setNamespaceTypeProbe(probe: ((fd: number) => string | undefined) | undefined): void {
  typeProbe = probe;
}

/**
 * Without the probe: a bind mount of a namespace file (/run/netns/<name>, as `ip netns add` and the runtimes make them)
 * reads back as its mount point through /proc/self/fd, not as "net:[...]": its type is then the root
 * of its nsfs mount in /proc/self/mountinfo ("net:[4026532177]"), the topmost mount on that path.
 */
function mountedType(path: string): string | undefined {
  let real: string;
  let mountinfo: string;
  try {
    real = realpathSync(path);
    mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return undefined;
  }
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  let type: string | undefined;
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ');
    const fields = left?.split(' ') ?? [];
    if (right?.startsWith('nsfs ') && fields[4] !== undefined && unescape(fields[4]) === real) {
      type = /^([a-z_]+):\[/.exec(fields[3] ?? '')?.[1] ?? type;
    }
  }
  return type;
}

function ownNetns(): { ino: number; dev: number } {
  try {
    return statSync('/proc/thread-self/ns/net');
  } catch {
    return statSync('/proc/self/ns/net');
  }
}
