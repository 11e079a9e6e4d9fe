import { setImmediate as nextTurn } from 'node:timers/promises';
import * as libc from '../sys/libc.js';
import { SystemError } from '../sys/errno.js';
import { NLM_F, type AnyMessage, type Family } from './message.js';
import { asksEcho, describeRequest, dispatch, emptyFamily, Exchange, nextSeq, stampRequest, type Receiver, type ReplyOptions } from './exchange.js';
import { DatagramReader, openNetlinkFd, setMembership, sockaddrNl, type SocketOptions, type SocketStats } from './socket.js';

export interface AsyncSocketOptions extends SocketOptions {
  /**
   * Requests in flight at once; more wait their turn. Bounded so that the replies always fit in the
   * receive buffer: the kernel drops a reply that does not fit, and its request would never settle.
   */
  maxInFlight?: number;
}

export type NotificationListener = (message: AnyMessage) => void;
export type NotificationErrorListener = (error: Error) => void;

/** Rejects every request still pending when the socket is closed. */
export class SocketClosedError extends Error {
  override readonly name = 'SocketClosedError';
  constructor(what: string) {
    super(`${what}: netlink socket closed`);
  }
}

const KERNEL = sockaddrNl(0, 0);
/** Datagrams read in one go before letting other callbacks run. */
const DATAGRAMS_PER_TURN = 16;

interface Pending {
  exchange: Exchange;
  resolve(replies: AnyMessage[]): void;
  reject(error: Error): void;
}

/**
 * The non-blocking netlink socket (the agent's): the same request and dump as NetlinkSocket, returning
 * promises, with many requests in flight (replies matched to requests by seq) and notifications for
 * the joined multicast groups.
 *
 * The event loop never waits on the kernel: requests are sent from the libuv thread pool (the kernel
 * does the work of a request inside sendto), waiting for replies is a poll() on the pool over the
 * socket and an eventfd that wakes it, and reading is MSG_DONTWAIT. The poll only runs while
 * something is pending or someone listens, so an idle socket holds no pool thread and does not keep
 * the process alive. Dumps run one at a time (the kernel allows one per socket).
 */
export class AsyncNetlinkSocket {
  readonly stats: SocketStats = { datagrams: 0, ignored: 0 };
  private seq = 0;
  private readonly pending = new Map<number, Pending>();
  private readonly memberships = new Set<number>();
  private readonly listeners = new Set<{ message: NotificationListener; error?: NotificationErrorListener | undefined }>();
  private readonly onClose = new Set<() => void>();
  private readonly reader: DatagramReader;
  private readonly receiver: Receiver;
  private readonly pollFds: Buffer;
  private readonly slots: Slots;
  private readonly sends = new Set<Promise<unknown>>();
  private dumpTail: Promise<unknown> = Promise.resolve();
  private readLoop: Promise<void> | undefined;
  private polling = false;
  private closing: Promise<void> | undefined;
  private broken: Error | undefined;

  private constructor(
    readonly fd: number,
    readonly port: number,
    private readonly wakeFd: number,
    readonly family: Family,
    options: AsyncSocketOptions,
  ) {
    this.reader = new DatagramReader(fd, options.readBufferSize);
    this.pollFds = libc.pollFds([{ fd, events: libc.POLLIN }, { fd: wakeFd, events: libc.POLLIN }]);
    this.slots = new Slots(options.maxInFlight ?? 64);
    for (const group of options.groups ?? []) this.memberships.add(group);
    const memberships = this.memberships;
    this.receiver = {
      port,
      family,
      get listening() {
        return memberships.size > 0;
      },
      exchangeFor: (seq) => this.pending.get(seq)?.exchange,
      completed: (exchange) => this.settle(exchange.seq),
      notification: (m) => {
        for (const l of this.listeners) l.message(m);
      },
      notificationFailed: (e) => {
        for (const l of this.listeners) l.error?.(e);
      },
    };
  }

  static open(protocol: number, options: AsyncSocketOptions = {}): AsyncNetlinkSocket {
    const create = () => openNetlinkFd(protocol, options, true);
    const { fd, port } = options.netns ? options.netns.run(create) : create();
    let wakeFd: number;
    try {
      wakeFd = libc.eventfd(0, libc.EFD_CLOEXEC | libc.EFD_NONBLOCK);
    } catch (e) {
      libc.close(fd);
      throw e;
    }
    return new AsyncNetlinkSocket(fd, port, wakeFd, options.family ?? emptyFamily, options);
  }

