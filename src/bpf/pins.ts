/**
 * Where sluice's BPF objects live in bpffs, and the file-system side of their lifecycle:
 *
 *   <root>/maps/<map name>            maps, pinned by libbpf (LIBBPF_PIN_BY_NAME) on first load
 *   <root>/programs/<program name>    the loaded program
 *   <root>/links/<device>-<direction> one TCX link per attached device, so it outlives the process
 *
 * The default root is /sys/fs/bpf/sluice; bpffs is mounted at /sys/fs/bpf when it is not there yet,
 * or on the root itself when the root lies elsewhere.
 */
import koffi from 'koffi';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, rmSync, unlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { MNT_DETACH, mount, umount2 } from '../sys/libc.js';
import { SystemError } from '../sys/errno.js';

export const defaultPinRoot = '/sys/fs/bpf/sluice';
const systemBpffs = '/sys/fs/bpf';
const BPF_FS_MAGIC = 0xcafe4a11;
const LOCK_EX = 2;
const LOCK_UN = 8;

const libc = koffi.load('libc.so.6');
const statfs = libc.func('int statfs(const char *path, _Out_ uint8_t *buf)');
const flock = libc.func('int flock(int fd, int op)');

export type Direction = 'ingress' | 'egress';

export class PinPaths {
  readonly root: string;
  constructor(root: string = defaultPinRoot) {
    this.root = resolve(root);
  }
  get maps(): string {
    return join(this.root, 'maps');
  }
  get programs(): string {
    return join(this.root, 'programs');
  }
  get links(): string {
    return join(this.root, 'links');
  }
  program(name: string): string {
    return join(this.programs, name);
  }
  /**
   * `device` is the interface name, or its ifindex when no name was given. bpffs refuses '.' in
   * names, so a dot (eth0.100) is written %2E.
   */
  link(device: string | number, direction: Direction): string {
    const id = String(device);
    if (!/^[\w.@:-]{1,15}$/.test(id)) throw new TypeError(`not a usable device name for a pin: ${JSON.stringify(id)}`);
    return join(this.links, `${id.replaceAll('.', '%2E')}-${direction}`);
  }
  /** Where a new program is pinned before it replaces `program(name)` (bpffs names cannot hold '.'). */
  stagedProgram(name: string): string {
    return join(this.programs, `${name}-next`);
  }
}

/** True when `path` is on a bpffs mount. */
export function isBpffs(path: string): boolean {
  const buf = Buffer.alloc(120); // struct statfs; f_type is the first word
  if ((statfs(path, buf) as number) < 0) return false;
  return Number(buf.readBigInt64LE(0) & 0xffffffffn) === BPF_FS_MAGIC;
}

const isUnder = (path: string, dir: string): boolean => path === dir || path.startsWith(`${dir}/`);

/**
 * Makes `root` and its subdirectories exist on a bpffs. Returns the mount point when this call had
 * to mount bpffs, undefined when one was already there.
 */
export function ensurePinRoot(paths: PinPaths): string | undefined {
  let mounted: string | undefined;
  if (isUnder(paths.root, systemBpffs) && !isBpffs(systemBpffs)) {
    mount('bpf', systemBpffs, 'bpf', 0, 'mode=0700');
    mounted = systemBpffs;
  }
  mkdirSync(paths.root, { recursive: true, mode: 0o700 });
  if (!isBpffs(paths.root)) {
    mount('bpf', paths.root, 'bpf', 0, 'mode=0700');
    mounted = paths.root;
  }
  for (const dir of [paths.maps, paths.programs, paths.links]) mkdirSync(dir, { recursive: true, mode: 0o700 });
  return mounted;
}

/**
 * Runs `work` holding an exclusive flock on the pin root, so concurrent processes (CNI calls, the
 * agent) do not both load and pin. The wait happens on the thread pool, not the event loop.
 */
export async function withPinLock<T>(paths: PinPaths, work: () => T | Promise<T>): Promise<T> {
  const fd = openSync(paths.root, 'r');
  try {
    await new Promise<void>((resolveLock, reject) => {
      flock.async(fd, LOCK_EX, (err: unknown, rc: number) => {
        if (err) reject(err as Error);
        else if (rc < 0) reject(new SystemError(koffi.errno(), `flock ${paths.root}`));
        else resolveLock();
      });
    });
    return await work();
  } finally {
    flock(fd, LOCK_UN);
    closeSync(fd);
  }
}

export const pinExists = (path: string): boolean => existsSync(path);

/** Removes a pin; false when there was none. */
export function removePin(path: string): boolean {
  try {
    unlinkSync(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

export function listPins(dir: string): string[] {
  try {
    return readdirSync(dir).map((name) => join(dir, name));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** Removes the whole pin tree (maps and programs are freed once nothing else holds them). */
export function removePinRoot(paths: PinPaths): void {
  if (!existsSync(paths.root)) return;
  const ownMount = isBpffs(paths.root) && !isBpffs(dirname(paths.root));
  if (!ownMount) {
    rmSync(paths.root, { recursive: true, force: true });
    return;
  }
  for (const entry of listPins(paths.root)) rmSync(entry, { recursive: true, force: true });
  umount2(paths.root, MNT_DETACH);
  rmSync(paths.root, { recursive: true, force: true });
}
