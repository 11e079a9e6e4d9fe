// Payload types built from the core ones: a struct followed by attributes, types resolved late
// (for tables that refer to each other), NLA_UINT, and fixed-size addresses usable inside structs.
import { decodeAttrs, encodeAttrs, type AttrSpace } from './attributes.js';
import { DecodeError, EncodeError } from './errors.js';
import { codecInternals, formatIPv6, lladdr, type AttrType, type StructType } from './types.js';

const { encodePartial, formatIPv4, formatLladdr, markPlain, putIP } = codecInternals;

/**
 * A type whose definition is looked up on first use. Tables that contain each other (IFLA_LINKINFO
 * holds veth data, whose peer holds IFLA attributes again) and live in modules that import each
 * other refer to one another through this, so no module reads another's bindings while loading.
 */
export function lazy<T>(resolve: () => AttrType<T>): AttrType<T> {
  let resolved: AttrType<T> | undefined;
  const get = () => (resolved ??= resolve());
  return {
    kind: 'lazy',
    decode: (buf, off, len, ctx) => get().decode(buf, off, len, ctx),
    encode: (w, v, ctx) => get().encode(w, v, ctx),
    canonical(buf, off, len) {
      const t = get();
      if (t.canonical) return t.canonical(buf, off, len);
      return t.size === undefined || t.size === len;
    },
  };
}

/** The value of a struct-then-attributes payload: the struct under `key`, the attributes under `attrs`. */
export type WithAttrs<K extends string, H, A> = { [P in K]?: Partial<H> } & { attrs?: A };

/**
 * A fixed header struct followed by attributes of one space, padded to 4 bytes between the two as
 * in a netlink message body (VETH_INFO_PEER carries a whole ifinfomsg and IFLA attributes this way).
 * Decoding gives both parts; encoding fills header fields left out with zeros.
 */
export function structWithAttrs<const K extends string, H, A>(key: K, header: StructType<H>, attrs: AttrSpace<A>): AttrType<WithAttrs<K, H, A>> {
  const headerSpace = (header.size + 3) & ~3;
  return markPlain({
    kind: `${header.kind} + ${attrs.prefix}`,
    decode(buf, off, len, ctx) {
      if (len < headerSpace) throw new DecodeError(off, `${header.kind} needs ${headerSpace} bytes before its attributes, got ${len}`);
      const fixed = header.decode(buf, off, header.size, ctx);
      const rest = decodeAttrs(attrs, buf, off + headerSpace, off + len);
      return { [key]: fixed, attrs: rest } as WithAttrs<K, H, A>;
    },
    encode(w, v, ctx) {
      if (typeof v !== 'object' || v === null) throw new EncodeError(`${header.kind} + ${attrs.prefix}: expected { ${key}, attrs }`);
      const given = (v as Record<string, unknown>)[key] as Partial<H> | undefined;
      encodePartial(w, header, given, ctx);
      w.align4();
      if (v.attrs !== undefined) encodeAttrs(w, attrs, v.attrs as object);
    },
    canonical: (_buf, _off, len) => len >= headerSpace,
  });
}

/**
 * NLA_UINT: an unsigned integer the kernel writes in 4 bytes when it fits and in 8 otherwise
 * (nla_put_uint). Always a bigint here, so the value's type does not depend on its size.
 */
export const uint: AttrType<bigint> = markPlain({
  kind: 'uint',
  decode(buf, off, len) {
    if (len === 4) return BigInt(buf.readUInt32LE(off));
    if (len === 8) return buf.readBigUInt64LE(off);
    throw new DecodeError(off, `an NLA_UINT is 4 or 8 bytes, got ${len}`);
  },
  encode(w, v) {
    if (typeof v !== 'bigint' || v < 0n || v > 0xffffffffffffffffn) throw new EncodeError(`expected an unsigned 64-bit bigint, got ${String(v)}`);
    if (v <= 0xffffffffn) w.u32(Number(v));
    else w.u64(v);
  },
  canonical: (buf, off, len) => len === 4 || (len === 8 && buf.readBigUInt64LE(off) > 0xffffffffn),
});

/** An IPv4 address in exactly 4 bytes (struct in_addr); refuses IPv6 text so a family mix-up fails here. */
export const ipv4: AttrType<string> = markPlain({
  kind: 'ipv4',
  size: 4,
  empty: () => '0.0.0.0',
  decode(buf, off, len) {
    if (len < 4) throw new DecodeError(off, `an IPv4 address needs 4 bytes, got ${len}`);
    return formatIPv4(buf, off);
  },
  encode(w, v) {
    w.ensure(16);
    if (putIP(w.buf, w.pos, v) !== 4) throw new EncodeError(`expected an IPv4 address, got ${JSON.stringify(v)}`);
    w.pos += 4;
  },
});

/** An IPv6 address in exactly 16 bytes (struct in6_addr). */
export const ipv6: AttrType<string> = markPlain({
  kind: 'ipv6',
  size: 16,
  empty: () => '::',
  decode(buf, off, len) {
    if (len < 16) throw new DecodeError(off, `an IPv6 address needs 16 bytes, got ${len}`);
    return formatIPv6(buf, off);
  },
  encode(w, v) {
    w.ensure(16);
    if (putIP(w.buf, w.pos, v) !== 16) throw new EncodeError(`expected an IPv6 address, got ${JSON.stringify(v)}`);
    w.pos += 16;
  },
});

/** A link-layer address of a fixed length, for use inside structs ("02:00:00:00:00:01"). */
export function lladdrOf(size: number): AttrType<string> {
  return markPlain({
    kind: `lladdr(${size})`,
    size,
    empty: () => Array<string>(size).fill('00').join(':'),
    decode(buf, off, len) {
      if (len < size) throw new DecodeError(off, `a ${size}-byte link-layer address got ${len} bytes`);
      return formatLladdr(buf, off, size);
    },
    encode(w, v, ctx) {
      if (typeof v !== 'string' || v.split(':').length !== size) {
        throw new EncodeError(`expected a ${size}-byte link-layer address, got ${JSON.stringify(v)}`);
      }
      lladdr.encode(w, v, ctx);
    },
  });
}

/**
 * A device's IPv4 configuration (IFLA_INET_CONF), indexed from IPV4_DEVCONF_FORWARDING (1) at [0].
 * The kernel reports it as a packed array of u32 and takes changes as attributes numbered by
 * IPV4_DEVCONF_*: decoding gives the array, encoding sends the entries present (a sparse array sets
 * only those, leaving the device's other settings alone).
 */
export const devconf: AttrType<(number | undefined)[]> = markPlain({
  kind: 'devconf',
  decode(buf, off, len) {
    if (len % 4 !== 0) throw new DecodeError(off, `devconf: ${len} bytes is not a multiple of 4`);
    const out: number[] = [];
    for (let p = off; p < off + len; p += 4) out.push(buf.readUInt32LE(p));
    return out;
  },
  encode(w, v) {
    if (!Array.isArray(v)) throw new EncodeError(`devconf: expected an array of u32 indexed from IPV4_DEVCONF_FORWARDING at [0], got ${typeof v}`);
    v.forEach((value, i) => {
      if (value === undefined) return;
      if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new EncodeError(`devconf[${i}]: expected a u32, got ${String(value)}`);
      w.u16(8);
      w.u16(i + 1);
      w.u32(value);
    });
  },
  // A decoded array re-encodes as attributes, not as the kernel's packed form.
  canonical: () => false,
});
