import { DecodeError, EncodeError } from './errors.js';
import type { Writer } from './writer.js';

/** What a decoder of one attribute payload may look at besides its own bytes. */
export interface Context {
  /** The attributes decoded so far at the same level (for values whose type depends on a sibling). */
  readonly siblings: Record<string, unknown>;
}

/**
 * A payload type: decodes `len` bytes at `off` and encodes a value back.
 * Types with a fixed `size` accept longer payloads (the kernel grows structs); the surplus is kept so
 * that re-encoding reproduces the original bytes.
 */
export interface AttrType<T> {
  readonly kind: string;
  readonly size?: number;
  decode(buf: Buffer, off: number, len: number, ctx: Context): T;
  encode(w: Writer, value: T, ctx: Context): void;
  /** Whether encode(decode(payload)) reproduces the payload; defaults to a size check. */
  canonical?(buf: Buffer, off: number, len: number): boolean;
  /** The value a struct field takes when the caller leaves it out. */
  empty?(): T;
}

export type ValueOf<T> = T extends AttrType<infer V> ? V : never;

function need(len: number, size: number, off: number, kind: string): void {
  if (len < size) throw new DecodeError(off, `${kind} needs ${size} bytes, got ${len}`);
}

function scalar<T>(kind: string, size: number, read: (b: Buffer, o: number) => T, write: (w: Writer, v: T) => void,
  check: (v: unknown) => v is T): AttrType<T> {
  const zero = (size === 8 ? 0n : 0) as T;
  return {
    kind,
    size,
    empty: () => zero,
    decode(buf, off, len) {
      need(len, size, off, kind);
      return read(buf, off);
    },
    encode(w, v) {
      if (!check(v)) throw new EncodeError(`expected ${kind}, got ${describe(v)}`);
      write(w, v);
    },
  };
}

function describe(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : typeof v === 'object' ? (v === null ? 'null' : 'object') : `${typeof v} ${String(v)}`;
}

const intIn = (lo: number, hi: number) => (v: unknown): v is number => Number.isInteger(v) && (v as number) >= lo && (v as number) <= hi;
const bigIn = (lo: bigint, hi: bigint) => (v: unknown): v is bigint => typeof v === 'bigint' && v >= lo && v <= hi;

export const u8 = scalar('u8', 1, (b, o) => b.readUInt8(o), (w, v) => w.u8(v), intIn(0, 0xff));
export const u16 = scalar('u16', 2, (b, o) => b.readUInt16LE(o), (w, v) => w.u16(v), intIn(0, 0xffff));
export const u32 = scalar('u32', 4, (b, o) => b.readUInt32LE(o), (w, v) => w.u32(v), intIn(0, 0xffffffff));
export const s8 = scalar('s8', 1, (b, o) => b.readInt8(o), (w, v) => w.s8(v), intIn(-0x80, 0x7f));
export const s16 = scalar('s16', 2, (b, o) => b.readInt16LE(o), (w, v) => w.s16(v), intIn(-0x8000, 0x7fff));
export const s32 = scalar('s32', 4, (b, o) => b.readInt32LE(o), (w, v) => w.s32(v), intIn(-0x80000000, 0x7fffffff));
export const u64 = scalar('u64', 8, (b, o) => b.readBigUInt64LE(o), (w, v) => w.u64(v), bigIn(0n, 0xffffffffffffffffn));
export const s64 = scalar('s64', 8, (b, o) => b.readBigInt64LE(o), (w, v) => w.s64(v), bigIn(-(1n << 63n), (1n << 63n) - 1n));
/** Network byte order (the kernel's __be16/__be32/__be64). */
export const be16 = scalar('be16', 2, (b, o) => b.readUInt16BE(o), (w, v) => w.be16(v), intIn(0, 0xffff));
export const be32 = scalar('be32', 4, (b, o) => b.readUInt32BE(o), (w, v) => w.be32(v), intIn(0, 0xffffffff));
export const be64 = scalar('be64', 8, (b, o) => b.readBigUInt64BE(o), (w, v) => w.be64(v), bigIn(0n, 0xffffffffffffffffn));

/** A zero-length attribute whose presence means true (NLA_FLAG). Encoding false omits it. */
export const flag: AttrType<boolean> = {
  kind: 'flag',
  size: 0,
  decode: () => true,
  encode(_w, v) {
    if (typeof v !== 'boolean') throw new EncodeError(`expected flag (boolean), got ${describe(v)}`);
  },
};

