import * as libc from '../sys/libc.js';
import { SystemError } from '../sys/errno.js';
import type { NetNs } from '../netns.js';
import { NLM_F, NLMSG_HDRLEN, type AnyMessage, type Family } from './message.js';
import { asksEcho, describeRequest, dispatch, emptyFamily, Exchange, nextSeq, stampRequest, type Datagram, type Receiver, type ReplyOptions } from './exchange.js';
import { EncodeError } from './errors.js';

export { RAW, rawOf } from './exchange.js';

/** Netlink protocols (linux/netlink.h) this project opens. */
export const NETLINK_ROUTE = 0;
export const NETLINK_NETFILTER = 12;

// SOL_NETLINK socket options (linux/netlink.h).
const NETLINK_ADD_MEMBERSHIP = 1;
const NETLINK_DROP_MEMBERSHIP = 2;
const NETLINK_CAP_ACK = 10;
const NETLINK_EXT_ACK = 11;
const NETLINK_GET_STRICT_CHK = 12;

const SOCKADDR_NL_SIZE = 12;
/** The kernel's address: port 0. */
const KERNEL = sockaddrNl(0, 0);

export interface SocketOptions {
  /** Decodes replies and notifications into typed messages; without one every message is `raw`. */
  family?: Family;
  /** Multicast groups to join at once (e.g. RTNLGRP_LINK = 1). */
  groups?: readonly number[];
  /** Open the socket inside this namespace; it stays bound to it for its whole life. */
  netns?: NetNs;
  /** SO_RCVBUF in bytes (forced past rmem_max when we may). Default 1 MiB. */
  receiveBufferSize?: number;
  /** SO_SNDBUF in bytes. Default 256 KiB. */
  sendBufferSize?: number;
  /** Initial size of the user-space buffer datagrams are read into; it grows to fit any datagram. */
  readBufferSize?: number;
  /** NETLINK_GET_STRICT_CHK: the kernel validates dump requests strictly and honours their filters. Default true. */
  strictCheck?: boolean;
}

const DEFAULT_RECEIVE_BUFFER = 1 << 20;
const DEFAULT_SEND_BUFFER = 256 << 10;
// The kernel fills dump datagrams up to about 32 KiB when the reader's buffer is at least that large.
const DEFAULT_READ_BUFFER = 32 << 10;

export function sockaddrNl(pid: number, groups: number): Buffer {
  const addr = Buffer.alloc(SOCKADDR_NL_SIZE);
  addr.writeUInt16LE(libc.AF_NETLINK, 0);
  addr.writeUInt32LE(pid, 4);
  addr.writeUInt32LE(groups, 8);
  return addr;
}

/** Creates, tunes and binds a netlink socket in the calling thread's namespace; returns its fd and port id. */
export function openNetlinkFd(protocol: number, options: SocketOptions, nonBlocking: boolean): { fd: number; port: number } {
  const fd = libc.socket(libc.AF_NETLINK, libc.SOCK_RAW | libc.SOCK_CLOEXEC | (nonBlocking ? libc.SOCK_NONBLOCK : 0), protocol);
  try {
    setBufferSize(fd, libc.SO_RCVBUFFORCE, libc.SO_RCVBUF, options.receiveBufferSize ?? DEFAULT_RECEIVE_BUFFER);
    setBufferSize(fd, libc.SO_SNDBUFFORCE, libc.SO_SNDBUF, options.sendBufferSize ?? DEFAULT_SEND_BUFFER);
    enableIfSupported(fd, NETLINK_EXT_ACK, 'NETLINK_EXT_ACK');
    enableIfSupported(fd, NETLINK_CAP_ACK, 'NETLINK_CAP_ACK');
    if (options.strictCheck ?? true) enableIfSupported(fd, NETLINK_GET_STRICT_CHK, 'NETLINK_GET_STRICT_CHK');
    // Port 0 lets the kernel pick a unique port id; we read it back to check the replies' nlmsg_pid.
    libc.bind(fd, sockaddrNl(0, 0));
    const port = libc.getsockname(fd, SOCKADDR_NL_SIZE).readUInt32LE(4);
    for (const group of options.groups ?? []) setMembership(fd, group, true);
    return { fd, port };
  } catch (e) {
    libc.close(fd);
    throw e;
  }
}

