import koffi from 'koffi';
import { SystemError } from './errno.js';

/** libc through koffi. Every wrapper below throws SystemError (errno + call) instead of returning -1. */
export const libc = koffi.load('libc.so.6');

const raw = {
  socket: libc.func('int socket(int domain, int type, int protocol)'),
  bind: libc.func('int bind(int fd, const void *addr, uint32_t addrlen)'),
  getsockname: libc.func('int getsockname(int fd, _Inout_ void *addr, _Inout_ uint32_t *addrlen)'),
  setsockopt: libc.func('int setsockopt(int fd, int level, int name, const void *value, uint32_t len)'),
  getsockopt: libc.func('int getsockopt(int fd, int level, int name, _Inout_ void *value, _Inout_ uint32_t *len)'),
  sendto: libc.func('intptr_t sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t addrlen)'),
  recvfrom: libc.func('intptr_t recvfrom(int fd, _Out_ void *buf, size_t len, int flags, _Out_ void *addr, _Inout_ uint32_t *addrlen)'),
  recv: libc.func('intptr_t recv(int fd, _Out_ void *buf, size_t len, int flags)'),
  close: libc.func('int close(int fd)'),
  open: libc.func('int open(const char *path, int flags, uint32_t mode)'),
  read: libc.func('intptr_t read(int fd, _Out_ void *buf, size_t len)'),
  write: libc.func('intptr_t write(int fd, const void *buf, size_t len)'),
  setns: libc.func('int setns(int fd, int nstype)'),
  unshare: libc.func('int unshare(int flags)'),
  mount: libc.func('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const void *data)'),
  umount2: libc.func('int umount2(const char *target, int flags)'),
  poll: libc.func('int poll(_Inout_ void *fds, unsigned long nfds, int timeout)'),
  eventfd: libc.func('int eventfd(unsigned int initval, int flags)'),
  fcntl: libc.func('int fcntl(int fd, int cmd, int arg)'),
  gettid: libc.func('int gettid()'),
};

export type Fn = ReturnType<typeof libc.func>;

function check<T extends number | bigint>(call: string, rc: T): T {
  if (Number(rc) < 0) throw new SystemError(koffi.errno(), call);
  return rc;
}

export const AF_NETLINK = 16;
export const SOCK_RAW = 3;
export const SOCK_CLOEXEC = 0o2000000;
export const SOCK_NONBLOCK = 0o4000;
export const SOL_SOCKET = 1;
export const SOL_NETLINK = 270;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_SNDBUFFORCE = 32;
export const SO_RCVBUFFORCE = 33;
export const MSG_PEEK = 2;
export const MSG_TRUNC = 0x20;
export const MSG_DONTWAIT = 0x40;
export const O_RDONLY = 0;
export const O_CLOEXEC = 0o2000000;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const CLONE_NEWNET = 0x40000000;
export const MS_BIND = 4096;
export const MS_REC = 16384;
export const MS_SHARED = 1 << 20;
export const MNT_DETACH = 2;
export const POLLIN = 1;
export const EFD_CLOEXEC = 0o2000000;
export const EFD_NONBLOCK = 0o4000;
export const EAGAIN = 11;
export const EINTR = 4;

export function socket(domain: number, type: number, protocol: number): number {
  return check('socket', raw.socket(domain, type, protocol) as number);
}

export function bind(fd: number, addr: Buffer): void {
  check('bind', raw.bind(fd, addr, addr.length) as number);
}

export function getsockname(fd: number, size: number): Buffer {
  const addr = Buffer.alloc(size);
  const len = [size];
  check('getsockname', raw.getsockname(fd, addr, len) as number);
  return addr;
}

export function setsockoptInt(fd: number, level: number, name: number, value: number, call = 'setsockopt'): void {
  const b = Buffer.alloc(4);
  b.writeInt32LE(value);
  check(call, raw.setsockopt(fd, level, name, b, 4) as number);
}

export function getsockoptInt(fd: number, level: number, name: number): number {
  const b = Buffer.alloc(4);
  check('getsockopt', raw.getsockopt(fd, level, name, b, [4]) as number);
  return b.readInt32LE();
}

export function sendto(fd: number, data: Buffer, addr: Buffer | null): number {
  return Number(check('sendto', raw.sendto(fd, data, data.length, 0, addr, addr ? addr.length : 0) as number));
}

/** recv(2); returns -EAGAIN instead of throwing for a non-blocking socket with nothing to read. */
export function recv(fd: number, buf: Buffer, flags: number): number {
  const n = Number(raw.recv(fd, buf, buf.length, flags));
  if (n < 0) {
    const errno = koffi.errno();
    if (errno === EAGAIN) return -EAGAIN;
    throw new SystemError(errno, 'recv');
  }
  return n;
}

export function close(fd: number): void {
  check('close', raw.close(fd) as number);
}

export function open(path: string, flags: number, mode = 0): number {
  return check(`open ${path}`, raw.open(path, flags, mode) as number);
}

export function write(fd: number, data: Buffer): number {
  return Number(check('write', raw.write(fd, data, data.length) as number));
}

export function read(fd: number, buf: Buffer): number {
  return Number(check('read', raw.read(fd, buf, buf.length) as number));
}

export function setns(fd: number, nstype: number): void {
  check('setns', raw.setns(fd, nstype) as number);
}

export function unshare(flags: number): void {
  check('unshare', raw.unshare(flags) as number);
}

export function mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null = null): void {
  check(`mount ${target}`, raw.mount(source, target, fstype, flags, data) as number);
}

export function umount2(target: string, flags: number): void {
  check(`umount ${target}`, raw.umount2(target, flags) as number);
}

export function eventfd(initval: number, flags: number): number {
  return check('eventfd', raw.eventfd(initval, flags) as number);
}

export function gettid(): number {
  return raw.gettid() as number;
}

/** poll(2) on the libuv thread pool, so the event loop keeps running while it waits. */
export function pollAsync(fds: Buffer, count: number, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    raw.poll.async(fds, count, timeoutMs, (err: unknown, rc: number) => {
      if (err) reject(err as Error);
      else resolve(rc);
    });
  });
}

export function pollSync(fds: Buffer, count: number, timeoutMs: number): number {
  return check('poll', raw.poll(fds, count, timeoutMs) as number);
}

export { raw as libcRaw };