  get readBufferSize(): number {
    return this.reader.size;
  }

  /** Requests currently waiting for their replies. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** NetlinkSocket.request, as a promise. */
  request(bytes: Buffer, what?: string, options?: ReplyOptions): Promise<AnyMessage[]> {
    return this.exchange('request', bytes, NLM_F.REQUEST | NLM_F.ACK, what, options);
  }

  /** NetlinkSocket.dump, as a promise. Dumps on one socket are queued and run one after another. */
  dump(bytes: Buffer, what?: string, options?: ReplyOptions): Promise<AnyMessage[]> {
    const run = this.dumpTail.then(() => this.exchange('dump', bytes, NLM_F.REQUEST | NLM_F.DUMP, what, options));
    this.dumpTail = run.catch(() => {});
    return run;
  }

  addMembership(group: number): void {
    this.assertUsable('addMembership');
    setMembership(this.fd, group, true);
    this.memberships.add(group);
  }

  dropMembership(group: number): void {
    this.assertUsable('dropMembership');
    setMembership(this.fd, group, false);
    this.memberships.delete(group);
  }

  /**
   * Calls `listener` with every notification of the joined groups until the returned function is
   * called or the socket closes. `onError` hears of lost notifications (ENOBUFS: the receive buffer
   * overflowed; re-read what you mirror) and of notifications that could not be decoded.
   * Notifications that arrive while nobody listens are dropped.
   */
  onNotification(listener: NotificationListener, onError?: NotificationErrorListener): () => void {
    this.assertUsable('onNotification');
    const entry = { message: listener, error: onError };
    this.listeners.add(entry);
    this.startReading();
    return () => {
      this.listeners.delete(entry);
      this.stopPollingIfIdle();
    };
  }

