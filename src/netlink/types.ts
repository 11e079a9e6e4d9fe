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

// ---- what the table compilers (struct() here, AttrSpace in attributes.ts) know about the core types ----
//
// The tables stay declarative: struct() and space() take the same types as ever. A table that has been
// used COMPILE_AFTER times is compiled into one function specialised for it (see compile()), which reads
// and writes the core types below inline instead of calling decode()/encode() through the type object.
// Before that, or where code generation is disallowed, the generic code walks the table. Both behave the
// same, down to every error message and offset.

/** @internal A fixed-size number type that compiled tables read and write inline. */
export interface Scalar<T> {
  readonly size: number;
  /** Reads the value at b[o] (b holds at least `size` bytes there). */
  readonly read: (b: Buffer, o: number) => T;
  /** The same read as a JavaScript expression over the identifiers `b` and `o`, for generated code. */
  readonly expr: (b: string, o: string) => string;
  /** Whether `v` is a value of this type (what encode() accepts). */
  readonly fits: (v: unknown) => v is T;
  /** Writes a value that `fits` at b[o] (b has room). */
  readonly put: (b: Buffer, o: number, v: T) => void;
}

const scalars = new WeakMap<AttrType<unknown>, Scalar<any>>();

/** The inline description of a core number type, if `type` is one. */
function scalarOf(type: AttrType<unknown>): Scalar<unknown> | undefined {
  return scalars.get(type);
}

/** Core types whose decode() never returns undefined and never reads its context. */
const plainTypes = new WeakSet<AttrType<unknown>>();
/** Declares that `type` decodes to a value (never undefined) without reading its context. */
function markPlain<T extends AttrType<any>>(type: T): T {
  plainTypes.add(type);
  return type;
}
/** Whether `type` is a core number type or was declared with markPlain. */
function isPlain(type: AttrType<unknown>): boolean {
  return plainTypes.has(type) || scalars.has(type);
}

let codegen: boolean | undefined;

/**
 * How many times a table is used through its generic code before it is compiled. Compiling
 * costs more than a few calls save: a short-lived process (the CNI plugin) decodes a handful of messages
 * and never pays for it; the agent, and anything else that encodes or decodes in bulk, soon does.
 */
const COMPILE_AFTER = 16;

/**
 * Builds a function from generated source, or returns undefined where code generation from
 * strings is disallowed (node --disallow-code-generation-from-strings): the callers then keep their
 * generic, table-walking implementation, which behaves the same, only slower. The generated source
 * never contains data from outside the tables: names are emitted as JSON string literals, numbers as
 * integers checked here, and everything else is passed in through `args`.
 */
function compile<F>(params: readonly string[], body: string, args: readonly unknown[]): F | undefined {
  if (codegen === false) return undefined;
  let factory: (...a: unknown[]) => F;
  try {
    // The readers that Scalar.expr() refers to are in scope of every generated function.
    factory = new Function('readers', ...params, `'use strict';\nconst { ${Object.keys(readers).join(', ')} } = readers;\n${body}`) as (...a: unknown[]) => F;
    codegen = true;
  } catch (e) {
    if (e instanceof EvalError) {
      codegen = false;
      return undefined;
    }
    throw e;
  }
  return factory(readers, ...args);
}

/** A property name as a JavaScript string literal, for generated code. */
function literal(name: string): string {
  if (typeof name !== 'string') throw new TypeError(`not a property name: ${String(name)}`);
  return JSON.stringify(name);
}

/** A non-negative integer for generated code. */
function int(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new TypeError(`not a non-negative integer: ${n}`);
  return String(n);
}

/** The error a fixed-size type raises on a payload shorter than itself. */
function tooShort(off: number, len: number, size: number, kind: string): DecodeError {
  return new DecodeError(off, `${kind} needs ${size} bytes, got ${len}`);
}

function scalar<T>(kind: string, spec: Scalar<T>): AttrType<T> {
  const { size, read, fits, put } = spec;
  const zero = (size === 8 ? 0n : 0) as T;
  const type: AttrType<T> = {
    kind,
    size,
    empty: () => zero,
    decode(buf, off, len) {
      if (len < size) throw tooShort(off, len, size, kind);
      return read(buf, off);
    },
    encode(w, v) {
      if (!fits(v)) throw new EncodeError(`expected ${kind}, got ${describe(v)}`);
      w.ensure(size);
      put(w.buf, w.pos, v);
      w.pos += size;
    },
  };
  scalars.set(type, spec);
  return type;
}

