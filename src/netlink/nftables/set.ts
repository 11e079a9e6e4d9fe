// nf_tables sets and their elements: NFTA_SET_*, NFTA_SET_DESC_*, NFTA_SET_ELEM_LIST_* and
// NFTA_SET_ELEM_* (linux/netfilter/nf_tables.h). NFT_MSG_NEWSET/GETSET/DELSET/DESTROYSET carry a set;
// NFT_MSG_NEWSETELEM/GETSETELEM/DELSETELEM/DESTROYSETELEM carry a list of elements of one set.
import { NLA_F_NESTED, nest, space, type AttrsOfSpace } from '../attributes.js';
import { messageKind, type MessageOf, type RequestOf } from '../message.js';
import { be32, be64, bytes, cstring } from '../types.js';
import { nftData, nftList, nfgenmsg, nftTypes } from './common.js';
import { nftExprAttrs, nftExpressionList } from './expressions.js';

/** enum nft_set_flags */
export const NFT_SET_F = {
  ANONYMOUS: 0x1,
  CONSTANT: 0x2,
  /** Elements are ranges: a start element and an end element (NFT_SET_ELEM_F.INTERVAL_END) each. */
  INTERVAL: 0x4,
  MAP: 0x8,
  TIMEOUT: 0x10,
  EVAL: 0x20,
  OBJECT: 0x40,
  CONCAT: 0x80,
  EXPR: 0x100,
} as const;

/** enum nft_set_policies */
export const NFT_SET_POL = { PERFORMANCE: 0, MEMORY: 1 } as const;

/** enum nft_set_elem_flags */
export const NFT_SET_ELEM_F = {
  /** The element closes the interval opened by the previous start element (its key is one past the last value). */
  INTERVAL_END: 0x1,
  CATCHALL: 0x2,
} as const;

/**
 * Key types as nft numbers its data types (NFTA_SET_KEY_TYPE is informational for the kernel; nft
 * reads it back to print elements): ipv4_addr is 7, ipv6_addr 8.
 */
export const NFT_DATATYPE = {
  VERDICT: 1,
  NFPROTO: 2,
  BITMASK: 3,
  INTEGER: 4,
  STRING: 5,
  LLADDR: 6,
  IPADDR: 7,
  IP6ADDR: 8,
  ETHERADDR: 9,
  ETHERTYPE: 10,
  INET_PROTOCOL: 12,
  INET_SERVICE: 13,
  MARK: 19,
  IFINDEX: 20,
  IFNAME: 41,
} as const;

/** NFTA_SET_FIELD_* : one field of a concatenated key. */
export const nftSetFieldAttrs = space('NFTA_SET_FIELD', {
  /** In bytes. */
  1: ['len', be32],
});

/** NFTA_SET_DESC_* */
export const nftSetDescAttrs = space('NFTA_SET_DESC', {
  /** How many elements the set is expected to hold (helps the kernel pick a backend). */
  1: ['size', be32],
  2: ['concat', nftList('NFTA_LIST', nest(nftSetFieldAttrs)), { flags: NLA_F_NESTED }],
});

export const nftSetAttrs = space('NFTA_SET', {
  1: ['table', cstring],
  2: ['name', cstring],
  /** NFT_SET_F.* */
  3: ['flags', be32],
  /** NFT_DATATYPE.* (for user space) */
  4: ['keyType', be32],
  /** In bytes: 4 for IPv4 addresses, 16 for IPv6. */
  5: ['keyLen', be32],
  6: ['dataType', be32],
  7: ['dataLen', be32],
  /** NFT_SET_POL.* */
  8: ['policy', be32],
  9: ['desc', nest(nftSetDescAttrs), { flags: NLA_F_NESTED }],
  /** Identifies the set inside one batch before the kernel has named or numbered it. */
  10: ['id', be32],
  /** Default element timeout in milliseconds. */
  11: ['timeout', be64],
  12: ['gcInterval', be32],
  /** Free-form bytes for user space; nft stores a TLV list (key byte order, comment, ...). */
  13: ['userdata', bytes],
  14: ['pad', bytes],
  15: ['objType', be32],
  16: ['handle', be64],
  17: ['expr', nest(nftExprAttrs), { flags: NLA_F_NESTED }],
  18: ['expressions', nftExpressionList, { flags: NLA_F_NESTED }],
  /** The backend the kernel chose (Linux 6.16+, in dumps only). */
  19: ['type', cstring],
  /** How many elements the set holds (Linux 6.16+, in dumps only). */
  20: ['count', be32],
});
export type NftSetAttrs = AttrsOfSpace<typeof nftSetAttrs>;

/** NFTA_SET_ELEM_* : one element. */
export const nftSetElemAttrs = space('NFTA_SET_ELEM', {
  /** The key as a register holds it (addresses in network byte order). */
  1: ['key', nftData, { flags: NLA_F_NESTED }],
  /** The mapped value, in maps. */
  2: ['data', nftData, { flags: NLA_F_NESTED }],
  /** NFT_SET_ELEM_F.* */
  3: ['flags', be32],
  4: ['timeout', be64],
  5: ['expiration', be64],
  6: ['userdata', bytes],
  7: ['expr', nest(nftExprAttrs), { flags: NLA_F_NESTED }],
  8: ['pad', bytes],
  9: ['objref', cstring],
  /** The end of a range in one element (concatenated interval sets). */
  10: ['keyEnd', nftData, { flags: NLA_F_NESTED }],
  11: ['expressions', nftExpressionList, { flags: NLA_F_NESTED }],
});
export type NftSetElem = AttrsOfSpace<typeof nftSetElemAttrs>;

/** NFTA_SET_ELEM_LIST_* : the elements of one set. */
export const nftSetElemListAttrs = space('NFTA_SET_ELEM_LIST', {
  1: ['table', cstring],
  2: ['set', cstring],
  3: ['elements', nftList('NFTA_LIST', nest(nftSetElemAttrs)), { flags: NLA_F_NESTED }],
  4: ['setId', be32],
});
export type NftSetElemListAttrs = AttrsOfSpace<typeof nftSetElemListAttrs>;

export const nftSet = messageKind({
  name: 'nftSet',
  headerKey: 'nfgen',
  header: nfgenmsg,
  attrs: nftSetAttrs,
  types: nftTypes('NEWSET', 'GETSET', 'DELSET', 'DESTROYSET'),
});
export type NftSetMessage = MessageOf<typeof nftSet>;
export type NftSetRequest = RequestOf<typeof nftSet>;

export const nftSetElem = messageKind({
  name: 'nftSetElem',
  headerKey: 'nfgen',
  header: nfgenmsg,
  attrs: nftSetElemListAttrs,
  types: nftTypes('NEWSETELEM', 'GETSETELEM', 'DELSETELEM', 'DESTROYSETELEM', 'GETSETELEM_RESET'),
});
export type NftSetElemMessage = MessageOf<typeof nftSetElem>;
export type NftSetElemRequest = RequestOf<typeof nftSetElem>;
