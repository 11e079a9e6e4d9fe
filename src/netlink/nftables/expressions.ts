// nf_tables expressions (linux/netfilter/nf_tables.h): NFTA_EXPR_NAME and NFTA_EXPR_DATA, the data read
// according to the name. Expressions this code does not know keep their data as raw bytes.
import { byKind, NLA_F_NESTED, nest, space, type AttrsOfSpace } from '../attributes.js';
import { be32, be64, bytes, cstring, u8 } from '../types.js';
import { nftData, nftList, NFT_REG, type NftData } from './common.js';

/** NFTA_META_* */
export const nftMetaAttrs = space('NFTA_META', {
  1: ['dreg', be32],
  /** NFT_META.* */
  2: ['key', be32],
  3: ['sreg', be32],
});

/** NFTA_PAYLOAD_* */
export const nftPayloadAttrs = space('NFTA_PAYLOAD', {
  1: ['dreg', be32],
  /** NFT_PAYLOAD.* */
  2: ['base', be32],
  3: ['offset', be32],
  4: ['len', be32],
  5: ['sreg', be32],
  6: ['csumType', be32],
  7: ['csumOffset', be32],
  8: ['csumFlags', be32],
});

/** NFTA_CMP_* */
export const nftCmpAttrs = space('NFTA_CMP', {
  1: ['sreg', be32],
  /** NFT_CMP.* */
  2: ['op', be32],
  3: ['data', nftData, { flags: NLA_F_NESTED }],
});

/** NFTA_RANGE_* */
export const nftRangeAttrs = space('NFTA_RANGE', {
  1: ['sreg', be32],
  2: ['op', be32],
  3: ['fromData', nftData, { flags: NLA_F_NESTED }],
  4: ['toData', nftData, { flags: NLA_F_NESTED }],
});

/** NFTA_LOOKUP_* */
export const nftLookupAttrs = space('NFTA_LOOKUP', {
  1: ['set', cstring],
  2: ['sreg', be32],
  3: ['dreg', be32],
  /** The set's NFTA_SET_ID, for a set created in the same batch. */
  4: ['setId', be32],
  /** NFT_LOOKUP_F_INV */
  5: ['flags', be32],
});

/** NFTA_IMMEDIATE_* */
export const nftImmediateAttrs = space('NFTA_IMMEDIATE', {
  1: ['dreg', be32],
  2: ['data', nftData, { flags: NLA_F_NESTED }],
});

/** NFTA_BITWISE_*: dreg = (sreg & mask) ^ xor, or a shift by `data`. */
export const nftBitwiseAttrs = space('NFTA_BITWISE', {
  1: ['sreg', be32],
  2: ['dreg', be32],
  3: ['len', be32],
  4: ['mask', nftData, { flags: NLA_F_NESTED }],
  5: ['xor', nftData, { flags: NLA_F_NESTED }],
  /** NFT_BITWISE.* */
  6: ['op', be32],
  7: ['data', nftData, { flags: NLA_F_NESTED }],
});

/** NFTA_COUNTER_* */
export const nftCounterAttrs = space('NFTA_COUNTER', {
  1: ['bytes', be64],
  2: ['packets', be64],
  3: ['pad', bytes],
});

/** NFTA_MASQ_* */
export const nftMasqAttrs = space('NFTA_MASQ', {
  /** NF_NAT_RANGE.* */
  1: ['flags', be32],
  2: ['regProtoMin', be32],
  3: ['regProtoMax', be32],
});

/** NFTA_NAT_* */
export const nftNatAttrs = space('NFTA_NAT', {
  /** NFT_NAT.SNAT or DNAT */
  1: ['type', be32],
  /** NFPROTO_IPV4 or NFPROTO_IPV6 */
  2: ['family', be32],
  3: ['regAddrMin', be32],
  4: ['regAddrMax', be32],
  5: ['regProtoMin', be32],
  6: ['regProtoMax', be32],
  /** NF_NAT_RANGE.* */
  7: ['flags', be32],
});

