import { DecodeError, EncodeError } from './errors.js';
import { bytes, codecInternals, cstring, flag, ipaddr, lladdr, type AttrType, type Context, type ValueOf } from './types.js';
import type { Writer } from './writer.js';

const {
  compile, COMPILE_AFTER, copyBytes, cstringEnd, describe, int, isPlain, literal, markPlain, putIP, putLladdr, readCString, scalarOf,
  tooShort, writeCString,
} = codecInternals;

export const NLA_F_NESTED = 0x8000;
export const NLA_F_NET_BYTEORDER = 0x4000;
export const NLA_TYPE_MASK = 0x3fff;
const NLA_HDRLEN = 4;

export interface FieldOptions {
  /** The attribute may appear several times; its value is an array. */
  readonly multi?: boolean;
  /** Flag bits (NLA_F_NESTED, NLA_F_NET_BYTEORDER) set on attributes this code encodes. */
  readonly flags?: number;
}

export type FieldSpec = readonly [name: string, type: AttrType<any>] | readonly [name: string, type: AttrType<any>, options: FieldOptions];
export type SpaceTable = { readonly [type: number]: FieldSpec };

type FieldValue<S> = S extends readonly [string, infer T, { readonly multi: true }] ? ValueOf<T>[]
  : S extends readonly [string, infer T, ...unknown[]] ? ValueOf<T> : never;

/** The typed view of an attribute space: every attribute optional, named as its table says. */
export type AttrsOf<T extends SpaceTable> = {
  -readonly [K in keyof T as T[K] extends readonly [infer N extends string, ...unknown[]] ? N : never]?: FieldValue<T[K]>;
};

export interface Field {
  readonly type: number;
  readonly name: string;
  readonly attr: AttrType<any>;
  readonly multi: boolean;
  readonly flags: number;
}

/** One attribute as it arrived: its type with flag bits, and for unknown or non-canonical ones the raw payload. */
export interface AttrEntry {
  readonly type: number;
  readonly name?: string;
  readonly index: number;
  readonly value?: unknown;
  readonly raw?: Buffer;
}

/**
 * Decoded attribute objects carry the order in which their attributes arrived, under this key, when
 * that order cannot be read from the object itself: when an attribute is unknown, non-canonical (kept
 * raw), repeated out of turn, or carries flag bits other than its table's. Otherwise the object's own
 * key order is the arrival order and encodeAttrs reproduces the bytes from it, so no record is made:
 * `obj[ORDER] ?? []` lists the unknown attributes either way.
 */
export const ORDER: unique symbol = Symbol('netlink.order');

type Decoder = (buf: Buffer, off: number, end: number) => Record<string, unknown>;
type FieldWriter = (w: Writer, value: unknown, flags: number, ctx: Context) => void;
interface FieldCodec {
  readonly field: Field;
  readonly write: FieldWriter;
}

let decoderOf: <A>(sp: AttrSpace<A>) => Decoder;
let codecsOf: <A>(sp: AttrSpace<A>) => Map<string, FieldCodec>;

/** A table of attributes (one numbering, e.g. IFLA_*), walked both ways by decodeAttrs/encodeAttrs. */
export class AttrSpace<A> {
  readonly byType: Array<Field | undefined> = [];
  readonly byName = new Map<string, Field>();
  declare readonly _attrs: A;
  // Built from the table when needed: the decoder walks it (genericDecoder) for the first
  // COMPILE_AFTER decodes, then is generated from it (compileDecoder); the writers are closures.
  #decoder: Decoder | undefined;
  #generic: Decoder | undefined;
  #decodes = 0;
  #codecs: Map<string, FieldCodec> | undefined;

