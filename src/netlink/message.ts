import { decodeAttrs, decodeSelectedAttrs, encodeAttrs, space, type AttrSpace } from './attributes.js';
import { DecodeError, EncodeError, type ExtendedAck } from './errors.js';
import { bytes, codecInternals, cstring, u32, type StructType } from './types.js';
import { Writer } from './writer.js';

const { compile, copyBytes, encodePartial, literal } = codecInternals;

export const NLMSG_HDRLEN = 16;

/** nlmsghdr flags (linux/netlink.h). */
export const NLM_F = {
  REQUEST: 0x01,
  MULTI: 0x02,
  ACK: 0x04,
  ECHO: 0x08,
  DUMP_INTR: 0x10,
  DUMP_FILTERED: 0x20,
  // GET requests
  ROOT: 0x100,
  MATCH: 0x200,
  ATOMIC: 0x400,
  DUMP: 0x300,
  // NEW requests
  REPLACE: 0x100,
  EXCL: 0x200,
  CREATE: 0x400,
  APPEND: 0x800,
  // DELETE requests
  NONREC: 0x100,
  BULK: 0x200,
  // ACK messages
  CAPPED: 0x100,
  ACK_TLVS: 0x200,
} as const;

/** Control message types shared by every netlink family. */
export const NLMSG = { NOOP: 1, ERROR: 2, DONE: 3, OVERRUN: 4 } as const;

export interface NlHeader {
  type: number;
  flags: number;
  seq: number;
  pid: number;
}

/**
 * One kind of message in a family: a fixed header struct (ifinfomsg, rtmsg, ...) named `headerKey`
 * in decoded messages, followed by attributes of one space.
 */
export interface MessageKind<K extends string, H, A> {
  readonly name: string;
  readonly headerKey: K;
  readonly header: StructType<H>;
  readonly attrs: AttrSpace<A>;
  /** The nlmsg types carrying this kind, with their names (16: 'RTM_NEWLINK'). */
  readonly types: Readonly<Record<number, string>>;
}

export type Message<K extends string, H, A> = { kind: string; header: NlHeader; attrs: A } & { [P in K]: H };
export type MessageOf<M> = M extends MessageKind<infer K, infer H, infer A> ? Message<K, H, A> : never;
/** A message to encode: header fields other than type may be left out. */
export type RequestOf<M> = M extends MessageKind<infer K, infer H, infer A>
  ? { header: Partial<NlHeader> & { type: number }; attrs?: A } & { [P in K]?: Partial<H> }
  : never;

export function messageKind<const K extends string, H, A>(def: MessageKind<K, H, A>): MessageKind<K, H, A> {
  return def;
}

/** Checks the netlink header at buf[off] and returns the message's length (nlmsg_len). */
function checkHeader(buf: Buffer, off: number): number {
  if (buf.length - off < NLMSG_HDRLEN) throw new DecodeError(off, `${buf.length - off} bytes cannot hold a netlink header (16)`);
  const len = (buf[off]! | (buf[off + 1]! << 8) | (buf[off + 2]! << 16)) + buf[off + 3]! * 0x1000000;
  if (len < NLMSG_HDRLEN) throw new DecodeError(off, `netlink message length ${len} is shorter than its header`);
  if (len > buf.length - off) throw new DecodeError(off, `netlink message length ${len} overruns the buffer (${buf.length - off} bytes left)`);
  return len;
}

/** The header fields after nlmsg_len, of a header checkHeader has passed. */
function readHeader(buf: Buffer, off: number): NlHeader {
  return {
    type: buf[off + 4]! | (buf[off + 5]! << 8),
    flags: buf[off + 6]! | (buf[off + 7]! << 8),
    seq: (buf[off + 8]! | (buf[off + 9]! << 8) | (buf[off + 10]! << 16)) + buf[off + 11]! * 0x1000000,
    pid: (buf[off + 12]! | (buf[off + 13]! << 8) | (buf[off + 14]! << 16)) + buf[off + 15]! * 0x1000000,
  };
}

export function decodeHeader(buf: Buffer, off: number): NlHeader & { len: number } {
  const len = checkHeader(buf, off);
  const { type, flags, seq, pid } = readHeader(buf, off);
  return { len, type, flags, seq, pid };
}

function writeHeader(w: Writer, h: Partial<NlHeader> & { type: number }): number {
  const start = w.pos;
  w.u32(0);
  w.u16(h.type);
  w.u16(h.flags ?? 0);
  w.u32(h.seq ?? 0);
  w.u32(h.pid ?? 0);
  return start;
}

function finishMessage(w: Writer, start: number): void {
  w.align4();
  w.patchU32(start, w.pos - start);
}

type MessageMaker = (kind: string, header: NlHeader, fixed: unknown, attrs: unknown) => Message<string, unknown, unknown>;
const makers = new Map<string, MessageMaker>();

/**
 * The constructor of decoded messages whose header struct is named `key`: `{ kind, header, [key], attrs }`,
 * generated with the key as a literal so that every message of a kind has the same fast layout.
 */