/** How an unexpected value is shown in EncodeError messages. */
function describe(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : typeof v === 'object' ? (v === null ? 'null' : 'object') : `${typeof v} ${String(v)}`;
}

// Range checks: an integer of the type's range (-0 included, as Number.isInteger and >= accept it).
const isU8 = (v: unknown): v is number => typeof v === 'number' && (v & 0xff) === v;
const isU16 = (v: unknown): v is number => typeof v === 'number' && (v & 0xffff) === v;
const isU32 = (v: unknown): v is number => typeof v === 'number' && v >>> 0 === v;
const isS8 = (v: unknown): v is number => typeof v === 'number' && (v << 24) >> 24 === v;
const isS16 = (v: unknown): v is number => typeof v === 'number' && (v << 16) >> 16 === v;
const isS32 = (v: unknown): v is number => typeof v === 'number' && (v | 0) === v;
const bigIn = (lo: bigint, hi: bigint) => (v: unknown): v is bigint => typeof v === 'bigint' && v >= lo && v <= hi;
const isU64 = bigIn(0n, 0xffffffffffffffffn);
const isS64 = bigIn(-(1n << 63n), (1n << 63n) - 1n);

const put16le = (b: Buffer, o: number, v: number) => {
  b[o] = v;
  b[o + 1] = v >>> 8;
};
const put32le = (b: Buffer, o: number, v: number) => {
  b[o] = v;
  b[o + 1] = v >>> 8;
  b[o + 2] = v >>> 16;
  b[o + 3] = v >>> 24;
};
const put16be = (b: Buffer, o: number, v: number) => {
  b[o] = v >>> 8;
  b[o + 1] = v;
};
const put32be = (b: Buffer, o: number, v: number) => {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
};

export const u8 = scalar('u8', { size: 1, read: (b, o) => b[o]!, expr: (b, o) => `${b}[${o}]`, fits: isU8, put: (b, o, v) => { b[o] = v; } });
export const u16 = scalar('u16', {
  size: 2, read: (b, o) => b[o]! | (b[o + 1]! << 8), expr: (b, o) => `(${b}[${o}] | ${b}[${o} + 1] << 8)`, fits: isU16, put: put16le,
});
export const u32 = scalar('u32', {
  size: 4,
  read: (b, o) => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16)) + b[o + 3]! * 0x1000000,
  expr: (b, o) => `((${b}[${o}] | ${b}[${o} + 1] << 8 | ${b}[${o} + 2] << 16) + ${b}[${o} + 3] * 16777216)`,
  fits: isU32,
  put: put32le,
});
export const s8 = scalar('s8', { size: 1, read: (b, o) => (b[o]! << 24) >> 24, expr: (b, o) => `(${b}[${o}] << 24 >> 24)`, fits: isS8, put: (b, o, v) => { b[o] = v; } });
export const s16 = scalar('s16', {
  size: 2, read: (b, o) => ((b[o]! | (b[o + 1]! << 8)) << 16) >> 16, expr: (b, o) => `((${b}[${o}] | ${b}[${o} + 1] << 8) << 16 >> 16)`, fits: isS16, put: put16le,
});
export const s32 = scalar('s32', {
  size: 4,
  read: (b, o) => b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24),
  expr: (b, o) => `(${b}[${o}] | ${b}[${o} + 1] << 8 | ${b}[${o} + 2] << 16 | ${b}[${o} + 3] << 24)`,
  fits: isS32,
  put: put32le,
});
// 64-bit counters are mostly small: those below 256 come from a table rather than a new BigInt each.
const smallBigInts = Array.from({ length: 256 }, (_, i) => BigInt(i));
const readers = {
  readU64(b: Buffer, o: number): bigint {
    if ((b[o + 1]! | b[o + 2]! | b[o + 3]! | b[o + 4]! | b[o + 5]! | b[o + 6]! | b[o + 7]!) === 0) return smallBigInts[b[o]!]!;
    return b.readBigUInt64LE(o);
  },
  readS64(b: Buffer, o: number): bigint {
    if ((b[o + 1]! | b[o + 2]! | b[o + 3]! | b[o + 4]! | b[o + 5]! | b[o + 6]! | b[o + 7]!) === 0) return smallBigInts[b[o]!]!;
    return b.readBigInt64LE(o);
  },
  readBe64(b: Buffer, o: number): bigint {
    if ((b[o]! | b[o + 1]! | b[o + 2]! | b[o + 3]! | b[o + 4]! | b[o + 5]! | b[o + 6]!) === 0) return smallBigInts[b[o + 7]!]!;
    return b.readBigUInt64BE(o);
  },
};

