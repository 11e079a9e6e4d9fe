// nf_tables chains: NFTA_CHAIN_* and NFTA_HOOK_* (linux/netfilter/nf_tables.h),
// NFT_MSG_NEWCHAIN/GETCHAIN/DELCHAIN/DESTROYCHAIN.
import { NLA_F_NESTED, nest, space, type AttrsOfSpace } from '../attributes.js';
import { messageKind, type MessageOf, type RequestOf } from '../message.js';
import { be32, be64, bytes, cstring } from '../types.js';
import { bes32, nftList, nfgenmsg, nftTypes } from './common.js';
import { nftCounterAttrs } from './expressions.js';

/** NFTA_DEVICE_* : one device of a netdev chain's or flowtable's device list. */
export const nftDeviceAttrs = space('NFTA_DEVICE', {
  1: ['name', cstring],
});

/** NFTA_HOOK_* : where a base chain hooks in. */
export const nftHookAttrs = space('NFTA_HOOK', {
  /** NF_INET.* (or the family's own hook numbers) */
  1: ['hooknum', be32],
  /** Signed: negative priorities run first (NFT_PRIORITY.*). */
  2: ['priority', bes32],
  /** The device of a netdev-family chain. */
  3: ['dev', cstring],
  4: ['devs', nftList('NFTA_DEVICE', nest(nftDeviceAttrs))],
});
export type NftHook = AttrsOfSpace<typeof nftHookAttrs>;

/** enum nft_chain_flags */
export const NFT_CHAIN_F = {
  BASE: 1 << 0,
  HW_OFFLOAD: 1 << 1,
  BINDING: 1 << 2,
} as const;

export const nftChainAttrs = space('NFTA_CHAIN', {
  1: ['table', cstring],
  2: ['handle', be64],
  3: ['name', cstring],
  /** Present on base chains only. */
  4: ['hook', nest(nftHookAttrs), { flags: NLA_F_NESTED }],
  /** The base chain's verdict when no rule decides: NF_VERDICT.ACCEPT or DROP. */
  5: ['policy', be32],
  6: ['use', be32],
  /** "filter", "nat" or "route" on base chains. */
  7: ['type', cstring],
  /** NFTA_COUNTER_* of a base chain. */
  8: ['counters', nest(nftCounterAttrs), { flags: NLA_F_NESTED }],
  9: ['pad', bytes],
  /** NFT_CHAIN_F.* */
  10: ['flags', be32],
  11: ['id', be32],
  12: ['userdata', bytes],
});
export type NftChainAttrs = AttrsOfSpace<typeof nftChainAttrs>;

export const nftChain = messageKind({
  name: 'nftChain',
  headerKey: 'nfgen',
  header: nfgenmsg,
  attrs: nftChainAttrs,
  types: nftTypes('NEWCHAIN', 'GETCHAIN', 'DELCHAIN', 'DESTROYCHAIN'),
});
export type NftChainMessage = MessageOf<typeof nftChain>;
export type NftChainRequest = RequestOf<typeof nftChain>;