function makerFor(key: string): MessageMaker {
  let make = makers.get(key);
  if (make === undefined) {
    // ("__proto__" in a literal would set the prototype, where the computed key defines a property.)
    if (key !== '__proto__') {
      make = compile<MessageMaker>([], `return function message(kind, header, fixed, attrs) {
  return { kind: kind, header: header, ${literal(key)}: fixed, attrs: attrs };
};`, []);
    }
    make ??= (kind, header, fixed, attrs) => ({ kind, header, [key]: fixed, attrs }) as Message<string, unknown, unknown>;
    makers.set(key, make);
  }
  return make;
}

/**
 * Decodes the message of a known kind at buf[off, off + header.len). With `attributes`, only those of
 * its top-level attributes (decodeSelectedAttrs): a partial message, not for re-encoding.
 */
export function decodeMessage<K extends string, H, A>(kind: MessageKind<K, H, A>, buf: Buffer, off = 0, attributes?: readonly string[]): Message<K, H, A> {
  const len = checkHeader(buf, off);
  const header = readHeader(buf, off);
  const body = off + NLMSG_HDRLEN;
  const end = off + len;
  const size = kind.header.size;
  const fixed = kind.header.decode(buf, body, Math.min(size, end - body), { siblings: {} });
  const from = body + ((size + 3) & ~3);
  const attrs = attributes ? decodeSelectedAttrs(kind.attrs, attributes as (keyof A & string)[], buf, from, end) : decodeAttrs(kind.attrs, buf, from, end);
  return makerFor(kind.headerKey)(kind.name, header, fixed, attrs) as Message<K, H, A>;
}

export function encodeMessageTo<K extends string, H, A>(w: Writer, kind: MessageKind<K, H, A>, msg: RequestOf<MessageKind<K, H, A>>): void {
  const start = writeHeader(w, msg.header);
  const fixed = (msg as Record<string, unknown>)[kind.headerKey] as Partial<H> | undefined;
  encodePartial(w, kind.header, fixed, { siblings: {} });
  w.align4();
  if (msg.attrs) encodeAttrs(w, kind.attrs, msg.attrs);
  finishMessage(w, start);
}

/**
 * The writer encodeMessage reuses: messages are built in it and copied out, so that encoding a message
 * allocates only its bytes. A nested call (a type's encoder encoding a message) gets a writer of its own.
 */
let spare: Writer | undefined;

export function encodeMessage<K extends string, H, A>(kind: MessageKind<K, H, A>, msg: RequestOf<MessageKind<K, H, A>>): Buffer {
  const w = spare ?? new Writer(256);
  spare = undefined;
  w.pos = 0;
  try {
    encodeMessageTo(w, kind, msg);
    return w.finish();
  } finally {
    // Keep it for the next message unless a huge one grew it.
    if (w.buf.length <= 1 << 16) spare = w;
  }
}

// ---- control messages: NLMSG_ERROR (errors and ACKs) and NLMSG_DONE ----

export const extAckAttrs = space('NLMSGERR_ATTR', {
  1: ['message', cstring],
  2: ['offset', u32],
  3: ['cookie', bytes],
  4: ['policy', bytes],
  5: ['missingType', u32],
  6: ['missingNest', u32],
});

export interface ErrorMessage {
  kind: 'error';
  header: NlHeader;
  /** 0 for an ACK, a negative errno for an error. */
  error: number;
  /** The header of the request this answers. */
  request: NlHeader & { len: number };
  /** The request's payload as echoed back (absent when the kernel capped it). */
  requestPayload?: Buffer;
  ack: ExtendedAck & Record<string, unknown>;
}

export interface DoneMessage {
  kind: 'done';
  header: NlHeader;
  /** The dump's status: 0, or a negative errno if the dump failed. */
  status: number;
  ack: ExtendedAck & Record<string, unknown>;
}

/** A message of a type no registered kind describes; kept whole. */
export interface RawMessage {
  kind: 'raw';
  header: NlHeader;
  payload: Buffer;
}

export function decodeError(buf: Buffer, off: number): ErrorMessage {
  const len = checkHeader(buf, off);
  const header = readHeader(buf, off);
  const end = off + len;
  const body = off + NLMSG_HDRLEN;
  if (len < NLMSG_HDRLEN + 4 + NLMSG_HDRLEN) throw new DecodeError(off, `NLMSG_ERROR of ${len} bytes cannot hold nlmsgerr`);
  const error = buf.readInt32LE(body);
  const reqLen = buf.readUInt32LE(body + 4);
  const request = {
    len: reqLen,
    type: buf.readUInt16LE(body + 8),
    flags: buf.readUInt16LE(body + 10),
    seq: buf.readUInt32LE(body + 12),
    pid: buf.readUInt32LE(body + 16),
  };
  let p = body + 4 + NLMSG_HDRLEN;
  let requestPayload: Buffer | undefined;
  if (!(header.flags & NLM_F.CAPPED)) {
    const payloadLen = reqLen - NLMSG_HDRLEN;
    if (payloadLen < 0 || p + payloadLen > end) throw new DecodeError(body + 4, `NLMSG_ERROR echoes a request of ${reqLen} bytes that does not fit`);
    requestPayload = copyBytes(buf, p, p + payloadLen);
    p += (payloadLen + 3) & ~3;
  }
  const ack = header.flags & NLM_F.ACK_TLVS ? decodeAttrs(extAckAttrs, buf, Math.min(p, end), end) : decodeAttrs(extAckAttrs, buf, end, end);
  const msg: ErrorMessage = { kind: 'error', header, error, request, ack };
  if (requestPayload) msg.requestPayload = requestPayload;
  return msg;
}

