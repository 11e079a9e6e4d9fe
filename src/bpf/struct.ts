/**
 * Declarative C struct layouts for the data shared with eBPF programs: one description gives the
 * TypeScript encoder/decoder and the C declaration (see layout-header.ts), so the two cannot drift.
 * Offsets follow the C rules for natural alignment on the BPF target (little-endian, like x86_64/arm64).
 */

/** One field kind: how a value is laid out, encoded, decoded and declared in C. */
export interface Kind<T> {
  readonly size: number;
  readonly align: number;
  /** The C declaration of a field (or map key/value type when `name` is empty) of this kind. */
  declare(name: string): string;
  encode(buf: Buffer, offset: number, value: T): void;
  decode(buf: Buffer, offset: number): T;
}

export type ValueOf<K> = K extends Kind<infer T> ? T : never;

function cDecl(type: string, name: string): string {
  return name ? `${type} ${name}` : type;
}

export const u32: Kind<number> = {
  size: 4,
  align: 4,
  declare: (name) => cDecl('__u32', name),
  encode: (buf, off, v) => void buf.writeUInt32LE(v >>> 0, off),
  decode: (buf, off) => buf.readUInt32LE(off),
};

export const u64: Kind<bigint> = {
  size: 8,
  align: 8,
  declare: (name) => cDecl('__u64', name),
  encode: (buf, off, v) => void buf.writeBigUInt64LE(v, off),
  decode: (buf, off) => buf.readBigUInt64LE(off),
};

/** An Ethernet address, `aa:bb:cc:dd:ee:ff`. */
export const mac: Kind<string> = {
  size: 6,
  align: 1,
  declare: (name) => `__u8 ${name}[6]`,
  encode: (buf, off, v) => {
    const bytes = v.split(':');
    if (bytes.length !== 6 || bytes.some((b) => !/^[0-9a-fA-F]{1,2}$/.test(b))) throw new TypeError(`not a MAC address: ${v}`);
    bytes.forEach((b, i) => buf.writeUInt8(parseInt(b, 16), off + i));
  },
  decode: (buf, off) => [...buf.subarray(off, off + 6)].map((b) => b.toString(16).padStart(2, '0')).join(':'),
};

/** An IPv4 address in network byte order (as in the IP header), dotted quad on the TS side. */
export const ipv4: Kind<string> = {
  size: 4,
  align: 4,
  declare: (name) => cDecl('__be32', name),
  encode: (buf, off, v) => {
    const parts = v.split('.');
    if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) throw new TypeError(`not an IPv4 address: ${v}`);
    parts.forEach((p, i) => buf.writeUInt8(Number(p), off + i));
  },
  decode: (buf, off) => [...buf.subarray(off, off + 4)].join('.'),
};

/** An IPv6 address in network byte order (`struct in6_addr`), canonical text on the TS side. */
export const ipv6: Kind<string> = {
  size: 16,
  align: 4,
  declare: (name) => cDecl('struct in6_addr', name),
  encode: (buf, off, v) => parseIpv6(v).copy(buf, off),
  decode: (buf, off) => formatIpv6(buf.subarray(off, off + 16)),
};

export interface Field {
  readonly name: string;
  readonly cName: string;
  readonly offset: number;
  readonly kind: Kind<unknown>;
}

export interface StructType<T> extends Kind<T> {
  readonly cName: string;
  readonly fields: readonly Field[];
  /** A zero-filled buffer of this struct's size with `value` written into it. */
  pack(value: T): Buffer;
  unpack(buf: Buffer): T;
}

type Decoded<F extends Record<string, Kind<any>>> = { [K in keyof F]: ValueOf<F[K]> };

const snake = (name: string): string => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;

/**
 * `struct cName { ... }` with the fields in the given order; TS names are camelCase, C names the
 * same in snake_case. Padding is implicit, exactly where a C compiler puts it.
 */
export function struct<F extends Record<string, Kind<any>>>(cName: string, spec: F): StructType<Decoded<F>> {
  let offset = 0;
  let align = 1;
  const fields: Field[] = Object.entries(spec).map(([name, kind]) => {
    offset = alignUp(offset, kind.align);
    const field = { name, cName: snake(name), offset, kind };
    offset += kind.size;
    align = Math.max(align, kind.align);
    return field;
  });
  const size = alignUp(offset, align);
  const type: StructType<Decoded<F>> = {
    cName,
    fields,
    size,
    align,
    declare: (name) => cDecl(`struct ${cName}`, name),
    encode(buf, off, value) {
      for (const f of fields) {
        const v = (value as Record<string, unknown>)[f.name];
        if (v === undefined) throw new TypeError(`struct ${cName}: missing field ${f.name}`);
        f.kind.encode(buf, off + f.offset, v);
      }
    },
    decode(buf, off) {
      const out: Record<string, unknown> = {};
      for (const f of fields) out[f.name] = f.kind.decode(buf, off + f.offset);
      return out as Decoded<F>;
    },
    pack(value) {
      const buf = Buffer.alloc(size);
      type.encode(buf, 0, value);
      return buf;
    },
    unpack(buf) {
      if (buf.length < size) throw new RangeError(`struct ${cName}: ${buf.length} bytes, need ${size}`);
      return type.decode(buf, 0);
    },
  };
  return type;
}

function parseIpv6(text: string): Buffer {
  const fail = (): never => {
    throw new TypeError(`not an IPv6 address: ${text}`);
  };
  // An embedded IPv4 tail (::ffff:10.0.0.1) becomes its two hex words.
  const s = text.replace(/(\d+\.\d+\.\d+\.\d+)$/, (v4) => {
    const b = Buffer.alloc(4);
    ipv4.encode(b, 0, v4);
    return `${b.readUInt16BE(0).toString(16)}:${b.readUInt16BE(2).toString(16)}`;
  });
  const halves = s.split('::');
  if (halves.length > 2) fail();
  const parse = (part: string): number[] =>
    part === '' ? [] : part.split(':').map((w) => (/^[0-9a-fA-F]{1,4}$/.test(w) ? parseInt(w, 16) : fail()));
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  const given = head.length + rest.length;
  if (halves.length === 1 ? given !== 8 : given > 7) fail();
  const words = [...head, ...Array<number>(8 - given).fill(0), ...rest];
  const buf = Buffer.alloc(16);
  words.forEach((w, i) => buf.writeUInt16BE(w, i * 2));
  return buf;
}

/** RFC 5952 text: lower case, the longest run of two or more zero words shortened to `::`. */
function formatIpv6(buf: Buffer): string {
  const words = Array.from({ length: 8 }, (_, i) => buf.readUInt16BE(i * 2));
  let best = { start: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > best.len && j - i >= 2) best = { start: i, len: j - i };
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (best.start < 0) return hex.join(':');
  return `${hex.slice(0, best.start).join(':')}::${hex.slice(best.start + best.len).join(':')}`;
}