/** NFTA_CT_* */
export const nftCtAttrs = space('NFTA_CT', {
  1: ['dreg', be32],
  /** NFT_CT.* */
  2: ['key', be32],
  3: ['direction', u8],
  4: ['sreg', be32],
});

/** NFTA_FIB_*: a route lookup on the packet's addresses (linux/netfilter/nf_tables.h, enum nft_fib_attributes). */
export const nftFibAttrs = space('NFTA_FIB', {
  1: ['dreg', be32],
  /** NFT_FIB_RESULT.* */
  2: ['result', be32],
  /** NFTA_FIB_F.*: which fields of the packet the lookup uses, and whether only existence is wanted. */
  3: ['flags', be32],
});

/** NFTA_EXPR_DATA by NFTA_EXPR_NAME. */
export const nftExprData = byKind('name', {
  meta: nest(nftMetaAttrs),
  payload: nest(nftPayloadAttrs),
  cmp: nest(nftCmpAttrs),
  range: nest(nftRangeAttrs),
  lookup: nest(nftLookupAttrs),
  immediate: nest(nftImmediateAttrs),
  bitwise: nest(nftBitwiseAttrs),
  counter: nest(nftCounterAttrs),
  masq: nest(nftMasqAttrs),
  nat: nest(nftNatAttrs),
  ct: nest(nftCtAttrs),
  fib: nest(nftFibAttrs),
});

/** NFTA_EXPR_* */
export const nftExprAttrs = space('NFTA_EXPR', {
  1: ['name', cstring],
  2: ['data', nftExprData, { flags: NLA_F_NESTED }],
});

export type NftMetaData = AttrsOfSpace<typeof nftMetaAttrs>;
export type NftPayloadData = AttrsOfSpace<typeof nftPayloadAttrs>;
export type NftCmpData = AttrsOfSpace<typeof nftCmpAttrs>;
export type NftRangeData = AttrsOfSpace<typeof nftRangeAttrs>;
export type NftLookupData = AttrsOfSpace<typeof nftLookupAttrs>;
export type NftImmediateData = AttrsOfSpace<typeof nftImmediateAttrs>;
export type NftBitwiseData = AttrsOfSpace<typeof nftBitwiseAttrs>;
export type NftCounterData = AttrsOfSpace<typeof nftCounterAttrs>;
export type NftMasqData = AttrsOfSpace<typeof nftMasqAttrs>;
export type NftNatData = AttrsOfSpace<typeof nftNatAttrs>;
export type NftCtData = AttrsOfSpace<typeof nftCtAttrs>;
export type NftFibData = AttrsOfSpace<typeof nftFibAttrs>;

/** One expression: its name and its data (raw bytes for expressions this code does not know). */
export type NftExpression = AttrsOfSpace<typeof nftExprAttrs>;

/** A list of expressions (NFTA_RULE_EXPRESSIONS, NFTA_SET_EXPRESSIONS, ...). */
export const nftExpressionList = nftList('NFTA_LIST', nest(nftExprAttrs));

// ---- constants ----

/** enum nft_meta_keys */
export const NFT_META = {
  LEN: 0,
  PROTOCOL: 1,
  PRIORITY: 2,
  MARK: 3,
  IIF: 4,
  OIF: 5,
  IIFNAME: 6,
  OIFNAME: 7,
  IIFTYPE: 8,
  OIFTYPE: 9,
  SKUID: 10,
  SKGID: 11,
  NFTRACE: 12,
  RTCLASSID: 13,
  SECMARK: 14,
  NFPROTO: 15,
  L4PROTO: 16,
  BRI_IIFNAME: 17,
  BRI_OIFNAME: 18,
  PKTTYPE: 19,
  CPU: 20,
  IIFGROUP: 21,
  OIFGROUP: 22,
  CGROUP: 23,
  PRANDOM: 24,
  SECPATH: 25,
  IIFKIND: 26,
  OIFKIND: 27,
  BRI_IIFPVID: 28,
  BRI_IIFVPROTO: 29,
  TIME_NS: 30,
  TIME_DAY: 31,
  TIME_HOUR: 32,
  SDIF: 33,
  SDIFNAME: 34,
} as const;

