import { fstatSync, mkdirSync, readdirSync, readlinkSync, unlinkSync } from 'node:fs';
import * as libc from './sys/libc.js';
import { SystemError } from './sys/errno.js';
import { AsyncNetlinkSocket } from './netlink/async-socket.js';
import { NetlinkSocket, type SocketOptions } from './netlink/socket.js';

/**
 * Network namespaces: open, create and delete named ones as `ip netns` does, run synchronous code
 * inside one.
 *
 * setns() moves only the calling thread. Everything here switches the thread running JavaScript and
 * switches it back before returning, so a switch must never span an `await`: other callbacks would
 * run in the wrong namespace. Sockets keep the namespace they were opened in: "switch, open, switch
 * back" (openSocketIn) is how to work inside a pod.
 */

export const NETNS_RUN_DIR = '/run/netns';
const THIS_THREAD = '/proc/thread-self/ns/net';

/** An open network namespace (holding an fd keeps it alive). */
export class NetNs {
  private closed = false;

  private constructor(
    readonly fd: number,
    /** The path it was opened from. */
    readonly path: string,
  ) {}

  /** Opens the namespace file at `path` (/run/netns/x, /proc/<pid>/ns/net, a CNI_NETNS path). */
  static open(path: string): NetNs {
    const fd = libc.open(path, libc.O_RDONLY | libc.O_CLOEXEC);
    try {
      if (libc.ioctlNoArg(fd, libc.NS_GET_NSTYPE, `NS_GET_NSTYPE ${path}`) !== libc.CLONE_NEWNET) {
        throw new TypeError(`${path} is not a network namespace`);
      }
    } catch (e) {
      libc.close(fd);
      // ENOTTY: a file, not a namespace at all.
      if (e instanceof SystemError && e.code === 'ENOTTY') throw new TypeError(`${path} is not a network namespace`);
      throw e;
    }
    return new NetNs(fd, path);
  }

  /** The network namespace of process `pid`. */
  static ofPid(pid: number): NetNs {
    if (!Number.isInteger(pid) || pid <= 0) throw new RangeError(`not a process id: ${pid}`);
    return NetNs.open(`/proc/${pid}/ns/net`);
  }

  /** A namespace created by `ip netns add` or createNamed. */
  static named(name: string, runDir = NETNS_RUN_DIR): NetNs {
    return NetNs.open(namedPath(name, runDir));
  }

  /** The namespace the calling thread is in now. */
  static current(): NetNs {
    return NetNs.open(THIS_THREAD);
  }

  /** The namespace's identity, "net:[<inode>]" as /proc shows it; equal for every fd of one namespace. */
  get id(): string {
    this.assertOpen();
    return `net:[${fstatSync(this.fd).ino}]`;
  }

  /** runIn(this, fn). */
  run<T>(fn: () => T): T {
    return runIn(this, fn);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    libc.close(this.fd);
  }

  /** @internal */
  assertOpen(): void {
    if (this.closed) throw new Error(`namespace ${this.path} is closed`);
  }
}

/** The identity of the calling thread's current network namespace, comparable with NetNs.id. */
export function current(): string {
  return readlinkSync(THIS_THREAD);
}

/**
 * Runs a synchronous `fn` with the calling thread inside `ns` and always switches back, also when fn
 * throws. An async function is refused before anything happens; a function that returns a promise
 * anyway gets an error once the thread is back home (its continuation would run in the wrong place).
 */
export function runIn<T>(ns: NetNs, fn: () => T): T {
  if (isAsyncFunction(fn)) throw new TypeError('runIn: fn must be synchronous (never await while switched to another namespace)');
  ns.assertOpen();
  const home = libc.open(THIS_THREAD, libc.O_RDONLY | libc.O_CLOEXEC);
  let result: T;
  try {
    libc.setns(ns.fd, libc.CLONE_NEWNET);
    try {
      result = fn();
    } finally {
      switchBack(home);
    }
  } finally {
    libc.close(home);
  }
  if (isPromiseLike(result)) {
    result.then(undefined, () => {}); // its failure would otherwise surface as an unhandled rejection
    throw new TypeError('runIn: fn returned a promise; it must be synchronous (never await while switched to another namespace)');
  }
  return result;
}

function switchBack(home: number): void {
  try {
    libc.setns(home, libc.CLONE_NEWNET);
  } catch (e) {
    // Everything this thread does from now on would happen in the wrong namespace.
    process.stderr.write(`sluice: cannot switch back to the original network namespace: ${String(e)}\n`);
    process.abort();
  }
}