function setBufferSize(fd: number, force: number, plain: number, size: number): void {
  try {
    libc.setsockoptInt(fd, libc.SOL_SOCKET, force, size, 'setsockopt SO_RCVBUFFORCE/SO_SNDBUFFORCE');
  } catch (e) {
    // Without CAP_NET_ADMIN: the plain option, which the kernel silently caps at rmem_max/wmem_max.
    if (!(e instanceof SystemError) || e.code !== 'EPERM') throw e;
    libc.setsockoptInt(fd, libc.SOL_SOCKET, plain, size, 'setsockopt SO_RCVBUF/SO_SNDBUF');
  }
}

function enableIfSupported(fd: number, option: number, name: string): void {
  try {
    libc.setsockoptInt(fd, libc.SOL_NETLINK, option, 1, `setsockopt ${name}`);
  } catch (e) {
    // Older kernels lack some options; the socket works without them, with less detail in errors.
    if (!(e instanceof SystemError) || (e.code !== 'ENOPROTOOPT' && e.code !== 'EINVAL')) throw e;
  }
}

export function setMembership(fd: number, group: number, join: boolean): void {
  if (!Number.isInteger(group) || group <= 0) throw new RangeError(`netlink multicast group must be a positive integer, got ${group}`);
  libc.setsockoptInt(fd, libc.SOL_NETLINK, join ? NETLINK_ADD_MEMBERSHIP : NETLINK_DROP_MEMBERSHIP, group,
    `setsockopt ${join ? 'NETLINK_ADD_MEMBERSHIP' : 'NETLINK_DROP_MEMBERSHIP'} ${group}`);
}

// ---- reading whole datagrams ----

/** Who sent a datagram: the sender's port (0 = the kernel) and, for multicast, the group bit mask. */
/** The read buffer size that holds a datagram of `needed` bytes: the current one, or the next power of two. */
export function readBufferSizeFor(current: number, needed: number): number {
  if (needed <= current) return current;
  let size = Math.max(current, 4096);
  while (size < needed) size *= 2;
  return size;
}

const EMPTY = Buffer.alloc(0);

/** Reads datagrams whole: peeks at each one's size first and grows the buffer, so none is ever truncated. */
export class DatagramReader {
  private buffer: Buffer;
  private readonly from = Buffer.alloc(SOCKADDR_NL_SIZE);

  constructor(private readonly fd: number, initialSize = DEFAULT_READ_BUFFER) {
    this.buffer = Buffer.alloc(initialSize);
  }

  get size(): number {
    return this.buffer.length;
  }

  /** The next datagram (a copy), or undefined when `flags` has MSG_DONTWAIT and nothing is queued. */
  read(flags = 0): Datagram | undefined {
    const size = libc.recv(this.fd, EMPTY, libc.MSG_PEEK | libc.MSG_TRUNC | flags);
    if (size === -libc.EAGAIN) return undefined;
    const wanted = readBufferSizeFor(this.buffer.length, size);
    if (wanted !== this.buffer.length) this.buffer = Buffer.alloc(wanted);
    // The whole buffer is offered, not just `size`: the kernel sizes later dump datagrams by it.
    const n = libc.recvfrom(this.fd, this.buffer, flags, this.from);
    if (n === -libc.EAGAIN) return undefined;
    return { data: Buffer.from(this.buffer.subarray(0, n)), pid: this.from.readUInt32LE(4), groups: this.from.readUInt32LE(8) };
  }
}

/** Counters for tests and diagnostics. */
export interface SocketStats {
  /** Datagrams read. */
  datagrams: number;
  /** Messages dropped: not from the kernel, stale, foreign, or unwanted notifications. */
  ignored: number;
}

// ---- the synchronous socket ----