export const u64 = scalar('u64', {
  size: 8, read: readers.readU64, expr: (b, o) => `readU64(${b}, ${o})`, fits: isU64, put: (b, o, v) => { b.writeBigUInt64LE(v, o); },
});
export const s64 = scalar('s64', {
  size: 8, read: readers.readS64, expr: (b, o) => `readS64(${b}, ${o})`, fits: isS64, put: (b, o, v) => { b.writeBigInt64LE(v, o); },
});
/** Network byte order (the kernel's __be16/__be32/__be64). */
export const be16 = scalar('be16', {
  size: 2, read: (b, o) => (b[o]! << 8) | b[o + 1]!, expr: (b, o) => `(${b}[${o}] << 8 | ${b}[${o} + 1])`, fits: isU16, put: put16be,
});
export const be32 = scalar('be32', {
  size: 4,
  read: (b, o) => b[o]! * 0x1000000 + ((b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!),
  expr: (b, o) => `(${b}[${o}] * 16777216 + (${b}[${o} + 1] << 16 | ${b}[${o} + 2] << 8 | ${b}[${o} + 3]))`,
  fits: isU32,
  put: put32be,
});
export const be64 = scalar('be64', {
  size: 8, read: readers.readBe64, expr: (b, o) => `readBe64(${b}, ${o})`, fits: isU64, put: (b, o, v) => { b.writeBigUInt64BE(v, o); },
});

/** A zero-length attribute whose presence means true (NLA_FLAG). Encoding false omits it. */
export const flag: AttrType<boolean> = markPlain({
  kind: 'flag',
  size: 0,
  decode: () => true,
  encode(_w, v) {
    if (typeof v !== 'boolean') throw new EncodeError(`expected flag (boolean), got ${describe(v)}`);
  },
});

/** Where the last readCString() stopped: the offset of the NUL it found, or the end of the payload. */
const cstringEnd = { at: 0 };

/** The text before the first NUL of buf[off, off + len), as cstring decodes it; sets cstringEnd. */
function readCString(buf: Buffer, off: number, len: number): string {
  const lim = off + len;
  let end = off;
  let ascii = true;
  for (; end < lim; end++) {
    const c = buf[end]!;
    if (c === 0) break;
    if (c > 0x7f) ascii = false;
  }
  cstringEnd.at = end;
  if (ascii && end - off <= 24) {
    let s = '';
    for (let i = off; i < end; i++) s += String.fromCharCode(buf[i]!);
    return s;
  }
  return buf.toString('utf8', off, end);
}

/** Writes a string and its NUL as cstring encodes it (the caller checked it is a string). */
function writeCString(w: Writer, v: string): void {
  const n = v.length;
  if (n <= 64) {
    w.ensure(n + 1);
    const b = w.buf;
    const p = w.pos;
    let i = 0;
    for (; i < n; i++) {
      const c = v.charCodeAt(i);
      if (c > 0x7f) break;
      b[p + i] = c;
    }
    if (i === n) {
      b[p + n] = 0;
      w.pos = p + n + 1;
      return;
    }
  }
  const bytes = Buffer.byteLength(v);
  w.ensure(bytes + 1);
  w.buf.write(v, w.pos, 'utf8');
  w.pos += bytes;
  w.buf[w.pos++] = 0;
}

/** A NUL-terminated string (NLA_NUL_STRING / nla_put_string). */
export const cstring: AttrType<string> = markPlain({
  kind: 'cstring',
  decode: readCString,
  encode(w, v) {
    if (typeof v !== 'string') throw new EncodeError(`expected string, got ${describe(v)}`);
    writeCString(w, v);
  },
  canonical(buf, off, len) {
    if (len === 0 || buf[off + len - 1] !== 0) return false;
    for (let i = off; i < off + len - 1; i++) if (buf[i] === 0) return false;
    return true;
  },
});

/** A copy of buf[start, end), sharing no memory with buf. */
function copyBytes(buf: Uint8Array, start: number, end: number): Buffer {
  const out = Buffer.allocUnsafe(end - start);
  out.set(buf.subarray(start, end));
  return out;
}

/** Raw bytes, copied out of the receive buffer. */
export const bytes: AttrType<Buffer> = markPlain({
  kind: 'bytes',
  decode: (buf, off, len) => copyBytes(buf, off, off + len),
  encode(w, v) {
    if (!(v instanceof Uint8Array)) throw new EncodeError(`expected bytes (Buffer), got ${describe(v)}`);
    w.bytes(v);
  },
  canonical: () => true,
});

/** Two hex digits per byte, and the shortest hex of each byte (for IPv6 words). */
const HEX2 = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16));
const DEC = Array.from({ length: 256 }, (_, i) => String(i));

