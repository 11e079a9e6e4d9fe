import koffi from 'koffi';
import type { Socket } from 'node:net';
import { SystemError } from './errno.js';
import { libcRaw, SOL_SOCKET } from './libc.js';

/**
 * SO_PEERCRED: who is at the other end of a connected AF_UNIX socket. The kernel records the peer's
 * credentials when it called connect() (or socketpair()), so they cannot be changed afterwards by the
 * peer: a process that drops privileges after connecting keeps the uid it connected with.
 */

/** SO_PEERCRED from asm-generic/socket.h. */
export const SO_PEERCRED = 17;
/** struct ucred { pid_t pid; uid_t uid; gid_t gid; } */
const UCRED_SIZE = 12;

export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
}

/** The credentials of the peer of the connected unix socket `fd`. */
export function peerCred(fd: number): PeerCred {
  const buf = Buffer.alloc(UCRED_SIZE);
  const len = [UCRED_SIZE];
  const rc = libcRaw.getsockopt(fd, SOL_SOCKET, SO_PEERCRED, buf, len) as number;
  if (rc < 0) throw new SystemError(koffi.errno(), 'getsockopt(SO_PEERCRED)');
  if ((len[0] ?? 0) < UCRED_SIZE) throw new SystemError(22, 'getsockopt(SO_PEERCRED): short answer');
  return { pid: buf.readInt32LE(0), uid: buf.readUInt32LE(4), gid: buf.readUInt32LE(8) };
}

/**
 * The file descriptor behind a node:net socket (a unix socket accepted by a net.Server), or undefined
 * when Node does not expose it (then nothing can be said about the peer: refuse it).
 */
export function socketFd(socket: Socket): number | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/** The peer of a node:net unix socket, or undefined when its fd is not available. */
export function socketPeerCred(socket: Socket): PeerCred | undefined {
  const fd = socketFd(socket);
  return fd === undefined ? undefined : peerCred(fd);
}