/**
 * A netlink socket for synchronous code (the CNI plugin): every call returns when the kernel has
 * answered. It stays bound to the namespace it was opened in.
 */
export class NetlinkSocket {
  readonly stats: SocketStats = { datagrams: 0, ignored: 0 };
  private seq = 0;
  private closed = false;
  private readonly reader: DatagramReader;
  private readonly memberships = new Set<number>();
  private readonly notifications: AnyMessage[] = [];
  private notificationError: Error | undefined;

  private constructor(
    readonly fd: number,
    /** The port id the kernel gave this socket (nl_pid). */
    readonly port: number,
    readonly family: Family,
    options: SocketOptions,
  ) {
    this.reader = new DatagramReader(fd, options.readBufferSize);
    for (const group of options.groups ?? []) this.memberships.add(group);
  }

  static open(protocol: number, options: SocketOptions = {}): NetlinkSocket {
    const create = () => openNetlinkFd(protocol, options, false);
    const { fd, port } = options.netns ? options.netns.run(create) : create();
    return new NetlinkSocket(fd, port, options.family ?? emptyFamily, options);
  }

  /** The current size of the user-space read buffer (it grows to fit the largest datagram seen). */
  get readBufferSize(): number {
    return this.reader.size;
  }

  /**
   * Sends one request with NLM_F_REQUEST | NLM_F_ACK and returns the messages answered before the
   * ACK (none for most changes; the object for a get or with NLM_F_ECHO). Throws NetlinkError on a
   * negative error, described by `what` (default: the message type's name).
   */
  request(bytes: Buffer, what?: string, options?: ReplyOptions): AnyMessage[] {
    return this.exchange('request', bytes, NLM_F.REQUEST | NLM_F.ACK, what, options);
  }

  /**
   * Sends a dump request (NLM_F_REQUEST | NLM_F_DUMP) and returns every message up to NLMSG_DONE.
   * Throws DumpInterruptedError when the kernel marked any part NLM_F_DUMP_INTR, NetlinkError when
   * the dump failed.
   */
  dump(bytes: Buffer, what?: string, options?: ReplyOptions): AnyMessage[] {
    return this.exchange('dump', bytes, NLM_F.REQUEST | NLM_F.DUMP, what, options);
  }

  /**
   * Sends several requests as ONE datagram, for the families that take a batch (nfnetlink: BATCH_BEGIN,
   * the changes, BATCH_END, applied as one transaction). Every message gets its own sequence number and
   * NLM_F_REQUEST; no flag is added otherwise. Returns, in message order, what was answered before the
   * ACKs, once every message that carries NLM_F_ACK is answered, or as soon as one that does not is
   * answered with an error (the kernel refused the batch as a whole). Throws the first error in message
   * order as a NetlinkError described by `what[i]` (default: the message type's name).
   */
  requestBatch(bytes: Buffer, what: ReadonlyArray<string | undefined> = []): AnyMessage[] {
    this.assertOpen();
    const datagram = Buffer.from(bytes);
    const exchanges = new Map<number, Exchange>();
    const acked: Exchange[] = [];
    const unacked: Exchange[] = [];
    for (let off = 0, i = 0; off < datagram.length; i++) {
      if (datagram.length - off < NLMSG_HDRLEN) throw new EncodeError(`batch: ${datagram.length - off} stray bytes after message ${i}`);
      const len = datagram.readUInt32LE(off);
      if (len < NLMSG_HDRLEN || len > datagram.length - off) throw new EncodeError(`batch: message ${i} has a bad length ${len}`);
      const flags = datagram.readUInt16LE(off + 6) | NLM_F.REQUEST;
      this.seq = nextSeq(this.seq);
      datagram.writeUInt16LE(flags, off + 6);
      datagram.writeUInt32LE(this.seq, off + 8);
      const message = datagram.subarray(off, off + len);
      const exchange = new Exchange(this.family, 'request', this.seq, what[i] ?? describeRequest(this.family, message), asksEcho(message));
      exchanges.set(this.seq, exchange);
      (flags & NLM_F.ACK ? acked : unacked).push(exchange);
      off += (len + 3) & ~3;
    }
    libc.sendto(this.fd, datagram, KERNEL);
    const lookup = (seq: number) => exchanges.get(seq);
    const failed = (e: Exchange) => {
      try {
        e.result();
        return false;
      } catch {
        return true;
      }
    };
    const refused = () => unacked.some((e) => e.finished && failed(e));
    while (acked.some((e) => !e.finished) && !refused()) this.receive(lookup, () => [...exchanges.values()]);
    const replies: AnyMessage[] = [];
    let error: unknown;
    for (const e of exchanges.values()) {
      try {
        replies.push(...e.result());
      } catch (err) {
        error ??= err;
      }
    }
    if (error !== undefined) throw error;
    return replies;
  }