/** buf[off, off + len) as colon-separated hex, as lladdr decodes it. */
function formatLladdr(buf: Uint8Array, off: number, len: number): string {
  if (len === 0) return '';
  let s = HEX2[buf[off]!]!;
  for (let i = 1; i < len; i++) s += ':' + HEX2[buf[off + i]!]!;
  return s;
}

/** The value of a hex digit's char code, or -1. */
function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const l = c | 0x20; // ASCII lower case
  if (l >= 97 && l <= 102) return l - 87;
  return -1;
}

/**
 * Writes a link-layer address given as text ("02:42:ac:11:00:02", or "" for none) at b[at],
 * and returns its length in bytes, or -1 if the text is not one (b needs (v.length + 1) / 3 bytes there).
 */
function putLladdr(b: Uint8Array, at: number, v: string): number {
  const n = v.length;
  if (n === 0) return 0;
  if (n % 3 !== 2) return -1;
  let k = 0;
  for (let i = 0; i < n; i += 3) {
    if (i > 0 && v.charCodeAt(i - 1) !== 58) return -1;
    const hi = hexDigit(v.charCodeAt(i));
    const lo = hexDigit(v.charCodeAt(i + 1));
    if (hi < 0 || lo < 0) return -1;
    b[at + k++] = (hi << 4) | lo;
  }
  return k;
}

/** A link-layer address of any length, as colon-separated hex ("02:42:ac:11:00:02"). */
export const lladdr: AttrType<string> = markPlain({
  kind: 'lladdr',
  decode: formatLladdr,
  encode(w, v) {
    if (typeof v === 'string') {
      w.ensure(v.length);
      const n = putLladdr(w.buf, w.pos, v);
      if (n >= 0) {
        w.pos += n;
        return;
      }
    }
    throw new EncodeError(`expected a link-layer address like "02:00:00:00:00:01", got ${describe(v)}`);
  },
  canonical: () => true,
});

/** The text form of the IPv4 address at buf[off, off + 4). */
function formatIPv4(buf: Uint8Array, off: number): string {
  return DEC[buf[off]!]! + '.' + DEC[buf[off + 1]!]! + '.' + DEC[buf[off + 2]!]! + '.' + DEC[buf[off + 3]!]!;
}

/** The text form of a 4- or 16-byte address, as ipaddr decodes it (the inverse of parseIP). */
export function formatIP(buf: Buffer, off: number, len: number): string {
  if (len === 4) return formatIPv4(buf, off);
  if (len === 16) return formatIPv6(buf, off);
  throw new DecodeError(off, `an IP address is 4 or 16 bytes, got ${len}`);
}

/** An IPv4 (4 bytes) or IPv6 (16 bytes) address, as its usual text form. */
export const ipaddr: AttrType<string> = markPlain({
  kind: 'ipaddr',
  decode: formatIP,
  encode(w, v) {
    w.ensure(16);
    const n = putIP(w.buf, w.pos, v);
    if (n === 0) throw new EncodeError(`expected an IPv4 or IPv6 address, got ${describe(v)}`);
    w.pos += n;
  },
  canonical: (_buf, _off, len) => len === 4 || len === 16,
});

