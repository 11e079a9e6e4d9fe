// nf_tables over NETLINK_NETFILTER: the nfgenmsg header (linux/netfilter/nfnetlink.h), message types,
// and the pieces every object shares (linux/netfilter/nf_tables.h): nft_data, verdicts, NFTA_LIST_ELEM
// lists. Every integer attribute of nf_tables is big-endian (the kernel reads them with ntohl/be64_to_cpu).
import { NLA_F_NESTED, nest, space, type AttrsOfSpace } from '../attributes.js';
import { DecodeError, EncodeError } from '../errors.js';
import { be16, be32, bytes, cstring, struct, u8, type AttrType } from '../types.js';

/** The nfnetlink subsystem of nf_tables: the high byte of every nf_tables message type. */
export const NFNL_SUBSYS_NFTABLES = 10;
/** NFNETLINK_V0: the only nfgenmsg version. */
export const NFNETLINK_V0 = 0;

/** Multicast group of nf_tables change notifications (enum nfnetlink_groups). */
export const NFNLGRP_NFTABLES = 7;

/** struct nfgenmsg: the family (NFPROTO_*), the version, and a resource id (big-endian). */
export const nfgenmsg = struct('nfgenmsg', {
  /** NFPROTO_* of the object (tables, chains, rules and sets live in one family); 0 in a dump means all. */
  family: u8,
  version: u8,
  /**
   * In a batch begin: the subsystem (NFNL_SUBSYS_NFTABLES). In what the kernel sends: the low 16 bits
   * of the ruleset generation the message belongs to.
   */
  resId: be16,
});
export type NfGenMsg = ReturnType<typeof nfgenmsg.zero>;

/** enum nf_tables_msg_types (linux/netfilter/nf_tables.h, with the numbers added up to Linux 6.18). */
export const NFT_MSG = {
  NEWTABLE: 0,
  GETTABLE: 1,
  DELTABLE: 2,
  NEWCHAIN: 3,
  GETCHAIN: 4,
  DELCHAIN: 5,
  NEWRULE: 6,
  GETRULE: 7,
  DELRULE: 8,
  NEWSET: 9,
  GETSET: 10,
  DELSET: 11,
  NEWSETELEM: 12,
  GETSETELEM: 13,
  DELSETELEM: 14,
  NEWGEN: 15,
  GETGEN: 16,
  TRACE: 17,
  NEWOBJ: 18,
  GETOBJ: 19,
  DELOBJ: 20,
  GETOBJ_RESET: 21,
  NEWFLOWTABLE: 22,
  GETFLOWTABLE: 23,
  DELFLOWTABLE: 24,
  GETRULE_RESET: 25,
  /** The DESTROY* messages (Linux 6.3+) delete like DEL* but do not fail when the object is absent. */
  DESTROYTABLE: 26,
  DESTROYCHAIN: 27,
  DESTROYRULE: 28,
  DESTROYSET: 29,
  DESTROYSETELEM: 30,
  DESTROYOBJ: 31,
  DESTROYFLOWTABLE: 32,
  GETSETELEM_RESET: 33,
} as const;

/** The nlmsg type of an nf_tables message: NFNL_SUBSYS_NFTABLES in the high byte, NFT_MSG_* in the low one. */
export function nftType(msg: number): number {
  return (NFNL_SUBSYS_NFTABLES << 8) | msg;
}

/** nlmsg types and their names, for messageKind's `types`: nftTypes('TABLE') covers NEW/GET/DEL(/DESTROY)TABLE. */
export function nftTypes(...names: Array<keyof typeof NFT_MSG>): Record<number, string> {
  const out: Record<number, string> = {};
  for (const n of names) out[nftType(NFT_MSG[n])] = `NFT_MSG_${n}`;
  return out;
}

/** Netfilter families (enum nfproto, linux/netfilter.h): nfgenmsg.family of tables and their objects. */
export const NFPROTO = {
  UNSPEC: 0,
  INET: 1,
  IPV4: 2,
  ARP: 3,
  NETDEV: 5,
  BRIDGE: 7,
  IPV6: 10,
} as const;

/** Hooks of the ip, ip6 and inet families (enum nf_inet_hooks, linux/netfilter.h). */
export const NF_INET = {
  PRE_ROUTING: 0,
  LOCAL_IN: 1,
  FORWARD: 2,
  LOCAL_OUT: 3,
  POST_ROUTING: 4,
  INGRESS: 5,
} as const;

/** Standard chain priorities, as nft names them (enum nf_ip_hook_priorities and nft's table). */
export const NFT_PRIORITY = {
  RAW: -300,
  MANGLE: -150,
  DSTNAT: -100,
  FILTER: 0,
  SECURITY: 50,
  SRCNAT: 100,
} as const;

