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
  flock: libc.func('int flock(int fd, int operation)'),
  ioctl: libc.func('int ioctl(int fd, unsigned long request, ...)'),
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
export const MS_NOSUID = 2;
export const MS_NODEV = 4;
export const MS_BIND = 4096;
export const MS_REC = 16384;
export const MS_SHARED = 1 << 20;
export const MNT_DETACH = 2;
export const POLLIN = 1;
export const EFD_CLOEXEC = 0o2000000;
export const EFD_NONBLOCK = 0o4000;
export const O_DIRECTORY = 0o200000;
export const LOCK_EX = 2;
export const LOCK_UN = 8;
/** ioctl on a namespace fd answering its CLONE_NEW* type (linux/nsfs.h: _IO(0xb7, 0x3)). */
export const NS_GET_NSTYPE = 0xb703;
export const EAGAIN = 11;
export const EINTR = 4;
export const ENOBUFS = 105;

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

/**
 * sendto(2) on the libuv thread pool. For netlink the kernel handles the request inside sendto (under
 * rtnl_lock for rtnetlink), which can take milliseconds; this keeps that off the event loop.
 */
export function sendtoAsync(fd: number, data: Buffer, addr: Buffer | null): Promise<number> {
  return new Promise((resolve, reject) => {
    raw.sendto.async(fd, data, data.length, 0, addr, addr ? addr.length : 0, (err: unknown, rc: number | bigint) => {
      // koffi restores the worker thread's errno around this callback: read it here, not later.
      const errno = koffi.errno();
      if (err) reject(err as Error);
      else if (Number(rc) < 0) reject(new SystemError(errno, 'sendto'));
      else resolve(Number(rc));
    });
  });
}

/** recv(2), restarted on EINTR; returns -EAGAIN instead of throwing for a non-blocking socket with nothing to read. */
export function recv(fd: number, buf: Buffer, flags: number): number {
  for (;;) {
    const n = Number(raw.recv(fd, buf, buf.length, flags));
    if (n >= 0) return n;
    const errno = koffi.errno();
    if (errno === EAGAIN) return -EAGAIN;
    if (errno !== EINTR) throw new SystemError(errno, 'recv');
  }
}

/** recvfrom(2) filling `addr` with the sender's address; like recv, returns -EAGAIN when nothing is queued. */
export function recvfrom(fd: number, buf: Buffer, flags: number, addr: Buffer): number {
  for (;;) {
    const n = Number(raw.recvfrom(fd, buf, buf.length, flags, addr, [addr.length]));
    if (n >= 0) return n;
    const errno = koffi.errno();
    if (errno === EAGAIN) return -EAGAIN;
    if (errno !== EINTR) throw new SystemError(errno, 'recvfrom');
  }
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

export function flock(fd: number, operation: number): void {
  check('flock', raw.flock(fd, operation) as number);
}

/** ioctl(2) with no argument (e.g. NS_GET_NSTYPE); returns the call's non-negative result. */
export function ioctlNoArg(fd: number, request: number, call = 'ioctl'): number {
  return check(call, raw.ioctl(fd, request) as number);
}

export function gettid(): number {
  return raw.gettid() as number;
}

/**
 * poll(2) on the libuv thread pool, so the event loop keeps running while it waits. The wait occupies
 * one pool thread until an fd is ready or the timeout passes. Resolves with the number of ready fds.
 * An interrupted poll resolves 0 (callers poll in a loop).
 */
export function pollAsync(fds: Buffer, count: number, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    raw.poll.async(fds, count, timeoutMs, (err: unknown, rc: number) => {
      const errno = koffi.errno();
      if (err) reject(err as Error);
      else if (rc >= 0) resolve(rc);
      else if (errno === EINTR) resolve(0);
      else reject(new SystemError(errno, 'poll'));
    });
  });
}

/** poll(2) on this thread, restarted on EINTR with the time that is left. */
export function pollSync(fds: Buffer, count: number, timeoutMs: number): number {
  const deadline = timeoutMs < 0 ? Infinity : Date.now() + timeoutMs;
  for (;;) {
    const left = deadline === Infinity ? -1 : Math.max(0, deadline - Date.now());
    const rc = raw.poll(fds, count, left) as number;
    if (rc >= 0) return rc;
    const errno = koffi.errno();
    if (errno !== EINTR) throw new SystemError(errno, 'poll');
  }
}

/** A struct pollfd array for poll(2): 8 bytes per fd (int fd, short events, short revents). */
export function pollFds(fds: ReadonlyArray<{ fd: number; events: number }>): Buffer {
  const buf = Buffer.alloc(8 * fds.length);
  fds.forEach(({ fd, events }, i) => {
    buf.writeInt32LE(fd, i * 8);
    buf.writeInt16LE(events, i * 8 + 4);
  });
  return buf;
}

/** The revents poll(2) reported for entry `index` of a pollFds() array. */
export function revents(fds: Buffer, index: number): number {
  return fds.readInt16LE(index * 8 + 6);
}

export { raw as libcRaw };