export function formatIPv6(buf: Uint8Array, off: number): string {
  const word = (i: number) => (buf[off + 2 * i]! << 8) | buf[off + 2 * i + 1]!;
  // IPv4-mapped addresses keep their dotted tail, as inet_ntop prints them.
  if (word(0) === 0 && word(1) === 0 && word(2) === 0 && word(3) === 0 && word(4) === 0 && word(5) === 0xffff) {
    return `::ffff:${formatIPv4(buf, off + 12)}`;
  }
  // The longest run of two or more zero words (the first of equals) becomes "::".
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (word(i) !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && word(j) === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestAt) {
      s += '::';
      i += bestLen - 1;
      continue;
    }
    if (i > 0 && i !== bestAt + bestLen) s += ':';
    const hi = buf[off + 2 * i]!;
    const lo = buf[off + 2 * i + 1]!;
    s += hi === 0 ? HEX[lo]! : HEX[hi]! + HEX2[lo]!;
  }
  return s;
}

const ipScratch = new Uint8Array(16);

/** Parses an IPv4 or IPv6 address into 4 or 16 bytes, or returns undefined. */
export function parseIP(v: unknown): Buffer | undefined {
  const n = putIP(ipScratch, 0, v);
  if (n === 0) return undefined;
  const out = Buffer.alloc(n);
  out.set(ipScratch.subarray(0, n));
  return out;
}

/**
 * Writes an IPv4 or IPv6 address given as text at b[at] (b needs 16 bytes there) and returns
 * its length, 4 or 16, or 0 if `v` is not an address (bytes at b[at, at + 16) may then be overwritten).
 */
function putIP(b: Uint8Array, at: number, v: unknown): number {
  if (typeof v !== 'string') return 0;
  if (putIPv4(b, at, v, 0, v.length)) return 4;
  return putIPv6(b, at, v) ? 16 : 0;
}

/** Dotted quad in v[from, to): four decimal numbers 0-255 without leading zeros. */
function putIPv4(b: Uint8Array, at: number, v: string, from: number, to: number): boolean {
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = from; i < to; i++) {
    const c = v.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || part === 3) return false;
      b[at + part++] = value;
      value = 0;
      digits = 0;
      continue;
    }
    if (c < 48 || c > 57) return false;
    if (digits > 0 && value === 0) return false; // a leading zero
    value = value * 10 + (c - 48);
    digits++;
    if (value > 255) return false;
  }
  if (digits === 0 || part !== 3) return false;
  b[at + 3] = value;
  return true;
}

/** Colon-separated groups of 1 to 4 hex digits in s[from, to) ("" is none), written as words from word `first`. */
function putWords(b: Uint8Array, at: number, s: string, from: number, to: number, first: number, max: number): number {
  if (from === to) return 0;
  let count = 0;
  let value = 0;
  let digits = 0;
  for (let i = from; i <= to; i++) {
    const c = i === to ? 58 : s.charCodeAt(i);
    if (c === 58) {
      if (digits === 0 || count === max) return -1;
      const o = at + 2 * (first + count++);
      b[o] = value >>> 8;
      b[o + 1] = value;
      value = 0;
      digits = 0;
      continue;
    }
    const d = hexDigit(c);
    if (d < 0 || ++digits > 4) return -1;
    value = (value << 4) | d;
  }
  return count;
}

const v4Tail = new Uint8Array(4);

function putIPv6(b: Uint8Array, at: number, v: string): boolean {
  if (v.length < 2) return false;
  let s = v;
  const dotted = v.includes('.');
  if (dotted) {
    // An IPv4 tail ("::ffff:10.1.2.3") is read as two words of zeros, then written over them.
    const lastColon = v.lastIndexOf(':');
    if (!putIPv4(v4Tail, 0, v, lastColon + 1, v.length)) return false;
    s = `${v.slice(0, lastColon + 1)}0:0`;
  }
  const gap = s.indexOf('::');
  if (gap === -1) {
    if (putWords(b, at, s, 0, s.length, 0, 8) !== 8) return false;
  } else {
    if (s.indexOf('::', gap + 2) !== -1) return false;
    const head = putWords(b, at, s, 0, gap, 0, 7);
    if (head < 0) return false;
    const rest = putWords(b, at, s, gap + 2, s.length, head, 7 - head);
    if (rest < 0) return false;
    // Move the words after "::" to the end and zero the words it stands for.
    const from = at + 2 * head;
    const to = at + 16 - 2 * rest;
    b.copyWithin(to, from, from + 2 * rest);
    for (let i = from; i < to; i++) b[i] = 0;
  }
  if (dotted) b.set(v4Tail, at + 12);
  return true;
}