/** A NUL-terminated string (NLA_NUL_STRING / nla_put_string). */
export const cstring: AttrType<string> = {
  kind: 'cstring',
  decode(buf, off, len) {
    const nul = buf.indexOf(0, off);
    const end = nul === -1 || nul >= off + len ? off + len : nul;
    return buf.toString('utf8', off, end);
  },
  encode(w, v) {
    if (typeof v !== 'string') throw new EncodeError(`expected string, got ${describe(v)}`);
    const n = Buffer.byteLength(v);
    w.ensure(n + 1);
    w.buf.write(v, w.pos, 'utf8');
    w.pos += n;
    w.u8(0);
  },
  canonical(buf, off, len) {
    return len > 0 && buf[off + len - 1] === 0 && buf.indexOf(0, off) === off + len - 1;
  },
};

/** Raw bytes, copied out of the receive buffer. */
export const bytes: AttrType<Buffer> = {
  kind: 'bytes',
  decode: (buf, off, len) => Buffer.from(buf.subarray(off, off + len)),
  encode(w, v) {
    if (!(v instanceof Uint8Array)) throw new EncodeError(`expected bytes (Buffer), got ${describe(v)}`);
    w.bytes(v);
  },
  canonical: () => true,
};

/** A link-layer address of any length, as colon-separated hex ("02:42:ac:11:00:02"). */
export const lladdr: AttrType<string> = {
  kind: 'lladdr',
  decode(buf, off, len) {
    let s = '';
    for (let i = 0; i < len; i++) s += (i ? ':' : '') + (buf[off + i]! < 16 ? '0' : '') + buf[off + i]!.toString(16);
    return s;
  },
  encode(w, v) {
    if (typeof v !== 'string' || !/^([0-9a-fA-F]{2}(:[0-9a-fA-F]{2})*)?$/.test(v)) {
      throw new EncodeError(`expected a link-layer address like "02:00:00:00:00:01", got ${describe(v)}`);
    }
    if (v === '') return;
    for (const part of v.split(':')) w.u8(parseInt(part, 16));
  },
  canonical: () => true,
};

/** An IPv4 (4 bytes) or IPv6 (16 bytes) address, as its usual text form. */
export const ipaddr: AttrType<string> = {
  kind: 'ipaddr',
  decode(buf, off, len) {
    if (len === 4) return `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`;
    if (len === 16) return formatIPv6(buf, off);
    throw new DecodeError(off, `an IP address is 4 or 16 bytes, got ${len}`);
  },
  encode(w, v) {
    const b = parseIP(v);
    if (!b) throw new EncodeError(`expected an IPv4 or IPv6 address, got ${describe(v)}`);
    w.bytes(b);
  },
  canonical: (_buf, _off, len) => len === 4 || len === 16,
};

export function formatIPv6(buf: Uint8Array, off: number): string {
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((buf[off + i]! << 8) | buf[off + i + 1]!);
  // IPv4-mapped addresses keep their dotted tail, as inet_ntop prints them.
  if (words.slice(0, 5).every((x) => x === 0) && words[5] === 0xffff) {
    return `::ffff:${buf[off + 12]}.${buf[off + 13]}.${buf[off + 14]}.${buf[off + 15]}`;
  }
  let bestAt = -1, bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) { bestAt = i; bestLen = j - i; }
    i = j;
  }
  const hex = words.map((x) => x.toString(16));
  if (bestAt < 0) return hex.join(':');
  return `${hex.slice(0, bestAt).join(':')}::${hex.slice(bestAt + bestLen).join(':')}`;
}

/** Parses an IPv4 or IPv6 address into 4 or 16 bytes, or returns undefined. */
export function parseIP(v: unknown): Buffer | undefined {
  if (typeof v !== 'string') return undefined;
  const v4 = parseIPv4(v);
  if (v4) return v4;
  return parseIPv6(v);
}

function parseIPv4(v: string): Buffer | undefined {
  const parts = v.split('.');
  if (parts.length !== 4) return undefined;
  const out = Buffer.alloc(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255) return undefined;
    out[i] = Number(p);
  }
  return out;
}

function parseIPv6(v: string): Buffer | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(v) || v.length < 2) return undefined;
  let tail: Buffer | undefined;
  let s = v;
  const lastColon = s.lastIndexOf(':');
  if (s.includes('.')) {
    tail = parseIPv4(s.slice(lastColon + 1));
    if (!tail) return undefined;
    s = `${s.slice(0, lastColon + 1)}0:0`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const words = (part: string) => (part === '' ? [] : part.split(':'));
  const head = words(halves[0]!);
  const rest = halves.length === 2 ? words(halves[1]!) : [];
  const fill = 8 - head.length - rest.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return undefined;
  const all = [...head, ...Array<string>(halves.length === 2 ? fill : 0).fill('0'), ...rest];
  const out = Buffer.alloc(16);
  for (let i = 0; i < 8; i++) {
    const wd = all[i]!;
    if (!/^[0-9a-fA-F]{1,4}$/.test(wd)) return undefined;
    out.writeUInt16BE(parseInt(wd, 16), i * 2);
  }
  if (tail) tail.copy(out, 12);
  return out;
}