  static {
    decoderOf = (sp) => {
      const compiled = sp.#decoder;
      if (compiled !== undefined) return compiled;
      if (++sp.#decodes >= COMPILE_AFTER) return (sp.#decoder = compileDecoder(sp));
      return (sp.#generic ??= genericDecoder(sp));
    };
    codecsOf = (sp) => (sp.#codecs ??= compileCodecs(sp));
  }

  constructor(readonly prefix: string, table: SpaceTable) {
    for (const [num, spec] of Object.entries(table)) {
      const type = Number(num);
      const [name, attr, options] = spec;
      if (this.byName.has(name)) throw new Error(`${prefix}: attribute name ${name} declared twice`);
      const field: Field = { type, name, attr, multi: options?.multi ?? false, flags: options?.flags ?? 0 };
      this.byType[type] = field;
      this.byName.set(name, field);
    }
  }

  /** The attribute's name as the uapi header spells it, for messages: IFLA 3 -> "IFLA(3 ifname)". */
  describe(type: number): string {
    const f = this.byType[type & NLA_TYPE_MASK];
    return `${this.prefix}(${type & NLA_TYPE_MASK}${f ? ` ${f.name}` : ''})`;
  }
}

export function space<const T extends SpaceTable>(prefix: string, table: T): AttrSpace<AttrsOf<T>> {
  return new AttrSpace<AttrsOf<T>>(prefix, table);
}

export type AttrsOfSpace<S> = S extends AttrSpace<infer A> ? A : never;

/** A nest type exposes its space, so tools can walk a schema (documentation, second-opinion tests). */
export interface NestType<A> extends AttrType<A> {
  readonly inner: AttrSpace<A>;
}

/** Attributes nested inside one attribute (NLA_NESTED). */
export function nest<A>(inner: AttrSpace<A>): NestType<A> {
  return markPlain({
    kind: `nest ${inner.prefix}`,
    inner,
    decode: (buf, off, len) => decoderOf(inner)(buf, off, off + len) as A,
    encode: (w, v) => encodeAttrs(w, inner, v as object),
    canonical: () => true,
  });
}

/**
 * A payload whose layout depends on a sibling attribute decoded before it, such as IFLA_INFO_DATA on
 * IFLA_INFO_KIND or TCA_OPTIONS on TCA_KIND. Kinds not listed decode to raw bytes.
 */
export interface ByKindType<T> extends AttrType<T> {
  readonly key: string;
  /** The payload type for a value of the sibling `key` (raw bytes for kinds not listed). */
  pick(kind: unknown): AttrType<any>;
}

export function byKind<const M extends Record<string, AttrType<any>>>(key: string, kinds: M): ByKindType<ValueOf<M[keyof M]> | Buffer> {
  const forKind = (k: unknown) => (typeof k === 'string' && Object.hasOwn(kinds, k) ? kinds[k]! : bytes);
  const pick = (ctx: Context) => forKind(ctx.siblings[key]);
  return {
    kind: `by ${key}`,
    key,
    pick: forKind,
    decode: (buf, off, len, ctx) => pick(ctx).decode(buf, off, len, ctx),
    encode: (w, v, ctx) => pick(ctx).encode(w, v, ctx),
    canonical: () => true,
  };
}

function isCanonical(attr: AttrType<unknown>, buf: Buffer, off: number, len: number): boolean {
  if (attr.canonical) return attr.canonical(buf, off, len);
  return attr.size === undefined || attr.size === len;
}

/** Decodes the attributes in buf[off, end) against a space. Offsets in errors are offsets into buf. */
export function decodeAttrs<A>(sp: AttrSpace<A>, buf: Buffer, off: number, end: number): A {
  return decoderOf(sp)(buf, off, end) as A;
}

/** The attribute types named by each selection (decodeSelectedAttrs), per space. */
const selections = new WeakMap<readonly string[], { space: AttrSpace<unknown>; types: Uint8Array }>();

function selectionTypes(sp: AttrSpace<unknown>, names: readonly string[]): Uint8Array {
  const known = selections.get(names);
  if (known?.space === sp) return known.types;
  const types = new Uint8Array(sp.byType.length);
  for (const name of names) {
    const field = sp.byName.get(name);
    if (!field) throw new TypeError(`${sp.prefix} has no attribute named ${JSON.stringify(name)}`);
    types[field.type] = 1;
  }
  selections.set(names, { space: sp, types });
  return types;
}

/**
 * Only the attributes named in `names` of buf[off, end), for a lookup that reads a few fields of a big
 * message (a link's is a hundred attributes deep): the others are stepped over, their headers checked
 * but their payloads not read. A partial view, not for re-encoding: it records no arrival order.
 * A selected attribute decodes as it does in a whole message unless its type reads a sibling that was
 * not selected. Keep `names` in a constant: what it selects is worked out once per array.
 */
export function decodeSelectedAttrs<A>(sp: AttrSpace<A>, names: readonly (keyof A & string)[], buf: Buffer, off: number, end: number): Partial<A> {
  const types = selectionTypes(sp as AttrSpace<unknown>, names);
  const out: Record<string, unknown> = {};
  const ctx: Context = { siblings: out };
  let type = 0;
  let at = off;
  try {
    for (let p = off; p < end; ) {
      if (end - p < NLA_HDRLEN) throw strayBytes(sp as AttrSpace<unknown>, p, end);
      const len = buf[p]! | (buf[p + 1]! << 8);
      type = buf[p + 2]! | (buf[p + 3]! << 8);
      if (len < NLA_HDRLEN || len > end - p) throw badLength(sp as AttrSpace<unknown>, p, end, len, type);
      at = p + NLA_HDRLEN;
      const n = type & NLA_TYPE_MASK;
      if (types[n] === 1) {
        const field = sp.byType[n]!;
        const value = field.attr.decode(buf, at, len - NLA_HDRLEN, ctx);
        if (!field.multi) out[field.name] = value;
        else ((out[field.name] ??= []) as unknown[]).push(value);
      }
      p += (len + 3) & ~3;
    }
  } catch (e) {
    throw inAttribute(sp as AttrSpace<unknown>, e, type, at);
  }
  return out as Partial<A>;
}

// ---- decoding: the parts shared by the generic and the generated decoder ----

/** Payloads whose values cannot be re-encoded to the same bytes: [offset of payload, value, ...]. */
type Odd = unknown[];

function keep(odd: Odd | undefined, at: number, value: unknown): Odd {
  if (odd === undefined) return [at, value];
  odd.push(at, value);
  return odd;
}

function strayBytes(sp: AttrSpace<unknown>, p: number, end: number): DecodeError {
  return new DecodeError(p, `${sp.prefix}: ${end - p} stray bytes where an attribute header should be`);
}

function badLength(sp: AttrSpace<unknown>, p: number, end: number, len: number, type: number): DecodeError {
  if (len < NLA_HDRLEN) return new DecodeError(p, `${sp.describe(type)}: attribute length ${len} is shorter than its header`);
  return new DecodeError(p, `${sp.describe(type)}: attribute length ${len} overruns its container (${end - p} bytes left)`);
}

/** What an error raised while decoding the payload of attribute `type` at `at` becomes. */
function inAttribute(sp: AttrSpace<unknown>, e: unknown, type: number, at: number): unknown {
  if (e instanceof DecodeError) return e.reason.startsWith(sp.prefix) ? e : new DecodeError(e.offset, `${sp.describe(type)}: ${e.reason}`);
  return new DecodeError(at, `${sp.describe(type)}: ${(e as Error).message}`);
}

/** Where the payload at `at` is in `odd`, or -1. */
function oddAt(odd: Odd, at: number): number {
  for (let k = 0; k < odd.length; k += 2) if (odd[k] === at) return k;
  return -1;
}

/**
 * Records under ORDER how the attributes of buf[off, end) arrived, walking their headers again
 * (the decoder has checked them). `odd` holds the values of the non-canonical payloads.
 */
function recordOrder(sp: AttrSpace<unknown>, out: Record<string, unknown>, buf: Buffer, off: number, end: number, odd: Odd | undefined): void {
  const order: AttrEntry[] = [];
  const counts = new Map<string, number>();
  for (let p = off; p < end; ) {
    const len = buf[p]! | (buf[p + 1]! << 8);
    const type = buf[p + 2]! | (buf[p + 3]! << 8);
    const at = p + NLA_HDRLEN;
    const field = sp.byType[type & NLA_TYPE_MASK];
    if (field === undefined) {
      order.push({ type, index: 0, raw: copyBytes(buf, at, p + len) });
    } else {
      const { name } = field;
      let index = 0;
      let value: unknown;
      if (field.multi) {
        index = counts.get(name) ?? 0;
        counts.set(name, index + 1);
        value = (out[name] as unknown[])[index];
      } else {
        value = out[name];
      }
      const k = odd === undefined ? -1 : oddAt(odd, at);
      if (k >= 0) order.push({ type, name, index, value: odd![k + 1], raw: copyBytes(buf, at, p + len) });
      else order.push({ type, name, index, value });
    }
    p += (len + 3) & ~3;
  }
  Object.defineProperty(out, ORDER, { value: order });
}

/**
 * The decoder that walks the table at run time: used for a space's first decodes, and for all of them
 * where code generation is disallowed. compileDecoder generates the same steps, specialised.
 */
function genericDecoder(sp: AttrSpace<unknown>): Decoder {
  return (buf, off, end) => {
    const out: Record<string, unknown> = {};
    const ctx: Context = { siblings: out };
    let p = off;
    let type = 0;
    let at = off;
    let last = -1;
    let ordered = false;
    let odd: Odd | undefined;
    try {
      while (p < end) {
        if (end - p < NLA_HDRLEN) throw strayBytes(sp, p, end);
        const len = buf[p]! | (buf[p + 1]! << 8);
        type = buf[p + 2]! | (buf[p + 3]! << 8);
        if (len < NLA_HDRLEN || len > end - p) throw badLength(sp, p, end, len, type);
        at = p + NLA_HDRLEN;
        const plen = len - NLA_HDRLEN;
        const n = type & NLA_TYPE_MASK;
        const field = sp.byType[n];
        if (field === undefined) {
          ordered = true;
        } else {
          const value: unknown = field.attr.decode(buf, at, plen, ctx);
          if (value === undefined) ordered = true;
          if (!isCanonical(field.attr, buf, at, plen)) odd = keep(odd, at, value);
          if ((type & ~NLA_TYPE_MASK) !== field.flags) ordered = true;
          const current = out[field.name];
          if (!field.multi) {
            if (current !== undefined) ordered = true;
            out[field.name] = value;
          } else if (current === undefined) {
            out[field.name] = [value];
          } else {
            (current as unknown[]).push(value);
            if (last !== n) ordered = true;
          }
        }
        last = n;
        p += (len + 3) & ~3;
      }
    } catch (e) {
      throw inAttribute(sp, e, type, at);
    }
    if (ordered || odd !== undefined) recordOrder(sp, out, buf, off, end, odd);
    return out;
  };
}

/** A context for the types that never read theirs. */
const noContext: Context = Object.freeze({ siblings: Object.freeze({}) });

/**
 * Generates a space's decoder: a switch on the attribute type with one case per table entry, reading
 * numbers and strings inline and storing each value under its name as a literal property, so that
 * decoded objects keep fast, fixed-layout properties however many attributes they have.
 */
function compileDecoder(sp: AttrSpace<unknown>): Decoder {
  const consts: string[] = [];
  const cases: string[] = [];
  let needsContext = false;
  sp.byType.forEach((field, n) => {
    if (field === undefined) return;
    const N = int(n);
    const key = literal(field.name);
    const attr = field.attr;
    const s = scalarOf(attr);
    const lines: string[] = [];
    if (s) {
      lines.push(
        `if (plen < ${int(s.size)}) throw tooShort(at, plen, ${int(s.size)}, ${literal(attr.kind)});`,
        `v = ${s.expr('buf', 'at')};`,
        `if (plen !== ${int(s.size)}) odd = keep(odd, at, v);`,
      );
    } else if (attr === cstring) {
      lines.push('v = readCString(buf, at, plen);', 'if (cstringEnd.at !== at + plen - 1 || plen === 0) odd = keep(odd, at, v);');
    } else if (attr === flag) {
      lines.push('v = true;', 'if (plen !== 0) odd = keep(odd, at, v);');
    } else {
      const T = `T${N}`;
      consts.push(`const ${T} = F[${N}].attr;`);
      const plain = isPlain(attr);
      if (!plain) needsContext = true;
      lines.push(`v = ${T}.decode(buf, at, plen, ${plain ? 'noContext' : 'ctx'});`);
      if (!plain) lines.push('if (v === undefined) ordered = true;');
      if (attr.canonical) lines.push(`if (!${T}.canonical(buf, at, plen)) odd = keep(odd, at, v);`);
      else if (attr.size !== undefined) lines.push(`if (plen !== ${int(attr.size)}) odd = keep(odd, at, v);`);
    }
    lines.push(`if ((type & 49152) !== ${int(field.flags)}) ordered = true;`);
    if (field.multi) {
      lines.push(`list = out[${key}];`, `if (list === undefined) out[${key}] = [v];`, `else { list.push(v); if (last !== ${N}) ordered = true; }`);
    } else {
      // Seen before: a repeated attribute, which only ORDER can reproduce.
      lines.push(`if (out[${key}] !== undefined) ordered = true;`, `out[${key}] = v;`);
    }
    cases.push(`case ${N}: {\n          ${lines.join('\n          ')}\n          break;\n        }`);
  });
  const body = `
${consts.join('\n')}
return function decodeAttrs(buf, off, end) {
  const out = {};
  ${needsContext ? 'const ctx = { siblings: out };' : ''}
  let p = off, type = 0, at = off, plen = 0, last = -1, ordered = false, odd, v, list;
  try {
    while (p < end) {
      if (end - p < 4) throw strayBytes(sp, p, end);
      const len = buf[p] | buf[p + 1] << 8;
      type = buf[p + 2] | buf[p + 3] << 8;
      if (len < 4 || len > end - p) throw badLength(sp, p, end, len, type);
      at = p + 4;
      plen = len - 4;
      switch (type & 16383) {
        ${cases.join('\n        ')}
        default:
          ordered = true;
      }
      last = type & 16383;
      p += (len + 3) & ~3;
    }
  } catch (e) {
    throw inAttribute(sp, e, type, at);
  }
  if (ordered || odd !== undefined) recordOrder(sp, out, buf, off, end, odd);
  return out;
};`;
  const scope = {
    sp, F: sp.byType, noContext, keep, strayBytes, badLength, inAttribute, recordOrder, tooShort, readCString, cstringEnd,
  };
  return compile<Decoder>(Object.keys(scope), body, Object.values(scope)) ?? genericDecoder(sp);
}

// ---- encoding ----

function writeRaw(w: Writer, type: number, payload: Uint8Array): void {
  w.u16(NLA_HDRLEN + payload.length);
  w.u16(type);
  w.bytes(payload);
  w.align4();
}

function tooLong(sp: AttrSpace<unknown>, field: Field, len: number): EncodeError {
  return new EncodeError(`${sp.describe(field.type)}: ${len} bytes do not fit an attribute`);
}

/** Writes an attribute header at b[p] (the caller made room). */
function header(b: Buffer, p: number, len: number, type: number): void {
  b[p] = len;
  b[p + 1] = len >>> 8;
  b[p + 2] = type;
  b[p + 3] = type >>> 8;
}

/**
 * Compiles the writer of each attribute of a space: one closure per attribute, writing the header and,
 * for the core types, the payload in place. A writer raises EncodeErrors about the value alone;
 * encodeAttrs names the attribute.
 */
function compileCodecs(sp: AttrSpace<unknown>): Map<string, FieldCodec> {
  const codecs = new Map<string, FieldCodec>();
  for (const field of sp.byName.values()) codecs.set(field.name, { field, write: fieldWriter(sp, field) });
  return codecs;
}

function fieldWriter(sp: AttrSpace<unknown>, field: Field): FieldWriter {
  const attr = field.attr;
  const t = field.type;
  const s = scalarOf(attr);
  // Types with flag bits that do not fit 16 bits take the generic path, which fails as it always did.
  if (((t | field.flags) & 0xffff) !== (t | field.flags)) return genericWriter(sp, field);
  if (s) {
    const total = NLA_HDRLEN + s.size;
    const aligned = (total + 3) & ~3;
    return (w, v, flags) => {
      if (!s.fits(v)) throw new EncodeError(`expected ${attr.kind}, got ${describe(v)}`);
      w.ensure(aligned);
      const b = w.buf;
      const p = w.pos;
      header(b, p, total, t | flags);
      s.put(b, p + NLA_HDRLEN, v);
      for (let i = p + total; i < p + aligned; i++) b[i] = 0;
      w.pos = p + aligned;
    };
  }
  if (attr === flag) {
    return (w, v, flags) => {
      if (v === false) return;
      if (typeof v !== 'boolean') throw new EncodeError(`expected flag (boolean), got ${describe(v)}`);
      w.ensure(NLA_HDRLEN);
      header(w.buf, w.pos, NLA_HDRLEN, t | flags);
      w.pos += NLA_HDRLEN;
    };
  }
  if (attr === ipaddr) {
    return (w, v, flags) => {
      w.ensure(NLA_HDRLEN + 16);
      const p = w.pos;
      const n = putIP(w.buf, p + NLA_HDRLEN, v);
      if (n === 0) throw new EncodeError(`expected an IPv4 or IPv6 address, got ${describe(v)}`);
      header(w.buf, p, NLA_HDRLEN + n, t | flags);
      w.pos = p + NLA_HDRLEN + n;
    };
  }
  if (attr === lladdr) {
    return (w, v, flags) => {
      if (typeof v === 'string') {
        w.ensure(NLA_HDRLEN + v.length + 3);
        const p = w.pos;
        const n = putLladdr(w.buf, p + NLA_HDRLEN, v);
        if (n >= 0) {
          if (NLA_HDRLEN + n > 0xffff) throw tooLong(sp, field, NLA_HDRLEN + n);
          header(w.buf, p, NLA_HDRLEN + n, t | flags);
          w.pos = p + NLA_HDRLEN + n;
          w.align4();
          return;
        }
      }
      throw new EncodeError(`expected a link-layer address like "02:00:00:00:00:01", got ${describe(v)}`);
    };
  }
  if (attr === cstring) {
    return (w, v, flags) => {
      if (typeof v !== 'string') throw new EncodeError(`expected string, got ${describe(v)}`);
      w.ensure(NLA_HDRLEN);
      const start = w.pos;
      w.pos += NLA_HDRLEN;
      writeCString(w, v);
      const len = w.pos - start;
      if (len > 0xffff) throw tooLong(sp, field, len);
      header(w.buf, start, len, t | flags);
      w.align4();
    };
  }
  return genericWriter(sp, field);
}

function genericWriter(sp: AttrSpace<unknown>, field: Field): FieldWriter {
  const attr = field.attr;
  const isFlag = attr.kind === 'flag';
  return (w, v, flags, ctx) => {
    if (v === false && isFlag) return;
    const start = w.pos;
    w.u16(0);
    w.u16(field.type | flags);
    attr.encode(w, v, ctx);
    const len = w.pos - start;
    if (len > 0xffff) throw tooLong(sp, field, len);
    w.patchU16(start, len);
    w.align4();
  };
}

/**
 * Encodes an attribute object. Attributes that came from decodeAttrs are written back in the order they
 * arrived (unknown ones verbatim); new ones follow in the object's key order.
 */
export function encodeAttrs<A>(w: Writer, sp: AttrSpace<A>, obj: object): void {
  if (typeof obj !== 'object' || obj === null) throw new EncodeError(`${sp.prefix}: expected an attribute object`);
  const rec = obj as Record<string, unknown>;
  const codecs = codecsOf(sp);
  const ctx: Context = { siblings: rec };
  const order = (obj as { [ORDER]?: AttrEntry[] })[ORDER];
  // The attribute being written, to name it in an error raised by its type.
  let current: Field | undefined;
  try {
    let written: Map<string, number> | undefined;
    if (order) {
      written = new Map();
      for (const entry of order) {
        current = undefined;
        if (entry.name === undefined) {
          writeRaw(w, entry.type, entry.raw!);
          continue;
        }
        const codec = codecs.get(entry.name)!;
        const field = codec.field;
        const value = field.multi ? (rec[entry.name] as unknown[] | undefined)?.[entry.index] : rec[entry.name];
        written.set(entry.name, entry.index + 1);
        if (value === undefined) continue;
        if (entry.raw && value === entry.value) {
          writeRaw(w, entry.type, entry.raw);
        } else {
          current = field;
          codec.write(w, value, entry.type & ~NLA_TYPE_MASK, ctx);
        }
      }
    }
    const names = Object.keys(rec);
    for (let i = 0; i < names.length; i++) {
      current = undefined;
      const name = names[i]!;
      const value = rec[name];
      if (value === undefined) continue;
      const codec = codecs.get(name);
      if (!codec) throw new EncodeError(`${sp.prefix}: no attribute named "${name}"`);
      const field = codec.field;
      const done = written === undefined ? 0 : (written.get(name) ?? 0);
      if (field.multi) {
        if (!Array.isArray(value)) throw new EncodeError(`${sp.describe(field.type)}: repeated attribute needs an array`);
        current = field;
        for (let j = done; j < value.length; j++) codec.write(w, value[j], field.flags, ctx);
      } else if (done === 0) {
        current = field;
        codec.write(w, value, field.flags, ctx);
      }
    }
  } catch (e) {
    if (current !== undefined && e instanceof EncodeError && !e.message.startsWith(sp.prefix)) {
      throw new EncodeError(`${sp.describe(current.type)}: ${e.message}`);
    }
    throw e;
  }
}

/** The attributes of a decoded object that no table knows, as [type with flags, payload]. */
export function unknownAttrs(obj: object): Array<{ type: number; payload: Buffer }> {
  const order = (obj as { [ORDER]?: AttrEntry[] })[ORDER] ?? [];
  return order.filter((e) => e.name === undefined).map((e) => ({ type: e.type, payload: e.raw! }));
}