/** Fixed-size padding inside a struct: decoded to nothing, encoded as zeros. */
export interface Pad extends AttrType<undefined> { readonly pad: true }
export function pad(size: number): Pad {
  return { kind: `pad(${size})`, size, pad: true, decode: () => undefined, encode: (w) => w.zeros(size) };
}

/** A fixed-size byte array inside a struct. */
export function fixedBytes(size: number): AttrType<Buffer> {
  return markPlain({
    kind: `bytes(${size})`,
    size,
    decode: (buf, off) => copyBytes(buf, off, off + size),
    empty: () => Buffer.alloc(size),
    encode(w, v) {
      if (!(v instanceof Uint8Array) || v.length !== size) throw new EncodeError(`expected ${size} bytes, got ${describe(v)}`);
      w.bytes(v);
    },
  });
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

/** What struct() compiles a field into. */
interface StructField {
  readonly key: string;
  readonly type: AttrType<any>;
  readonly at: number;
  readonly size: number;
  readonly pad: boolean;
  readonly scalar: Scalar<unknown> | undefined;
}

/**
 * Encoders of request headers (nlmsghdr payloads, VETH_INFO_PEER's ifinfomsg): like encode, but
 * from a partial value whose missing fields are zero, as `{ ...zero(), ...given }` would have it.
 */
const partialEncoders = new WeakMap<StructType<unknown>, (w: Writer, given: unknown) => void>();

/** Encodes `given` (an object, or nothing) as `{ ...header.zero(), ...given }`. */
function encodePartial<H>(w: Writer, header: StructType<H>, given: unknown, ctx: Context): void {
  const fast = partialEncoders.get(header as StructType<unknown>);
  if (fast && (given === undefined || given === null || isPlainObject(given))) fast(w, given);
  else header.encode(w, { ...header.zero(), ...(given as object) } as H, ctx);
}

function isPlainObject(v: unknown): v is Record<string | symbol, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

const NO_FIELDS: Record<string | symbol, unknown> = Object.freeze({});

/**
 * A C struct of fixed-size fields, in declaration order with no implicit padding (declare pad()).
 * A longer payload is accepted: the surplus is kept under TAIL and written back on encode.
 */
export function struct<const F extends StructFields>(name: string, fields: F): StructType<StructOf<F>> {
  const list: Array<readonly [string, AttrType<any>, number]> = [];
  const compiled: StructField[] = [];
  let size = 0;
  for (const [key, type] of Object.entries(fields)) {
    if (type.size === undefined) throw new Error(`struct ${name}.${key}: field type ${type.kind} has no fixed size`);
    list.push([key, type, size]);
    compiled.push({ key, type, at: size, size: type.size, pad: (type as Pad).pad === true, scalar: scalars.get(type) });
    size += type.size;
  }
  const kind = `struct ${name}`;
  const ctx: Context = { siblings: {} };
  const present = compiled.filter((f) => !f.pad);

  let decoder: ((buf: Buffer, off: number, len: number) => StructOf<F>) | undefined;
  const generic = (buf: Buffer, off: number, len: number): StructOf<F> => {
    if (len < size) throw tooShort(off, len, size, kind);
    const out: Record<string, unknown> = {};
    for (let i = 0; i < present.length; i++) {
      const f = present[i]!;
      const v = f.scalar ? f.scalar.read(buf, off + f.at) : f.type.decode(buf, off + f.at, f.size, ctx);
      if (v !== undefined) out[f.key] = v;
    }
    if (len > size) Object.defineProperty(out, TAIL, { value: copyBytes(buf, off + size, off + len) });
    return out as StructOf<F>;
  };
  const compileDecoder = () => compileStructDecoder<StructOf<F>>(kind, size, present, ctx) ?? generic;
  let decodes = 0;

  // Writes the fields from `rec`, each missing one as its type's empty value (without the tail).
  type FieldsWriter = (w: Writer, rec: Record<string | symbol, unknown>) => void;
  let fieldsWriter: FieldsWriter | undefined;
  let writes = 0;
  const writeFields: FieldsWriter = (w, rec) => {
    if (fieldsWriter !== undefined) return fieldsWriter(w, rec);
    if (++writes >= COMPILE_AFTER) fieldsWriter = compileStructWriter(name, size, compiled) ?? genericWriteFields;
    return genericWriteFields(w, rec);
  };
  const genericWriteFields: FieldsWriter = (w, rec) => {
    let i = 0;
    try {
      for (; i < compiled.length; i++) {
        const f = compiled[i]!;
        if (f.pad) {
          f.type.encode(w, undefined, ctx);
          continue;
        }
        let value = rec[f.key];
        if (value === undefined || value === null) {
          value = f.type.empty?.();
          if (value === undefined) throw new EncodeError('missing');
        }
        const s = f.scalar;
        if (s) {
          if (!s.fits(value)) throw new EncodeError(`expected ${f.type.kind}, got ${describe(value)}`);
          w.ensure(f.size);
          s.put(w.buf, w.pos, value);
          w.pos += f.size;
        } else {
          f.type.encode(w, value, ctx);
        }
      }
    } catch (e) {
      if (e instanceof EncodeError) throw new EncodeError(`struct ${name}.${compiled[i]!.key}: ${e.message}`);
      throw e;
    }
  };

  const type: StructType<StructOf<F>> = {
    kind,
    size,
    fields: list,
    decode(buf, off, len) {
      if (decoder !== undefined) return decoder(buf, off, len);
      if (++decodes >= COMPILE_AFTER) decoder = compileDecoder();
      return generic(buf, off, len);
    },
    encode(w, v) {
      if (typeof v !== 'object' || v === null) throw new EncodeError(`struct ${name}: expected an object, got ${describe(v)}`);
      const rec = v as Record<string | symbol, unknown>;
      writeFields(w, rec);
      const tail = rec[TAIL];
      if (tail instanceof Uint8Array) w.bytes(tail);
    },
    canonical: (_buf, _off, len) => len >= size,
    zero() {
      const out: Record<string, unknown> = {};
      for (const f of present) out[f.key] = f.type.empty?.();
      return out as StructOf<F>;
    },
  };
  partialEncoders.set(type as StructType<unknown>, (w, given) => {
    const rec = (given ?? NO_FIELDS) as Record<string | symbol, unknown>;
    writeFields(w, rec);
    // The spread `{ ...zero(), ...given }` keeps a tail only if it is an enumerable property of `given`.
    const tail = rec[TAIL];
    if (tail instanceof Uint8Array && Object.prototype.propertyIsEnumerable.call(rec, TAIL)) w.bytes(tail);
  });
  return markPlain(type);
}

/**
 * Generates a struct's decoder: one object literal with a property per field, read inline for number
 * fields. Fields of other types (which may decode to undefined, and are then left out) follow as
 * statements, so that the keys keep their declaration order.
 */
function compileStructDecoder<T>(kind: string, size: number, fields: readonly StructField[], ctx: Context): ((buf: Buffer, off: number, len: number) => T) | undefined {
  const inLiteral: string[] = [];
  const after: string[] = [];
  fields.forEach((f, i) => {
    const at = `off + ${int(f.at)}`;
    if (after.length === 0 && f.scalar) {
      inLiteral.push(`${literal(f.key)}: ${f.scalar.expr('buf', `(${at})`)}`);
    } else if (f.scalar) {
      after.push(`out[${literal(f.key)}] = ${f.scalar.expr('buf', `(${at})`)};`);
    } else if (isPlain(f.type)) {
      after.push(`out[${literal(f.key)}] = T[${int(i)}].decode(buf, ${at}, ${int(f.size)}, ctx);`);
    } else {
      after.push(`v = T[${int(i)}].decode(buf, ${at}, ${int(f.size)}, ctx);`, `if (v !== undefined) out[${literal(f.key)}] = v;`);
    }
  });
  const body = `
return function decodeStruct(buf, off, len) {
  if (len < ${int(size)}) throw tooShort(off, len, ${int(size)}, kind);
  const out = { ${inLiteral.join(', ')} };
  let v;
  ${after.join('\n  ')}
  if (len > ${int(size)}) tail(out, buf, off + ${int(size)}, off + len);
  return out;
};`;
  const tail = (out: object, buf: Buffer, start: number, end: number) => Object.defineProperty(out, TAIL, { value: copyBytes(buf, start, end) });
  return compile(['T', 'ctx', 'kind', 'tooShort', 'tail'], body, [fields.map((f) => f.type), ctx, kind, tooShort, tail]);
}

/**
 * Generates the encoder of a struct made only of numbers and padding (request headers, mostly): one
 * straight run of range checks and stores, inside one check that the writer has room.
 */
function compileStructWriter(name: string, size: number, fields: readonly StructField[]): ((w: Writer, rec: Record<string | symbol, unknown>) => void) | undefined {
  if (!fields.every((f) => f.pad || f.scalar)) return undefined;
  const consts: string[] = [];
  const lines: string[] = [];
  fields.forEach((f, i) => {
    const at = `p + ${int(f.at)}`;
    if (f.pad) {
      for (let k = 0; k < f.size; k++) lines.push(`b[${at} + ${int(k)}] = 0;`);
      return;
    }
    const S = `S${int(i)}`;
    consts.push(`const ${S} = S[${int(i)}];`);
    lines.push(
      `v = rec[${literal(f.key)}];`,
      `if (v === undefined || v === null) v = ${f.size === 8 ? '0n' : '0'};`,
      `else if (!${S}.fits(v)) throw mismatch(${int(i)}, v);`,
      `${S}.put(b, ${at}, v);`,
    );
  });
  const body = `
${consts.join('\n')}
return function writeStruct(w, rec) {
  let v;
  w.ensure(${int(size)});
  const b = w.buf, p = w.pos;
  ${lines.join('\n  ')}
  w.pos = p + ${int(size)};
};`;
  const mismatch = (i: number, v: unknown) => {
    const f = fields[i]!;
    return new EncodeError(`struct ${name}.${f.key}: expected ${f.type.kind}, got ${describe(v)}`);
  };
  return compile(['S', 'mismatch'], body, [fields.map((f) => f.scalar), mismatch]);
}

/** An attribute made of a packed array of fixed-size elements (e.g. an array of u32). */
export function arrayOf<T>(element: AttrType<T>): AttrType<T[]> {
  const size = element.size;
  if (size === undefined || size === 0) throw new Error(`arrayOf(${element.kind}): element needs a fixed non-zero size`);
  const s = scalars.get(element) as Scalar<T> | undefined;
  type Elements = (buf: Buffer, off: number, end: number, ctx: Context) => T[];
  const generic: Elements = (buf, off, end, ctx) => {
    const out: T[] = [];
    for (let p = off; p < end; p += size) out.push(element.decode(buf, p, size, ctx));
    return out;
  };
  // An array of numbers reads them inline (one loop per element type, not a call per element).
  let elements: Elements | undefined;
  let decodes = 0;
  const compileElements = () => (s && compile<Elements>([], `return function elements(buf, off, end) {
  const out = [];
  for (let p = off; p < end; p += ${int(size)}) out.push(${s.expr('buf', 'p')});
  return out;
};`, [])) || generic;
  return {
    kind: `${element.kind}[]`,
    decode(buf, off, len, ctx) {
      if (len % size !== 0) throw new DecodeError(off, `array of ${element.kind}: ${len} bytes is not a multiple of ${size}`);
      if (elements !== undefined) return elements(buf, off, off + len, ctx);
      if (++decodes >= COMPILE_AFTER) elements = compileElements();
      return generic(buf, off, off + len, ctx);
    },
    encode(w, v, ctx) {
      if (!Array.isArray(v)) throw new EncodeError(`expected an array of ${element.kind}, got ${describe(v)}`);
      for (const x of v) element.encode(w, x, ctx);
    },
    canonical: (_buf, _off, len) => len % size === 0,
  };
}

/**
 * @internal The codec's own machinery, shared by its modules (attributes.ts, message.ts, compound.ts):
 * not part of the library's API, and free to change.
 */
export const codecInternals = Object.freeze({
  COMPILE_AFTER, compile, literal, int, scalarOf, markPlain, isPlain, tooShort, describe, cstringEnd, readCString, writeCString,
  copyBytes, formatLladdr, putLladdr, formatIPv4, putIP, encodePartial,
});
