/**
 * The bpf(2) commands sluice issues itself, for what libbpf 1.1 lacks (TCX links) or what is simpler
 * direct (pins, map elements, object info). Attributes are laid out as in <linux/bpf.h>'s union
 * bpf_attr; a failure is a SystemError naming the command.
 */
import koffi from 'koffi';
import { close as closeFd } from '../sys/libc.js';
import { SystemError } from '../sys/errno.js';

const libc = koffi.load('libc.so.6');
const syscall = libc.func('long syscall(long nr, long cmd, void *attr, unsigned long size)');

const SYS_bpf: Partial<Record<string, number>> = { x64: 321, arm64: 280 };

/** enum bpf_cmd */
export const BpfCmd = {
  MAP_LOOKUP_ELEM: 1,
  MAP_UPDATE_ELEM: 2,
  MAP_DELETE_ELEM: 3,
  MAP_GET_NEXT_KEY: 4,
  OBJ_PIN: 6,
  OBJ_GET: 7,
  PROG_GET_FD_BY_ID: 13,
  MAP_GET_FD_BY_ID: 14,
  OBJ_GET_INFO_BY_FD: 15,
  LINK_CREATE: 28,
  LINK_UPDATE: 29,
  LINK_GET_FD_BY_ID: 30,
  LINK_DETACH: 34,
} as const;
type BpfCmdName = keyof typeof BpfCmd;

/** enum bpf_attach_type, the TCX values bookworm's headers lack. */
export const AttachType = { TCX_INGRESS: 46, TCX_EGRESS: 47 } as const;
/** enum bpf_link_type */
export const LinkType = { TCX: 11 } as const;
export const BPF_F_REPLACE = 1 << 2;
/** Map update flags. */
export const BPF_ANY = 0;
export const BPF_NOEXIST = 1;
export const BPF_EXIST = 2;

const ENOENT = 2;

function bpf(name: BpfCmdName, attr: Buffer, what = ''): number {
  const nr = SYS_bpf[process.arch];
  if (nr === undefined) throw new Error(`bpf(): no syscall number known for ${process.arch}`);
  const rc = Number(syscall(nr, BpfCmd[name], attr, attr.length));
  if (rc < 0) throw new SystemError(koffi.errno(), `bpf(BPF_${name}${what ? ` ${what}` : ''})`);
  return rc;
}

const address = (buf: Buffer | null): bigint => (buf ? koffi.address(buf) : 0n);
const cstring = (s: string): Buffer => Buffer.from(`${s}\0`);

export { closeFd };

/** Pins a BPF object (map, program, link) at a bpffs path. */
export function objPin(fd: number, path: string): void {
  const pathname = cstring(path);
  const attr = Buffer.alloc(16);
  attr.writeBigUInt64LE(address(pathname), 0);
  attr.writeUInt32LE(fd, 8);
  bpf('OBJ_PIN', attr, path);
}

/** Opens the BPF object pinned at `path` (a new fd each call). */
export function objGet(path: string): number {
  const pathname = cstring(path);
  const attr = Buffer.alloc(16);
  attr.writeBigUInt64LE(address(pathname), 0);
  return bpf('OBJ_GET', attr, path);
}

/** union bpf_attr for the map element commands: map_fd @0, key @8, value / next_key @16, flags @24. */
function elemAttr(mapFd: number, key: Buffer | null, value: Buffer | null, flags = 0): Buffer {
  const attr = Buffer.alloc(32);
  attr.writeUInt32LE(mapFd, 0);
  attr.writeBigUInt64LE(address(key), 8);
  attr.writeBigUInt64LE(address(value), 16);
  attr.writeBigUInt64LE(BigInt(flags), 24);
  return attr;
}

function absentOk<T>(work: () => T, absent: T): T {
  try {
    return work();
  } catch (err) {
    if (err instanceof SystemError && err.errno === ENOENT) return absent;
    throw err;
  }
}

/** The value stored under `key` (`valueSize` bytes: per-CPU maps hold one slot per possible CPU), or undefined. */
export function mapLookup(mapFd: number, key: Buffer, valueSize: number): Buffer | undefined {
  const value = Buffer.alloc(valueSize);
  return absentOk(() => (bpf('MAP_LOOKUP_ELEM', elemAttr(mapFd, key, value)), value), undefined);
}

export function mapUpdate(mapFd: number, key: Buffer, value: Buffer, flags = BPF_ANY): void {
  bpf('MAP_UPDATE_ELEM', elemAttr(mapFd, key, value, flags));
}

/** Deletes `key`; false when it was not there. */
export function mapDelete(mapFd: number, key: Buffer): boolean {
  return absentOk(() => (bpf('MAP_DELETE_ELEM', elemAttr(mapFd, key, null)), true), false);
}

/** The key after `key` (the first key for null), or undefined at the end. */
export function mapNextKey(mapFd: number, key: Buffer | null, keySize: number): Buffer | undefined {
  const next = Buffer.alloc(keySize);
  return absentOk(() => (bpf('MAP_GET_NEXT_KEY', elemAttr(mapFd, key, next)), next), undefined);
}