/** enum nft_payload_bases */
export const NFT_PAYLOAD = {
  LL_HEADER: 0,
  NETWORK_HEADER: 1,
  TRANSPORT_HEADER: 2,
  INNER_HEADER: 3,
} as const;

/** enum nft_cmp_ops */
export const NFT_CMP = { EQ: 0, NEQ: 1, LT: 2, LTE: 3, GT: 4, GTE: 5 } as const;

/** enum nft_range_ops */
export const NFT_RANGE = { EQ: 0, NEQ: 1 } as const;

/** enum nft_lookup_flags */
export const NFT_LOOKUP_F_INV = 1 << 0;

/** enum nft_bitwise_ops */
export const NFT_BITWISE = { MASK_XOR: 0, LSHIFT: 1, RSHIFT: 2 } as const;

/** enum nft_nat_types */
export const NFT_NAT = { SNAT: 0, DNAT: 1 } as const;

/** enum nft_ct_keys (the ones most rules use) */
export const NFT_CT = {
  STATE: 0,
  DIRECTION: 1,
  STATUS: 2,
  MARK: 3,
  SECMARK: 4,
  EXPIRATION: 5,
  HELPER: 6,
  L3PROTOCOL: 7,
  SRC: 8,
  DST: 9,
  PROTOCOL: 10,
  PROTO_SRC: 11,
  PROTO_DST: 12,
  LABELS: 13,
  PKTS: 14,
  BYTES: 15,
  AVGPKT: 16,
  ZONE: 17,
  EVENTMASK: 18,
  SRC_IP: 19,
  DST_IP: 20,
  SRC_IP6: 21,
  DST_IP6: 22,
  ID: 23,
} as const;

/** enum nft_fib_result: what a fib lookup loads into its register. */
export const NFT_FIB_RESULT = {
  UNSPEC: 0,
  /** The output interface's index (0: no route); with NFTA_FIB_F.PRESENT, 1 or 0. */
  OIF: 1,
  /** The output interface's name (16 bytes). */
  OIFNAME: 2,
  /** The route type of the address (RTN_*: unicast, local, ...). */
  ADDRTYPE: 3,
} as const;

/** enum nft_fib_flags */
export const NFTA_FIB_F = {
  /** Look the source address up ("fib saddr"). */
  SADDR: 1 << 0,
  /** Look the destination address up ("fib daddr"). */
  DADDR: 1 << 1,
  /** Use the packet mark ("... . mark"). */
  MARK: 1 << 2,
  /** Only routes through the input interface count ("... . iif"). */
  IIF: 1 << 3,
  /** Only routes through the output interface count ("... . oif"). */
  OIF: 1 << 4,
  /** Load whether a result exists (nft's "exists"/"missing") rather than the result itself. */
  PRESENT: 1 << 5,
} as const;

/** NF_NAT_RANGE_* flags of masq and nat (linux/netfilter/nf_nat.h). */
export const NF_NAT_RANGE = {
  MAP_IPS: 1 << 0,
  PROTO_SPECIFIED: 1 << 1,
  PROTO_RANDOM: 1 << 2,
  PERSISTENT: 1 << 3,
  PROTO_RANDOM_FULLY: 1 << 4,
  PROTO_OFFSET: 1 << 5,
  NETMAP: 1 << 6,
} as const;

// ---- building expressions ----

const value = (v: Uint8Array): NftData => ({ value: Buffer.from(v) });

/**
 * Expressions as `nft` builds them: the attributes in the order nft sends them, registers as numbers
 * (NFT_REG.R1 unless told). `nftExpr.lookup('pods4', NFT_REG.R1, { invert: true })` is `!= @pods4`.
 */
