// Policy routing rules: struct fib_rule_hdr and FRA_* (linux/fib_rules.h), RTM_NEWRULE/DELRULE/GETRULE.
import { space } from '../attributes.js';
import { messageKind, type MessageOf, type RequestOf } from '../message.js';
import { be32, be64, bytes, cstring, ipaddr, struct, u16, u32, u8 } from '../types.js';

export const RTM_NEWRULE = 32;
export const RTM_DELRULE = 33;
export const RTM_GETRULE = 34;

export const fibRuleHdr = struct('fib_rule_hdr', {
  family: u8,
  dstLen: u8,
  srcLen: u8,
  tos: u8,
  /** The table if below 256; FRA_TABLE carries every table id. */
  table: u8,
  res1: u8,
  res2: u8,
  /** FR_ACT_* */
  action: u8,
  /** FIB_RULE_* */
  flags: u32,
});

export const fibRuleUidRange = struct('fib_rule_uid_range', { start: u32, end: u32 });
export const fibRulePortRange = struct('fib_rule_port_range', { start: u16, end: u16 });

export const ruleAttrs = space('FRA', {
  1: ['dst', ipaddr],
  2: ['src', ipaddr],
  3: ['iifname', cstring],
  /** The priority of the rule to jump to (FR_ACT_GOTO). */
  4: ['goto', u32],
  6: ['priority', u32],
  10: ['fwmark', u32],
  11: ['flow', u32],
  12: ['tunId', be64],
  13: ['suppressIfgroup', u32],
  14: ['suppressPrefixlen', u32],
  15: ['table', u32],
  16: ['fwmask', u32],
  17: ['oifname', cstring],
  18: ['pad', bytes],
  19: ['l3mdev', u8],
  20: ['uidRange', fibRuleUidRange],
  /** RTPROT_* */
  21: ['protocol', u8],
  22: ['ipProto', u8],
  23: ['sportRange', fibRulePortRange],
  24: ['dportRange', fibRulePortRange],
  25: ['dscp', u8],
  26: ['flowlabel', be32],
  27: ['flowlabelMask', be32],
  28: ['sportMask', u16],
  29: ['dportMask', u16],
  30: ['dscpMask', u8],
});

export const rule = messageKind({
  name: 'rule',
  headerKey: 'rule',
  header: fibRuleHdr,
  attrs: ruleAttrs,
  types: { [RTM_NEWRULE]: 'RTM_NEWRULE', [RTM_DELRULE]: 'RTM_DELRULE', [RTM_GETRULE]: 'RTM_GETRULE' },
});

export type RuleMessage = MessageOf<typeof rule>;
export type RuleRequest = RequestOf<typeof rule>;

/** fib_rule_hdr.action */
export const FR_ACT = {
  UNSPEC: 0,
  TO_TBL: 1,
  GOTO: 2,
  NOP: 3,
  BLACKHOLE: 6,
  UNREACHABLE: 7,
  PROHIBIT: 8,
} as const;

/** fib_rule_hdr.flags */
export const FIB_RULE = {
  PERMANENT: 0x1,
  /** The selectors are negated ("not" in `ip rule`). */
  INVERT: 0x2,
  UNRESOLVED: 0x4,
  IIF_DETACHED: 0x8,
  DEV_DETACHED: 0x8,
  OIF_DETACHED: 0x10,
  FIND_SADDR: 0x10000,
} as const;
