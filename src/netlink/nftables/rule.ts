// nf_tables rules: NFTA_RULE_* (linux/netfilter/nf_tables.h), NFT_MSG_NEWRULE/GETRULE/DELRULE/DESTROYRULE.
// A rule is a list of expressions (expressions.ts) run in order.
import { NLA_F_NESTED, nest, space, type AttrsOfSpace } from '../attributes.js';
import { messageKind, type MessageOf, type RequestOf } from '../message.js';
import { be32, be64, bytes, cstring } from '../types.js';
import { nfgenmsg, nftTypes } from './common.js';
import { nftExpressionList } from './expressions.js';

/** NFTA_RULE_COMPAT_* (rules translated from x_tables). */
export const nftRuleCompatAttrs = space('NFTA_RULE_COMPAT', {
  1: ['proto', be32],
  2: ['flags', be32],
});

export const nftRuleAttrs = space('NFTA_RULE', {
  1: ['table', cstring],
  2: ['chain', cstring],
  3: ['handle', be64],
  4: ['expressions', nftExpressionList, { flags: NLA_F_NESTED }],
  5: ['compat', nest(nftRuleCompatAttrs), { flags: NLA_F_NESTED }],
  /** The handle of the rule to insert after (NLM_F_APPEND) or before. */
  6: ['position', be64],
  /** Free-form bytes for user space; nft stores a TLV list with the rule's comment (see userdata.ts). */
  7: ['userdata', bytes],
  8: ['pad', bytes],
  9: ['id', be32],
  10: ['positionId', be32],
  11: ['chainId', be32],
});
export type NftRuleAttrs = AttrsOfSpace<typeof nftRuleAttrs>;

export const nftRule = messageKind({
  name: 'nftRule',
  headerKey: 'nfgen',
  header: nfgenmsg,
  attrs: nftRuleAttrs,
  types: nftTypes('NEWRULE', 'GETRULE', 'DELRULE', 'DESTROYRULE', 'GETRULE_RESET'),
});
export type NftRuleMessage = MessageOf<typeof nftRule>;
export type NftRuleRequest = RequestOf<typeof nftRule>;
