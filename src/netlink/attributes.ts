import { DecodeError, EncodeError } from './errors.js';
import { bytes, type AttrType, type Context, type ValueOf } from './types.js';
import type { Writer } from './writer.js';

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

/** Decoded attribute objects carry the order in which their attributes arrived, under this key. */
export const ORDER: unique symbol = Symbol('netlink.order');

/** A table of attributes (one numbering, e.g. IFLA_*), walked both ways by decodeAttrs/encodeAttrs. */
export class AttrSpace<A> {
  readonly byType: Array<Field | undefined> = [];
  readonly byName = new Map<string, Field>();
  declare readonly _attrs: A;

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
  return {
    kind: `nest ${inner.prefix}`,
    inner,
    decode: (buf, off, len) => decodeAttrs(inner, buf, off, off + len),
    encode: (w, v) => encodeAttrs(w, inner, v as object),
    canonical: () => true,
  };
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
  const out: Record<string, unknown> = {};
  const order: AttrEntry[] = [];
  const ctx: Context = { siblings: out };
  let p = off;
  while (p < end) {
    if (end - p < NLA_HDRLEN) throw new DecodeError(p, `${sp.prefix}: ${end - p} stray bytes where an attribute header should be`);
    const len = buf.readUInt16LE(p);
    const type = buf.readUInt16LE(p + 2);
    if (len < NLA_HDRLEN) throw new DecodeError(p, `${sp.describe(type)}: attribute length ${len} is shorter than its header`);
    if (len > end - p) throw new DecodeError(p, `${sp.describe(type)}: attribute length ${len} overruns its container (${end - p} bytes left)`);
    const field = sp.byType[type & NLA_TYPE_MASK];
    const at = p + NLA_HDRLEN;
    const plen = len - NLA_HDRLEN;
    if (field === undefined) {
      order.push({ type, index: 0, raw: Buffer.from(buf.subarray(at, at + plen)) });
    } else {
      let value: unknown;
      try {
        value = field.attr.decode(buf, at, plen, ctx);
      } catch (e) {
        if (e instanceof DecodeError && !e.reason.startsWith(sp.prefix)) throw new DecodeError(e.offset, `${sp.describe(type)}: ${e.reason}`);
        if (e instanceof DecodeError) throw e;
        throw new DecodeError(at, `${sp.describe(type)}: ${(e as Error).message}`);
      }
      let index = 0;
      if (field.multi) {
        const list = (out[field.name] ??= []) as unknown[];
        index = list.length;
        list.push(value);
      } else {
        out[field.name] = value;
      }
      const raw = isCanonical(field.attr, buf, at, plen) ? undefined : Buffer.from(buf.subarray(at, at + plen));
      order.push(raw ? { type, name: field.name, index, value, raw } : { type, name: field.name, index, value });
    }
    p += (len + 3) & ~3;
  }
  Object.defineProperty(out, ORDER, { value: order });
  return out as A;
}

function writeRaw(w: Writer, type: number, payload: Uint8Array): void {
  w.u16(NLA_HDRLEN + payload.length);
  w.u16(type);
  w.bytes(payload);
  w.align4();
}

function writeField(w: Writer, sp: AttrSpace<unknown>, field: Field, flags: number, value: unknown, ctx: Context): void {
  if (value === false && field.attr.kind === 'flag') return;
  const start = w.pos;
  w.u16(0);
  w.u16(field.type | flags);
  try {
    field.attr.encode(w, value, ctx);
  } catch (e) {
    if (e instanceof EncodeError && !e.message.startsWith(sp.prefix)) throw new EncodeError(`${sp.describe(field.type)}: ${e.message}`);
    throw e;
  }
  const len = w.pos - start;
  if (len > 0xffff) throw new EncodeError(`${sp.describe(field.type)}: ${len} bytes do not fit an attribute`);
  w.patchU16(start, len);
  w.align4();
}

/**
 * Encodes an attribute object. Attributes that came from decodeAttrs are written back in the order they
 * arrived (unknown ones verbatim); new ones follow in the object's key order.
 */
export function encodeAttrs<A>(w: Writer, sp: AttrSpace<A>, obj: object): void {
  if (typeof obj !== 'object' || obj === null) throw new EncodeError(`${sp.prefix}: expected an attribute object`);
  const rec = obj as Record<string, unknown>;
  const ctx: Context = { siblings: rec };
  const order = (obj as { [ORDER]?: AttrEntry[] })[ORDER];
  let written: Map<string, number> | undefined;
  if (order) {
    written = new Map();
    for (const entry of order) {
      if (entry.name === undefined) {
        writeRaw(w, entry.type, entry.raw!);
        continue;
      }
      const field = sp.byName.get(entry.name)!;
      const current = field.multi ? (rec[entry.name] as unknown[] | undefined)?.[entry.index] : rec[entry.name];
      written.set(entry.name, entry.index + 1);
      if (current === undefined) continue;
      if (entry.raw && current === entry.value) writeRaw(w, entry.type, entry.raw);
      else writeField(w, sp, field, entry.type & ~NLA_TYPE_MASK, current, ctx);
    }
  }
  for (const name of Object.keys(rec)) {
    const value = rec[name];
    if (value === undefined) continue;
    const field = sp.byName.get(name);
    if (!field) throw new EncodeError(`${sp.prefix}: no attribute named "${name}"`);
    const done = written?.get(name) ?? 0;
    if (field.multi) {
      if (!Array.isArray(value)) throw new EncodeError(`${sp.describe(field.type)}: repeated attribute needs an array`);
      for (let i = done; i < value.length; i++) writeField(w, sp, field, field.flags, value[i], ctx);
    } else if (done === 0) {
      writeField(w, sp, field, field.flags, value, ctx);
    }
  }
}

/** The attributes of a decoded object that no table knows, as [type with flags, payload]. */
export function unknownAttrs(obj: object): Array<{ type: number; payload: Buffer }> {
  const order = (obj as { [ORDER]?: AttrEntry[] })[ORDER] ?? [];
  return order.filter((e) => e.name === undefined).map((e) => ({ type: e.type, payload: e.raw! }));
}
