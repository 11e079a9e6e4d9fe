// The pure half of a netlink conversation: stamping requests, collecting replies into an Exchange,
// and routing each datagram's messages to the exchange they answer. No I/O here: both sockets use it.
import { DumpInterruptedError, EncodeError, NetlinkError } from './errors.js';
import { decodeAny, decodeDone, decodeError, decodeHeader, Family, NLM_F, NLMSG, NLMSG_HDRLEN, type AnyMessage, type NlHeader } from './message.js';

export interface Sender {
  pid: number;
  groups: number;
}

export interface Datagram extends Sender {
  data: Buffer;
}


/** How the replies to one request are decoded. */
export interface ReplyOptions {
  /**
   * Only these top-level attributes of each reply (decodeSelectedAttrs): for a lookup that reads a
   * few fields of a big message. The replies are then partial: not for re-encoding.
   */
  attributes?: readonly string[];
}

/** Decoded messages keep the exact bytes they were decoded from under this key (non-enumerable). */
export const RAW: unique symbol = Symbol('netlink.raw');

/** The bytes a received message was decoded from. */
export function rawOf(message: AnyMessage): Buffer | undefined {
  return (message as { [RAW]?: Buffer })[RAW];
}

function withRaw(message: AnyMessage, raw: Buffer): AnyMessage {
  Object.defineProperty(message, RAW, { value: raw });
  return message;
}

/** The sequence number after `seq`, skipping 0 (unsolicited kernel messages carry seq 0). */
export function nextSeq(seq: number): number {
  return seq >= 0xffffffff ? 1 : seq + 1;
}

/** A copy of one encoded request with its sequence number set and `flags` added. */
export function stampRequest(bytes: Buffer, seq: number, flags: number): Buffer {
  if (bytes.length < NLMSG_HDRLEN) throw new EncodeError(`a netlink request needs at least ${NLMSG_HDRLEN} bytes, got ${bytes.length}`);
  const len = bytes.readUInt32LE(0);
  if (len !== bytes.length) throw new EncodeError(`a request must be exactly one netlink message: header says ${len} bytes, buffer has ${bytes.length}`);
  const out = Buffer.from(bytes);
  out.writeUInt16LE(out.readUInt16LE(6) | flags, 6);
  out.writeUInt32LE(seq, 8);
  return out;
}

/** Whether a stamped request carries NLM_F_ECHO. */
export function asksEcho(message: Buffer): boolean {
  return (message.readUInt16LE(6) & NLM_F.ECHO) !== 0;
}

/**
 * One request and the replies it collects. A request (NLM_F_ACK) ends at its NLMSG_ERROR; a dump at
 * NLMSG_DONE. A failure part-way through a dump is remembered and reported once the dump's last
 * message has been read, so the kernel's dump state is drained and the socket stays usable.
 */
export class Exchange {
  readonly replies: AnyMessage[] = [];
  finished = false;
  private error: Error | undefined;
  private interrupted = false;

  constructor(
    readonly family: Family,
    readonly mode: 'request' | 'dump',
    readonly seq: number,
    readonly what: string,
    /** The request asked for NLM_F_ECHO: its echo comes addressed to a group, and is still its reply. */
    readonly echo = false,
    readonly options: ReplyOptions = {},
  ) {}

  /** Takes the reply message at buf[off, off + header.len); returns true when the exchange is complete. */
  accept(buf: Buffer, off: number, header: NlHeader & { len: number }): boolean {
    if (header.flags & NLM_F.DUMP_INTR) this.interrupted = true;
    switch (header.type) {
      case NLMSG.NOOP:
        return false;
      case NLMSG.ERROR:
        this.attempt(() => {
          const m = decodeError(buf, off);
          if (m.error < 0) this.fail(new NetlinkError(-m.error, this.what, m.ack));
        });
        return this.finish();
      case NLMSG.DONE:
        // A request answered in several parts ends with DONE and then its ACK: wait for the ACK.
        if (this.mode === 'request') return false;
        this.attempt(() => {
          const m = decodeDone(buf, off);
          if (m.status < 0) this.fail(new NetlinkError(-m.status, this.what, m.ack));
        });
        return this.finish();
      default:
        this.attempt(() => this.replies.push(withRaw(decodeAny(this.family, buf, off, this.options.attributes), buf.subarray(off, off + header.len))));
        // A dump answered with a single message (no NLM_F_MULTI) has no NLMSG_DONE.
        return this.mode === 'dump' && !(header.flags & NLM_F.MULTI) ? this.finish() : false;
    }
  }

  /** Ends the exchange before its last reply (socket closed, replies lost). */
  abort(error: Error): void {
    this.fail(error);
    this.finished = true;
  }

  /** The replies, or the first error that ended or spoiled the exchange. */
  result(): AnyMessage[] {
    if (this.error) throw this.error;
    return this.replies;
  }

  private attempt(f: () => void): void {
    try {
      f();
    } catch (e) {
      this.fail(e as Error);
    }
  }

  private fail(error: Error): void {
    this.error ??= error;
  }

  private finish(): true {
    if (this.mode === 'dump' && this.interrupted) this.fail(new DumpInterruptedError(this.what));
    this.finished = true;
    return true;
  }
}

/** What a socket tells dispatch() about itself. */
export interface Receiver {
  readonly port: number;
  readonly family: Family;
  /** Whether the socket joined any multicast group: only then are unsolicited messages wanted. */
  readonly listening: boolean;
  exchangeFor(seq: number): Exchange | undefined;
  completed(exchange: Exchange): void;
  notification(message: AnyMessage): void;
  notificationFailed(error: Error): void;
}

/**
 * Hands every message of a datagram to the exchange it answers, or to the notification path.
 * Only the kernel (port 0) is believed. A unicast message is a reply when it carries our port id and
 * the seq of an exchange in progress; anything else unicast is stale (a reply to an abandoned
 * exchange) or foreign. Multicast datagrams are notifications, except the echo of a request that asked
 * for one (NLM_F_ECHO): the kernel sends it with the group's bit set, to us alone. Returns how many
 * messages were ignored (a datagram from another process counts as one).
 * Throws DecodeError when the datagram's framing is broken: then no later message can be trusted.
 */
export function dispatch(datagram: Datagram, to: Receiver): number {
  const { data } = datagram;
  if (datagram.pid !== 0) return 1;
  let ignored = 0;
  for (let off = 0; off < data.length; ) {
    const header = decodeHeader(data, off);
    const step = (header.len + 3) & ~3;
    const exchange = header.pid === to.port ? to.exchangeFor(header.seq) : undefined;
    if (datagram.groups === 0 ? header.pid === to.port : exchange?.echo === true) {
      if (exchange && !exchange.finished) {
        if (exchange.accept(data, off, header)) to.completed(exchange);
      } else ignored++;
    } else if (to.listening) {
      // Groups above 32 have no bit in nl_groups: their notifications arrive with groups 0 and land here.
      try {
        to.notification(withRaw(decodeAny(to.family, data, off), data.subarray(off, off + header.len)));
      } catch (e) {
        to.notificationFailed(e as Error);
      }
    } else {
      ignored++;
    }
    off += step;
  }
  return ignored;
}

/** "RTM_NEWLINK" for a request of that type: the default description of a request in errors. */
export function describeRequest(family: Family, bytes: Buffer): string {
  return bytes.length >= 6 ? family.typeName(bytes.readUInt16LE(4)) : 'netlink request';
}

export const emptyFamily = new Family('netlink', []);