/** Netfilter verdicts (linux/netfilter.h) and nf_tables' own ones (enum nft_verdicts), as NFTA_VERDICT_CODE holds them. */
export const NF_VERDICT = {
  DROP: 0,
  ACCEPT: 1,
  STOLEN: 2,
  QUEUE: 3,
  REPEAT: 4,
  STOP: 5,
  CONTINUE: -1,
  BREAK: -2,
  JUMP: -3,
  GOTO: -4,
  RETURN: -5,
} as const;

/** enum nft_registers: the verdict register, the four legacy 16-byte registers, and the 4-byte ones. */
export const NFT_REG = {
  VERDICT: 0,
  R1: 1,
  R2: 2,
  R3: 3,
  R4: 4,
  /** NFT_REG32_00; NFT_REG32_nn is NFT_REG.R32_00 + nn, up to 15. */
  R32_00: 8,
} as const;

/** A signed 32-bit integer in network byte order (chain priorities, verdict codes: the kernel's be32 cast to int). */
export const bes32: AttrType<number> = {
  kind: 'bes32',
  size: 4,
  empty: () => 0,
  decode(buf, off, len) {
    if (len < 4) throw new DecodeError(off, `bes32 needs 4 bytes, got ${len}`);
    return buf.readInt32BE(off);
  },
  encode(w, v) {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw new EncodeError(`expected bes32, got ${String(v)}`);
    w.be32(v >>> 0);
  },
};

// ---- NFTA_LIST_ELEM lists ----

/** How a decoded list arrived: each element's attribute type (with flag bits) and value, for re-encoding. */
const LIST_SOURCE: unique symbol = Symbol('nftables.list');
interface ListSource {
  readonly types: number[];
  readonly values: unknown[];
}

/**
 * A nest holding a list of elements (rule expressions, set elements, devices), as a plain array.
 * The kernel numbers every element NFTA_LIST_ELEM (1); libnftnl numbers set elements 1, 2, 3, ... and
 * the kernel accepts that, so any attribute type is read as an element. A decoded array re-encodes to
 * the very bytes it came from (each element keeps its type and flag bits); elements added to it, and
 * those of a new array, are written as NFTA_LIST_ELEM with NLA_F_NESTED.
 */
export function nftList<T>(prefix: string, element: AttrType<T>): AttrType<T[]> {
  return {
    kind: `list of ${element.kind}`,
    decode(buf, off, len, ctx) {
      const list: T[] = [];
      const source: ListSource = { types: [], values: [] };
      const end = off + len;
      for (let p = off; p < end; ) {
        if (end - p < 4) throw new DecodeError(p, `${prefix}: ${end - p} stray bytes where an element header should be`);
        const alen = buf.readUInt16LE(p);
        const type = buf.readUInt16LE(p + 2);
        if (alen < 4 || alen > end - p) throw new DecodeError(p, `${prefix}: element length ${alen} does not fit its list (${end - p} bytes left)`);
        const value = element.decode(buf, p + 4, alen - 4, ctx);
        list.push(value);
        source.types.push(type);
        source.values.push(value);
        p += (alen + 3) & ~3;
      }
      Object.defineProperty(list, LIST_SOURCE, { value: source });
      return list;
    },
    encode(w, v, ctx) {
      if (!Array.isArray(v)) throw new EncodeError(`${prefix}: expected an array, got ${typeof v}`);
      const source = (v as { [LIST_SOURCE]?: ListSource })[LIST_SOURCE];
      v.forEach((item: T, i) => {
        const start = w.pos;
        w.u16(0);
        w.u16(source && i < source.types.length ? source.types[i]! : NFTA_LIST_ELEM | NLA_F_NESTED);
        try {
          element.encode(w, item, ctx);
        } catch (e) {
          if (e instanceof EncodeError) throw new EncodeError(`${prefix}[${i}]: ${e.message}`);
          throw e;
        }
        if (w.pos - start > 0xffff) throw new EncodeError(`${prefix}[${i}]: ${w.pos - start} bytes do not fit an attribute`);
        w.patchU16(start, w.pos - start);
        w.align4();
      });
    },
    canonical: () => true,
  };
}

/** The attribute type of every list element (enum nft_list_attributes). */
export const NFTA_LIST_ELEM = 1;

// ---- nft_data: values and verdicts ----

/** NFTA_VERDICT_* */
export const nftVerdictAttrs = space('NFTA_VERDICT', {
  /** NF_VERDICT.* */
  1: ['code', bes32],
  /** The chain of a jump or goto. */
  2: ['chain', cstring],
  3: ['chainId', be32],
});
export type NftVerdict = AttrsOfSpace<typeof nftVerdictAttrs>;

/** NFTA_DATA_*: a value (bytes as they sit in a register: addresses in network byte order) or a verdict. */
export const nftDataAttrs = space('NFTA_DATA', {
  1: ['value', bytes],
  2: ['verdict', nest(nftVerdictAttrs), { flags: NLA_F_NESTED }],
});
export type NftData = AttrsOfSpace<typeof nftDataAttrs>;

/** A nest of NFTA_DATA_*. */
export const nftData = nest(nftDataAttrs);