/** Fixed-size padding inside a struct: decoded to nothing, encoded as zeros. */
export interface Pad extends AttrType<undefined> { readonly pad: true }
export function pad(size: number): Pad {
  return { kind: `pad(${size})`, size, pad: true, decode: () => undefined, encode: (w) => w.zeros(size) };
}

/** A fixed-size byte array inside a struct. */
export function fixedBytes(size: number): AttrType<Buffer> {
  return {
    kind: `bytes(${size})`,
    size,
    decode: (buf, off) => Buffer.from(buf.subarray(off, off + size)),
    empty: () => Buffer.alloc(size),
    encode(w, v) {
      if (!(v instanceof Uint8Array) || v.length !== size) throw new EncodeError(`expected ${size} bytes, got ${describe(v)}`);
      w.bytes(v);
    },
  };
}

/** Bytes past the end of a struct that this code does not know (the kernel grew it); kept for re-encoding. */
export const TAIL: unique symbol = Symbol('netlink.tail');

type StructFields = Record<string, AttrType<any>>;
export type StructOf<F extends StructFields> = {
  -readonly [K in keyof F as F[K] extends Pad ? never : K]: ValueOf<F[K]>;
};

export interface StructType<T> extends AttrType<T> {
  readonly size: number;
  readonly fields: ReadonlyArray<readonly [string, AttrType<any>, number]>;
  /** A value with every field zero. */
  zero(): T;
}

/**
 * A C struct of fixed-size fields, in declaration order with no implicit padding (declare pad()).
 * A longer payload is accepted: the surplus is kept under TAIL and written back on encode.
 */
export function struct<const F extends StructFields>(name: string, fields: F): StructType<StructOf<F>> {
  const list: Array<readonly [string, AttrType<any>, number]> = [];
  let size = 0;
  for (const [key, type] of Object.entries(fields)) {
    if (type.size === undefined) throw new Error(`struct ${name}.${key}: field type ${type.kind} has no fixed size`);
    list.push([key, type, size]);
    size += type.size;
  }
  const ctx: Context = { siblings: {} };
  return {
    kind: `struct ${name}`,
    size,
    fields: list,
    decode(buf, off, len) {
      need(len, size, off, `struct ${name}`);
      const out: Record<string, unknown> = {};
      for (const [key, type, at] of list) {
        const v = type.decode(buf, off + at, type.size!, ctx);
        if (v !== undefined) out[key] = v;
      }
      if (len > size) Object.defineProperty(out, TAIL, { value: Buffer.from(buf.subarray(off + size, off + len)) });
      return out as StructOf<F>;
    },
    encode(w, v) {
      if (typeof v !== 'object' || v === null) throw new EncodeError(`struct ${name}: expected an object, got ${describe(v)}`);
      const rec = v as Record<string | symbol, unknown>;
      for (const [key, type] of list) {
        const fv = rec[key];
        if ((type as Pad).pad) { type.encode(w, undefined, ctx); continue; }
        try {
          const value = fv ?? type.empty?.();
          if (value === undefined) throw new EncodeError('missing');
          type.encode(w, value, ctx);
        } catch (e) {
          if (e instanceof EncodeError) throw new EncodeError(`struct ${name}.${key}: ${e.message}`);
          throw e;
        }
      }
      const tail = rec[TAIL];
      if (tail instanceof Uint8Array) w.bytes(tail);
    },
    canonical: (_buf, _off, len) => len >= size,
    zero() {
      const out: Record<string, unknown> = {};
      for (const [key, type] of list) {
        if ((type as Pad).pad) continue;
        out[key] = type.empty?.();
      }
      return out as StructOf<F>;
    },
  };
}

/** An attribute made of a packed array of fixed-size elements (e.g. an array of u32). */
export function arrayOf<T>(element: AttrType<T>): AttrType<T[]> {
  const size = element.size;
  if (size === undefined || size === 0) throw new Error(`arrayOf(${element.kind}): element needs a fixed non-zero size`);
  return {
    kind: `${element.kind}[]`,
    decode(buf, off, len, ctx) {
      if (len % size !== 0) throw new DecodeError(off, `array of ${element.kind}: ${len} bytes is not a multiple of ${size}`);
      const out: T[] = [];
      for (let p = off; p < off + len; p += size) out.push(element.decode(buf, p, size, ctx));
      return out;
    },
    encode(w, v, ctx) {
      if (!Array.isArray(v)) throw new EncodeError(`expected an array of ${element.kind}, got ${describe(v)}`);
      for (const x of v) element.encode(w, x, ctx);
    },
    canonical: (_buf, _off, len) => len % size === 0,
  };
}