  addMembership(group: number): void {
    this.assertOpen();
    setMembership(this.fd, group, true);
    this.memberships.add(group);
  }

  dropMembership(group: number): void {
    this.assertOpen();
    setMembership(this.fd, group, false);
    this.memberships.delete(group);
  }

  /**
   * The next notification from the joined groups, waiting up to `timeoutMs` (-1: forever); undefined
   * on timeout. Throws SystemError ENOBUFS once after the kernel dropped notifications (the receive
   * buffer overflowed: re-read the state you mirror).
   */
  receiveNotification(timeoutMs = -1): AnyMessage | undefined {
    this.assertOpen();
    if (this.memberships.size === 0 && this.notifications.length === 0) throw new Error('receiveNotification: the socket has joined no multicast group');
    const deadline = timeoutMs < 0 ? Infinity : Date.now() + timeoutMs;
    for (;;) {
      const error = this.notificationError;
      if (error) {
        this.notificationError = undefined;
        throw error;
      }
      const next = this.notifications.shift();
      if (next) return next;
      const left = deadline === Infinity ? -1 : Math.max(0, deadline - Date.now());
      if (libc.pollSync(libc.pollFds([{ fd: this.fd, events: libc.POLLIN }]), 1, left) === 0) return undefined;
      this.receive(() => undefined);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    libc.close(this.fd);
  }

  private exchange(mode: 'request' | 'dump', bytes: Buffer, flags: number, what: string | undefined, options: ReplyOptions | undefined): AnyMessage[] {
    this.assertOpen();
    this.seq = nextSeq(this.seq);
    const message = stampRequest(bytes, this.seq, flags);
    const exchange = new Exchange(this.family, mode, this.seq, what ?? describeRequest(this.family, message), asksEcho(message), options);
    libc.sendto(this.fd, message, KERNEL);
    while (!exchange.finished) this.receive((seq) => (seq === exchange.seq ? exchange : undefined), () => [exchange]);
    return exchange.result();
  }

  /** Reads one datagram (blocking) and dispatches it to the exchange `exchangeFor` finds by seq. */
  private receive(exchangeFor: (seq: number) => Exchange | undefined, pending: () => Exchange[] = () => []): void {
    let datagram: Datagram | undefined;
    try {
      datagram = this.reader.read();
    } catch (e) {
      if (!(e instanceof SystemError) || e.errno !== libc.ENOBUFS) throw e;
      // The receive queue overflowed: some datagram was dropped, perhaps the reply being waited for.
      const lost = new SystemError(libc.ENOBUFS, 'netlink receive (messages were dropped: the receive buffer overflowed)');
      if (this.memberships.size > 0) this.notificationError = lost;
      for (const exchange of pending()) if (!exchange.finished) exchange.abort(lost);
      return;
    }
    if (!datagram) return;
    this.stats.datagrams++;
    this.stats.ignored += dispatch(datagram, {
      port: this.port,
      family: this.family,
      listening: this.memberships.size > 0,
      exchangeFor,
      completed: () => {},
      notification: (m) => this.notifications.push(m),
      notificationFailed: (e) => (this.notificationError ??= e),
    });
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('netlink socket is closed');
  }
}