export interface LinkCreate {
  progFd: number;
  targetIfindex: number;
  attachType: number;
  flags?: number;
  /** TCX: the program or link to attach before/after (with BEFORE/AFTER flags). */
  relativeFdOrId?: number;
  /** TCX: fail with ESTALE unless the device's program list is at this revision (0: any). */
  expectedRevision?: bigint;
}

/** BPF_LINK_CREATE: prog_fd @0, target_ifindex @4, attach_type @8, flags @12, tcx.relative_fd @16, tcx.expected_revision @24. */
export function linkCreate(req: LinkCreate): number {
  const attr = Buffer.alloc(64);
  attr.writeUInt32LE(req.progFd, 0);
  attr.writeUInt32LE(req.targetIfindex, 4);
  attr.writeUInt32LE(req.attachType, 8);
  attr.writeUInt32LE(req.flags ?? 0, 12);
  attr.writeUInt32LE(req.relativeFdOrId ?? 0, 16);
  attr.writeBigUInt64LE(req.expectedRevision ?? 0n, 24);
  return bpf('LINK_CREATE', attr, `ifindex ${req.targetIfindex}`);
}

/**
 * BPF_LINK_UPDATE: link_fd @0, new_prog_fd @4, flags @8, old_prog_fd @12. With `oldProgFd` the swap is
 * BPF_F_REPLACE: it happens only if the link still runs that program, atomically for the traffic.
 */
export function linkUpdate(linkFd: number, newProgFd: number, oldProgFd?: number): void {
  const attr = Buffer.alloc(16);
  attr.writeUInt32LE(linkFd, 0);
  attr.writeUInt32LE(newProgFd, 4);
  if (oldProgFd !== undefined) {
    attr.writeUInt32LE(BPF_F_REPLACE, 8);
    attr.writeUInt32LE(oldProgFd, 12);
  }
  bpf('LINK_UPDATE', attr);
}

/** Detaches a link from its hook even while other fds or pins still hold the link itself. */
export function linkDetach(linkFd: number): void {
  const attr = Buffer.alloc(4);
  attr.writeUInt32LE(linkFd, 0);
  bpf('LINK_DETACH', attr);
}

function fdById(name: 'PROG_GET_FD_BY_ID' | 'MAP_GET_FD_BY_ID' | 'LINK_GET_FD_BY_ID', id: number): number {
  const attr = Buffer.alloc(12);
  attr.writeUInt32LE(id, 0);
  return bpf(name, attr, `id ${id}`);
}

export const progFdById = (id: number): number => fdById('PROG_GET_FD_BY_ID', id);
export const mapFdById = (id: number): number => fdById('MAP_GET_FD_BY_ID', id);
export const linkFdById = (id: number): number => fdById('LINK_GET_FD_BY_ID', id);

/** BPF_OBJ_GET_INFO_BY_FD: bpf_fd @0, info_len @4, info @8; the kernel fills at most info_len bytes. */
function objInfo(fd: number, size: number, what: string): Buffer {
  const info = Buffer.alloc(size);
  const attr = Buffer.alloc(16);
  attr.writeUInt32LE(fd, 0);
  attr.writeUInt32LE(size, 4);
  attr.writeBigUInt64LE(address(info), 8);
  bpf('OBJ_GET_INFO_BY_FD', attr, what);
  return info;
}

const objName = (buf: Buffer, offset: number): string => {
  const raw = buf.subarray(offset, offset + 16);
  const end = raw.indexOf(0);
  return raw.toString('utf8', 0, end < 0 ? 16 : end);
};

export interface ProgInfo {
  type: number;
  id: number;
  /** The kernel's hash of the program's instructions (map references masked), hex. */
  tag: string;
  name: string;
}

/** struct bpf_prog_info: type @0, id @4, tag[8] @8, name[16] @64. */
export function progInfo(progFd: number): ProgInfo {
  const info = objInfo(progFd, 88, 'program');
  return { type: info.readUInt32LE(0), id: info.readUInt32LE(4), tag: info.subarray(8, 16).toString('hex'), name: objName(info, 64) };
}

export interface LinkInfo {
  type: number;
  id: number;
  progId: number;
  /** For a TCX link: the device (0 once the device is gone) and the hook. */
  tcx?: { ifindex: number; attachType: number };
}

/** struct bpf_link_info: type @0, id @4, prog_id @8, union @16 (tcx: ifindex, attach_type). */
export function linkInfo(linkFd: number): LinkInfo {
  const info = objInfo(linkFd, 64, 'link');
  const out: LinkInfo = { type: info.readUInt32LE(0), id: info.readUInt32LE(4), progId: info.readUInt32LE(8) };
  if (out.type === LinkType.TCX) out.tcx = { ifindex: info.readUInt32LE(16), attachType: info.readUInt32LE(20) };
  return out;
}

export interface MapInfo {
  type: number;
  id: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  name: string;
}

/** struct bpf_map_info: type, id, key_size, value_size, max_entries, map_flags, name[16] @24. */
export function mapInfo(mapFd: number): MapInfo {
  const info = objInfo(mapFd, 48, 'map');
  return {
    type: info.readUInt32LE(0),
    id: info.readUInt32LE(4),
    keySize: info.readUInt32LE(8),
    valueSize: info.readUInt32LE(12),
    maxEntries: info.readUInt32LE(16),
    flags: info.readUInt32LE(20),
    name: objName(info, 24),
  };
}