  /** The notifications as an async iterator; it throws on lost notifications and ends when the socket closes. */
  notifications(): AsyncIterableIterator<AnyMessage> {
    const queue: AnyMessage[] = [];
    let failure: Error | undefined;
    let ended = false;
    let wake: (() => void) | undefined;
    const signal = () => {
      wake?.();
      wake = undefined;
    };
    const stop = this.onNotification(
      (m) => { queue.push(m); signal(); },
      (e) => { failure ??= e; signal(); },
    );
    const end = () => {
      ended = true;
      stop();
      signal();
    };
    this.onClose.add(end);
    const iterator: AsyncIterableIterator<AnyMessage> = {
      next: async () => {
        for (;;) {
          const m = queue.shift();
          if (m) return { value: m, done: false };
          if (failure) {
            const e = failure;
            end();
            throw e;
          }
          if (ended) return { value: undefined, done: true };
          await new Promise<void>((resolve) => (wake = resolve));
        }
      },
      return: async () => {
        end();
        this.onClose.delete(end);
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  /**
   * Rejects every pending request with SocketClosedError, ends notification delivery, wakes the
   * pool thread out of poll() and closes the fds once no thread uses them.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.failAll((what) => new SocketClosedError(what));
    this.slots.drain();
    this.listeners.clear();
    for (const end of this.onClose) end();
    this.onClose.clear();
    this.wake();
    await this.readLoop;
    await Promise.allSettled(this.sends);
    libc.close(this.fd);
    libc.close(this.wakeFd);
  }

  private async exchange(mode: 'request' | 'dump', bytes: Buffer, flags: number, what: string | undefined, options: ReplyOptions | undefined): Promise<AnyMessage[]> {
    const describe = what ?? describeRequest(this.family, bytes);
    await this.slots.acquire();
    try {
      this.assertUsable(describe);
      this.seq = nextSeq(this.seq);
      while (this.pending.has(this.seq)) this.seq = nextSeq(this.seq);
      const message = stampRequest(bytes, this.seq, flags);
      const exchange = new Exchange(this.family, mode, this.seq, describe, asksEcho(message), options);
      const settled = new Promise<AnyMessage[]>((resolve, reject) => this.pending.set(exchange.seq, { exchange, resolve, reject }));
      settled.catch(() => {}); // it may fail while the send is still under way; it is awaited below
      await this.send(exchange, message);
      // The kernel has usually answered inside sendto: read without waiting, poll only if that was not all.
      this.readAvailable();
      this.startReading();
      return await settled;
    } finally {
      this.slots.release();
    }
  }

  private async send(exchange: Exchange, message: Buffer): Promise<void> {
    const sending = libc.sendtoAsync(this.fd, message, KERNEL);
    this.sends.add(sending);
    try {
      await sending;
    } catch (e) {
      this.settle(exchange.seq, e as Error);
    } finally {
      this.sends.delete(sending);
    }
  }

  private interested(): boolean {
    return this.pending.size > 0 || this.listeners.size > 0;
  }

  private startReading(): void {
    if (this.readLoop || this.closing || this.broken || !this.interested()) return;
    this.readLoop = this.read()
      .catch((e: Error) => this.breakDown(e))
      .finally(() => {
        this.readLoop = undefined;
        this.startReading();
      });
  }

  private async read(): Promise<void> {
    while (!this.closing && this.interested()) {
      if (this.readAvailable()) {
        await nextTurn();
        continue;
      }
      if (this.closing || !this.interested()) return;
      this.polling = true;
      try {
        await libc.pollAsync(this.pollFds, 2, -1);
      } finally {
        this.polling = false;
      }
      if (libc.revents(this.pollFds, 1) & libc.POLLIN) libc.read(this.wakeFd, Buffer.alloc(8));
    }
  }

  /** Reads and dispatches the datagrams already queued, at most one turn's worth; true if there may be more. */
  private readAvailable(): boolean {
    for (let i = 0; i < DATAGRAMS_PER_TURN; i++) {
      if (this.closing || this.broken) return false;
      let datagram;
      try {
        datagram = this.reader.read(libc.MSG_DONTWAIT);
      } catch (e) {
        if (e instanceof SystemError && e.errno === libc.ENOBUFS) {
          this.lost();
          continue;
        }
        this.breakDown(e as Error);
        return false;
      }
      if (!datagram) return false;
      this.stats.datagrams++;
      try {
        this.stats.ignored += dispatch(datagram, this.receiver);
      } catch (e) {
        // Broken framing: no message of the datagram can be attributed, so nothing pending can be trusted.
        this.failAll(() => e as Error);
      }
    }
    return true;
  }

  /** The kernel dropped datagrams (ENOBUFS): maybe notifications, maybe a reply someone is waiting for. */
  private lost(): void {
    const error = new SystemError(libc.ENOBUFS, 'netlink receive (messages were dropped: the receive buffer overflowed)');
    this.failAll(() => error);
    for (const l of this.listeners) l.error?.(error);
  }

  private settle(seq: number, error?: Error): void {
    const p = this.pending.get(seq);
    if (!p) return;
    this.pending.delete(seq);
    if (error) p.exchange.abort(error);
    try {
      p.resolve(p.exchange.result());
    } catch (e) {
      p.reject(e as Error);
    }
    this.stopPollingIfIdle();
  }

  private failAll(error: (what: string) => Error): void {
    for (const [seq, p] of [...this.pending]) this.settle(seq, error(p.exchange.what));
  }

  /** An unexpected error from the socket itself: fail everything, accept nothing more. */
  private breakDown(error: Error): void {
    this.broken ??= error;
    this.failAll(() => error);
    for (const l of this.listeners) l.error?.(error);
  }

  /** Wakes the poll on the pool when nothing needs it any more, so it frees its thread. */
  private stopPollingIfIdle(): void {
    if (this.polling && !this.interested()) this.wake();
  }

  private wake(): void {
    const one = Buffer.alloc(8);
    one.writeBigUInt64LE(1n);
    libc.write(this.wakeFd, one);
  }

  private assertUsable(what: string): void {
    if (this.closing) throw new SocketClosedError(what);
    if (this.broken) throw this.broken;
  }
}

/** A counting semaphore: at most `size` holders, the rest wait in order. */
class Slots {
  private readonly waiting: Array<() => void> = [];
  constructor(private free: number) {
    if (!Number.isInteger(free) || free < 1) throw new RangeError(`maxInFlight must be a positive integer, got ${free}`);
  }

  acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }

  /** Lets every waiter through (they find the socket closed). */
  drain(): void {
    for (const next of this.waiting.splice(0)) next();
  }
}