export function decodeDone(buf: Buffer, off: number): DoneMessage {
  const len = checkHeader(buf, off);
  const header = readHeader(buf, off);
  const end = off + len;
  const body = off + NLMSG_HDRLEN;
  const status = len >= NLMSG_HDRLEN + 4 ? buf.readInt32LE(body) : 0;
  const ack = decodeAttrs(extAckAttrs, buf, Math.min(body + 4, end), header.flags & NLM_F.ACK_TLVS ? end : Math.min(body + 4, end));
  return { kind: 'done', header, status, ack };
}

export function encodeError(msg: Omit<ErrorMessage, 'kind'>): Buffer {
  const w = new Writer(64);
  const start = writeHeader(w, msg.header);
  w.s32(msg.error);
  const r = msg.request;
  w.u32(r.len);
  w.u16(r.type);
  w.u16(r.flags);
  w.u32(r.seq);
  w.u32(r.pid);
  if (msg.requestPayload) {
    w.bytes(msg.requestPayload);
    w.align4();
  }
  if (msg.header.flags & NLM_F.ACK_TLVS) encodeAttrs(w, extAckAttrs, msg.ack);
  finishMessage(w, start);
  return w.finish();
}

export function encodeDone(msg: Omit<DoneMessage, 'kind'>): Buffer {
  const w = new Writer(32);
  const start = writeHeader(w, msg.header);
  w.s32(msg.status);
  if (msg.header.flags & NLM_F.ACK_TLVS) encodeAttrs(w, extAckAttrs, msg.ack);
  finishMessage(w, start);
  return w.finish();
}

/** A netlink family's message kinds, indexed by nlmsg type. */
export class Family {
  readonly byType = new Map<number, MessageKind<string, any, any>>();
  readonly typeNames = new Map<number, string>();

  constructor(readonly name: string, kinds: ReadonlyArray<MessageKind<string, any, any>>) {
    for (const kind of kinds) {
      for (const [t, n] of Object.entries(kind.types)) {
        this.byType.set(Number(t), kind);
        this.typeNames.set(Number(t), n);
      }
    }
  }

  typeName(type: number): string {
    if (type === NLMSG.ERROR) return 'NLMSG_ERROR';
    if (type === NLMSG.DONE) return 'NLMSG_DONE';
    return this.typeNames.get(type) ?? `type ${type}`;
  }
}

export type AnyMessage = Message<string, unknown, unknown> | ErrorMessage | DoneMessage | RawMessage;

/** Decodes one message of any kind the family knows, or an error/done/raw message. */
export function decodeAny(family: Family, buf: Buffer, off: number, attributes?: readonly string[]): AnyMessage {
  const len = checkHeader(buf, off);
  const type = buf[off + 4]! | (buf[off + 5]! << 8);
  if (type === NLMSG.ERROR) return decodeError(buf, off);
  if (type === NLMSG.DONE) return decodeDone(buf, off);
  const kind = family.byType.get(type);
  if (kind) return decodeMessage(kind, buf, off, attributes);
  return { kind: 'raw', header: readHeader(buf, off), payload: copyBytes(buf, off + NLMSG_HDRLEN, off + len) };
}

/** Decodes every message in a datagram (or a concatenation of them). */
export function decodeAll(family: Family, buf: Buffer): AnyMessage[] {
  const out: AnyMessage[] = [];
  let p = 0;
  while (p < buf.length) {
    const len = checkHeader(buf, p);
    out.push(decodeAny(family, buf, p));
    p += (len + 3) & ~3;
  }
  return out;
}

/** Encodes a message decoded by decodeAny back to bytes. */
export function encodeAny(family: Family, msg: AnyMessage): Buffer {
  switch (msg.kind) {
    case 'error': return encodeError(msg as ErrorMessage);
    case 'done': return encodeDone(msg as DoneMessage);
    case 'raw': {
      const m = msg as RawMessage;
      const w = new Writer(NLMSG_HDRLEN + m.payload.length + 4);
      const start = writeHeader(w, m.header);
      w.bytes(m.payload);
      finishMessage(w, start);
      return w.finish();
    }
    default: {
      const kind = family.byType.get(msg.header.type);
      if (!kind) throw new EncodeError(`${family.name}: no message kind for nlmsg type ${msg.header.type}`);
      return encodeMessage(kind, msg as never);
    }
  }
}
