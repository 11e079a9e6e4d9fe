// Payload types of route attributes that the generic codec has no shape for: RTA_MULTIPATH and RTA_VIA.
import { decodeAttrs, encodeAttrs, type AttrSpace } from '../attributes.js';
import { DecodeError, EncodeError } from '../errors.js';
import { formatIPv6, parseIP, s32, u16, u8, type AttrType, type Context } from '../types.js';

const RTNH_HDRLEN = 8; // sizeof(struct rtnexthop)

/** One next hop of a multipath route: struct rtnexthop and the attributes that follow it. */
export interface NextHop<A> {
  /** RTNH_F_* */
  flags: number;
  /** The weight minus one. */
  hops: number;
  ifindex: number;
  /** RTA_GATEWAY, RTA_VIA, RTA_ENCAP, ... of this next hop. */
  attrs: A;
}

/**
 * RTA_MULTIPATH: a packed sequence of struct rtnexthop { u16 len; u8 flags; u8 hops; s32 ifindex },
 * each followed by its own attributes, with len covering both. Lengths are computed on encode.
 */
export function nextHops<A>(attrs: AttrSpace<A>): AttrType<Array<NextHop<A>>> {
  return {
    kind: `rtnexthop[] + ${attrs.prefix}`,
    decode(buf, off, len) {
      const end = off + len;
      const out: Array<NextHop<A>> = [];
      for (let p = off; p < end; ) {
        if (end - p < RTNH_HDRLEN) throw new DecodeError(p, `rtnexthop needs ${RTNH_HDRLEN} bytes, ${end - p} left`);
        const hopLen = buf.readUInt16LE(p);
        if (hopLen < RTNH_HDRLEN) throw new DecodeError(p, `rtnexthop length ${hopLen} is shorter than its header`);
        if (hopLen > end - p) throw new DecodeError(p, `rtnexthop length ${hopLen} overruns RTA_MULTIPATH (${end - p} bytes left)`);
        out.push({
          flags: buf.readUInt8(p + 2),
          hops: buf.readUInt8(p + 3),
          ifindex: buf.readInt32LE(p + 4),
          attrs: decodeAttrs(attrs, buf, p + RTNH_HDRLEN, p + hopLen),
        });
        p += (hopLen + 3) & ~3;
      }
      return out;
    },
    encode(w, hops, ctx) {
      if (!Array.isArray(hops)) throw new EncodeError(`expected an array of next hops, got ${typeof hops}`);
      hops.forEach((hop, i) => {
        if (typeof hop !== 'object' || hop === null) throw new EncodeError(`next hop ${i}: expected an object`);
        const start = w.pos;
        try {
          w.u16(0);
          u8.encode(w, hop.flags ?? 0, ctx);
          u8.encode(w, hop.hops ?? 0, ctx);
          s32.encode(w, hop.ifindex ?? 0, ctx);
          encodeAttrs(w, attrs, (hop.attrs ?? {}) as object);
        } catch (e) {
          if (e instanceof EncodeError) throw new EncodeError(`next hop ${i}: ${e.message}`);
          throw e;
        }
        w.patchU16(start, w.pos - start);
      });
    },
    // The encoder writes aligned lengths; a next hop whose length was not aligned is kept verbatim.
    canonical(buf, off, len) {
      for (let p = off; p + RTNH_HDRLEN <= off + len; ) {
        const hopLen = buf.readUInt16LE(p);
        if (hopLen < RTNH_HDRLEN || (hopLen & 3) !== 0) return false;
        p += hopLen;
      }
      return true;
    },
  };
}

const AF_INET = 2;
const AF_INET6 = 10;

/** RTA_VIA (struct rtvia): a gateway of another address family than the route's own. */
export interface Via {
  /** AF_INET, AF_INET6, AF_PACKET, ... */
  family: number;
  /** An IPv4/IPv6 address as text for AF_INET/AF_INET6, raw bytes for any other family. */
  address: string | Buffer;
}

export const via: AttrType<Via> = {
  kind: 'rtvia',
  decode(buf, off, len) {
    if (len < 2) throw new DecodeError(off, `rtvia needs at least 2 bytes, got ${len}`);
    const family = buf.readUInt16LE(off);
    const at = off + 2;
    const n = len - 2;
    if (family === AF_INET && n === 4) return { family, address: `${buf[at]}.${buf[at + 1]}.${buf[at + 2]}.${buf[at + 3]}` };
    if (family === AF_INET6 && n === 16) return { family, address: formatIPv6(buf, at) };
    return { family, address: Buffer.from(buf.subarray(at, at + n)) };
  },
  encode(w, v, ctx: Context) {
    if (typeof v !== 'object' || v === null) throw new EncodeError('rtvia: expected { family, address }');
    u16.encode(w, v.family, ctx);
    if (v.address instanceof Uint8Array) {
      w.bytes(v.address);
      return;
    }
    const ip = parseIP(v.address);
    const expected = v.family === AF_INET ? 4 : v.family === AF_INET6 ? 16 : 0;
    if (!ip || ip.length !== expected) {
      throw new EncodeError(`rtvia: ${JSON.stringify(v.address)} is not an address of family ${v.family} (give bytes for other families)`);
    }
    w.bytes(ip);
  },
  canonical: (_buf, _off, len) => len >= 2,
};