function isAsyncFunction(fn: unknown): boolean {
  return typeof fn === 'function' && (fn.constructor.name === 'AsyncFunction' || fn.constructor.name === 'AsyncGeneratorFunction');
}

function isPromiseLike(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

/** Opens a synchronous netlink socket inside `ns`: switch, open, switch back. */
export function openSocketIn(ns: NetNs, protocol: number, options: Omit<SocketOptions, 'netns'> = {}): NetlinkSocket {
  return NetlinkSocket.open(protocol, { ...options, netns: ns });
}

/** Opens a non-blocking netlink socket inside `ns`: switch, open, switch back. */
export function openAsyncSocketIn(ns: NetNs, protocol: number, options: Omit<SocketOptions, 'netns'> = {}): AsyncNetlinkSocket {
  return AsyncNetlinkSocket.open(protocol, { ...options, netns: ns });
}

// ---- named namespaces, as `ip netns add/delete` keep them ----

/** Throws unless `name` can name a namespace file: not empty, no '/', not '.' or '..'. */
export function validateName(name: string): void {
  if (typeof name !== 'string' || name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw new TypeError(`invalid network namespace name ${JSON.stringify(name)}`);
  }
  if (Buffer.byteLength(name) > 255) throw new TypeError(`network namespace name too long (${Buffer.byteLength(name)} bytes, at most 255)`);
}

function namedPath(name: string, runDir: string): string {
  validateName(name);
  return `${runDir}/${name}`;
}

export interface NamedOptions {
  /** Where namespace files live; default /run/netns (where `ip netns` looks). */
  runDir?: string;
}

/**
 * Creates a new network namespace and pins it at <runDir>/<name>, as `ip netns add` does: the run
 * directory becomes a shared mount point (so that unmounting a namespace file propagates to every
 * mount namespace and the namespace can be freed), an empty file is created, this thread unshares
 * into a fresh namespace, whose /proc entry is bind-mounted onto the file, and switches back.
 * Returns the file's path.
 */
export function createNamed(name: string, options: NamedOptions = {}): string {
  const runDir = options.runDir ?? NETNS_RUN_DIR;
  const path = namedPath(name, runDir);
  mkdirSync(runDir, { recursive: true, mode: 0o755 });
  makeRunDirShared(runDir);
  libc.close(libc.open(path, libc.O_RDONLY | libc.O_CREAT | libc.O_EXCL | libc.O_CLOEXEC, 0));
  try {
    const home = libc.open(THIS_THREAD, libc.O_RDONLY | libc.O_CLOEXEC);
    try {
      libc.unshare(libc.CLONE_NEWNET);
      try {
        libc.mount(THIS_THREAD, path, 'none', libc.MS_BIND);
      } finally {
        switchBack(home);
      }
    } finally {
      libc.close(home);
    }
  } catch (e) {
    unlinkQuietly(path);
    throw e;
  }
  return path;
}

/** Unpins a named namespace as `ip netns delete` does; it is freed once nothing else holds it. */
export function deleteNamed(name: string, options: NamedOptions = {}): void {
  const path = namedPath(name, options.runDir ?? NETNS_RUN_DIR);
  try {
    libc.umount2(path, libc.MNT_DETACH);
  } catch (e) {
    // Not mounted (a half-created entry): removing the file is all there is to do.
    if (!(e instanceof SystemError) || e.code !== 'EINVAL') throw e;
  }
  unlinkSync(path);
}

/** Names of the namespaces pinned in runDir, as `ip netns list` finds them. */
export function listNamed(options: NamedOptions = {}): string[] {
  try {
    return readdirSync(options.runDir ?? NETNS_RUN_DIR);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

/**
 * Makes runDir a mount point with shared propagation, under an exclusive flock on it as iproute2
 * takes, so that concurrent creators do not stack bind mounts on top of each other.
 */
function makeRunDirShared(runDir: string): void {
  const lock = libc.open(runDir, libc.O_RDONLY | libc.O_DIRECTORY | libc.O_CLOEXEC);
  try {
    libc.flock(lock, libc.LOCK_EX);
    try {
      libc.mount('', runDir, 'none', libc.MS_SHARED | libc.MS_REC);
    } catch (e) {
      // EINVAL: runDir is not a mount point yet. Bind-mount it onto itself, then share that.
      if (!(e instanceof SystemError) || e.code !== 'EINVAL') throw e;
      libc.mount(runDir, runDir, 'none', libc.MS_BIND | libc.MS_REC);
      libc.mount('', runDir, 'none', libc.MS_SHARED | libc.MS_REC);
    }
  } finally {
    libc.close(lock); // releases the flock
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // best effort while unwinding another error
  }
}