export const nftExpr = {
  /** Loads meta data item `key` (NFT_META.*) into `dreg`. */
  meta(key: number, dreg: number = NFT_REG.R1): NftExpression {
    return { name: 'meta', data: { key, dreg } };
  },
  /** Loads `len` bytes at `offset` from header `base` (NFT_PAYLOAD.*) into `dreg`. */
  payload(base: number, offset: number, len: number, dreg: number = NFT_REG.R1): NftExpression {
    return { name: 'payload', data: { dreg, base, offset, len } };
  },
  /** Compares `sreg` with `data` using `op` (NFT_CMP.*); the rule stops here when false. */
  cmp(op: number, data: Uint8Array, sreg: number = NFT_REG.R1): NftExpression {
    return { name: 'cmp', data: { sreg, op, data: value(data) } };
  },
  /** Looks `sreg` up in the set named `set`; with invert, matches when it is absent. */
  lookup(set: string, sreg: number = NFT_REG.R1, options: { invert?: boolean; setId?: number } = {}): NftExpression {
    const d: NftLookupData = { sreg, set };
    if (options.setId !== undefined) d.setId = options.setId;
    if (options.invert) d.flags = NFT_LOOKUP_F_INV;
    return { name: 'lookup', data: d };
  },
  /** Loads a verdict (NF_VERDICT.*) into the verdict register: accept, drop, jump to `chain`, ... */
  verdict(code: number, chain?: string): NftExpression {
    return { name: 'immediate', data: { dreg: NFT_REG.VERDICT, data: { verdict: chain === undefined ? { code } : { code, chain } } } };
  },
  /** Loads `data` into `dreg`. */
  immediate(data: Uint8Array, dreg: number = NFT_REG.R1): NftExpression {
    return { name: 'immediate', data: { dreg, data: value(data) } };
  },
  /** dreg = (sreg & mask) ^ xor over `mask.length` bytes. */
  bitwise(mask: Uint8Array, xor: Uint8Array, sreg: number = NFT_REG.R1, dreg: number = sreg): NftExpression {
    return { name: 'bitwise', data: { sreg, dreg, len: mask.length, mask: value(mask), xor: value(xor) } };
  },
  /** Counts packets and bytes. */
  counter(): NftExpression {
    return { name: 'counter', data: { bytes: 0n, packets: 0n } };
  },
  /** Masquerades: source NAT to the outgoing interface's address. `flags`: NF_NAT_RANGE.* */
  masq(flags = 0): NftExpression {
    return { name: 'masq', data: flags ? { flags } : {} };
  },
  /**
   * Looks the packet's addresses up in the routing table (`flags`: NFTA_FIB_F.*) and loads
   * `result` (NFT_FIB_RESULT.*) into `dreg`: `fib saddr . iif oif missing` is
   * fib(SADDR | IIF | PRESENT, OIF) followed by a comparison with 0.
   */
  fib(flags: number, result: number, dreg: number = NFT_REG.R1): NftExpression {
    return { name: 'fib', data: { flags, result, dreg } };
  },
  /** Source or destination NAT to the address in `regAddrMin` (NFT_NAT.*, family NFPROTO_IPV4/IPV6). */
  nat(type: number, family: number, regAddrMin: number, options: { regAddrMax?: number; regProtoMin?: number; regProtoMax?: number; flags?: number } = {}): NftExpression {
    const d: NftNatData = { type, family, regAddrMin };
    if (options.regAddrMax !== undefined) d.regAddrMax = options.regAddrMax;
    if (options.regProtoMin !== undefined) d.regProtoMin = options.regProtoMin;
    if (options.regProtoMax !== undefined) d.regProtoMax = options.regProtoMax;
    if (options.flags !== undefined) d.flags = options.flags;
    return { name: 'nat', data: d };
  },
};
