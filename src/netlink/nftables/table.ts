// nf_tables tables: NFTA_TABLE_* (linux/netfilter/nf_tables.h), NFT_MSG_NEWTABLE/GETTABLE/DELTABLE/DESTROYTABLE.
import { space, type AttrsOfSpace } from '../attributes.js';
import { messageKind, type MessageOf, type RequestOf } from '../message.js';
import { be32, be64, bytes, cstring } from '../types.js';
import { nfgenmsg, nftTypes } from './common.js';

/** enum nft_table_flags */
export const NFT_TABLE_F = {
  DORMANT: 0x1,
  /** The table belongs to the netlink socket that created it and goes away with it. */
  OWNER: 0x2,
  /** An owned table outlives its owner. */
  PERSIST: 0x4,
} as const;

export const nftTableAttrs = space('NFTA_TABLE', {
  1: ['name', cstring],
  /** NFT_TABLE_F.* */
  2: ['flags', be32],
  /** How many chains, sets, ... the table holds. */
  3: ['use', be32],
  4: ['handle', be64],
  5: ['pad', bytes],
  /** Free-form bytes for user space; nft stores a TLV list (see userdata.ts). */
  6: ['userdata', bytes],
  /** The netlink port id of the owner, with NFT_TABLE_F.OWNER. */
  7: ['owner', be32],
});
export type NftTableAttrs = AttrsOfSpace<typeof nftTableAttrs>;

export const nftTable = messageKind({
  name: 'nftTable',
  headerKey: 'nfgen',
  header: nfgenmsg,
  attrs: nftTableAttrs,
  types: nftTypes('NEWTABLE', 'GETTABLE', 'DELTABLE', 'DESTROYTABLE'),
});
export type NftTableMessage = MessageOf<typeof nftTable>;
export type NftTableRequest = RequestOf<typeof nftTable>;
