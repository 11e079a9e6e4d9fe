// The ruleset generation: NFTA_GEN_* (linux/netfilter/nf_tables.h). NFT_MSG_GETGEN asks for it, the
// kernel answers NFT_MSG_NEWGEN (also sent to NFNLGRP_NFTABLES after every commit). A batch that
// carries the generation it was computed from (NFNL_BATCH_GENID) fails with ERESTART if another
// commit came in between: compare-and-swap for whole rulesets.
import { space, type AttrsOfSpace } from '../attributes.js';
import { messageKind, type MessageOf } from '../message.js';
import { be32, cstring } from '../types.js';
import { nfgenmsg, nftTypes } from './common.js';

export const nftGenAttrs = space('NFTA_GEN', {
  1: ['id', be32],
  /** In notifications: the process that committed. */
  2: ['procPid', be32],
  3: ['procName', cstring],
});
export type NftGenAttrs = AttrsOfSpace<typeof nftGenAttrs>;

export const nftGen = messageKind({
  name: 'nftGen',
  headerKey: 'nfgen',
  header: nfgenmsg,
  attrs: nftGenAttrs,
  types: nftTypes('NEWGEN', 'GETGEN'),
});
export type NftGenMessage = MessageOf<typeof nftGen>;
