// Routes: struct rtmsg and RTA_* (linux/rtnetlink.h), RTM_NEWROUTE/DELROUTE/GETROUTE.
import { nest, space } from '../attributes.js';
import { messageKind, type MessageOf, type RequestOf } from '../message.js';
import { be16, be32, bytes, cstring, ipaddr, s32, struct, u16, u32, u64, u8 } from '../types.js';
import { nextHops, via } from './route-types.js';

export { nextHops, via, type NextHop, type Via } from './route-types.js';

export const RTM_NEWROUTE = 24;
export const RTM_DELROUTE = 25;
export const RTM_GETROUTE = 26;

export const rtmsg = struct('rtmsg', {
  family: u8,
  dstLen: u8,
  srcLen: u8,
  tos: u8,
  /** The table if below 256; RTA_TABLE carries every table id. */
  table: u8,
  /** RTPROT_* */
  protocol: u8,
  /** RT_SCOPE_* */
  scope: u8,
  /** RTN_* */
  type: u8,
  /** RTM_F_* and RTNH_F_* */
  flags: u32,
});

/** RTA_METRICS: RTAX_* attributes, all u32 but the congestion control algorithm's name. */
export const metricsAttrs = space('RTAX', {
  /** A bit mask of the metrics the kernel must not change, bit n for RTAX n. */
  1: ['lock', u32],
  2: ['mtu', u32],
  3: ['window', u32],
  4: ['rtt', u32],
  5: ['rttvar', u32],
  6: ['ssthresh', u32],
  7: ['cwnd', u32],
  8: ['advmss', u32],
  9: ['reordering', u32],
  10: ['hoplimit', u32],
  11: ['initcwnd', u32],
  /** RTAX_FEATURE_* */
  12: ['features', u32],
  13: ['rtoMin', u32],
  14: ['initrwnd', u32],
  15: ['quickack', u32],
  16: ['ccAlgo', cstring],
  17: ['fastopenNoCookie', u32],
});

export const rtaCacheinfo = struct('rta_cacheinfo', {
  clntref: u32,
  lastuse: u32,
  expires: s32,
  error: u32,
  used: u32,
  id: u32,
  ts: u32,
  tsage: u32,
});

export const rtaMfcStats = struct('rta_mfc_stats', { packets: u64, bytes: u64, wrongIf: u64 });

/** The attributes a next hop of RTA_MULTIPATH may carry (the same numbers as in a route). */
export const nextHopAttrs = space('RTA', {
  5: ['gateway', ipaddr],
  11: ['flow', u32],
  18: ['via', via],
  19: ['newdst', bytes],
  21: ['encapType', u16],
  22: ['encap', bytes],
});

export const routeAttrs = space('RTA', {
  1: ['dst', ipaddr],
  2: ['src', ipaddr],
  3: ['iif', u32],
  4: ['oif', u32],
  5: ['gateway', ipaddr],
  6: ['priority', u32],
  7: ['prefsrc', ipaddr],
  8: ['metrics', nest(metricsAttrs)],
  9: ['multipath', nextHops(nextHopAttrs)],
  10: ['protoinfo', bytes], // no longer used
  11: ['flow', u32],
  12: ['cacheinfo', rtaCacheinfo],
  13: ['session', bytes], // no longer used
  14: ['mpAlgo', bytes], // no longer used
  15: ['table', u32],
  16: ['mark', u32],
  17: ['mfcStats', rtaMfcStats],
  18: ['via', via],
  /** MPLS label stack to swap to. */
  19: ['newdst', bytes],
  /** ICMPV6_ROUTER_PREF_* */
  20: ['pref', u8],
  /** LWTUNNEL_ENCAP_* */
  21: ['encapType', u16],
  // The layout of RTA_ENCAP depends on RTA_ENCAP_TYPE, which the kernel sends after it: kept as bytes.
  22: ['encap', bytes],
  /** Clock ticks (USER_HZ) left before an IPv6 route expires. */
  23: ['expires', u32],
  24: ['pad', bytes],
  25: ['uid', u32],
  26: ['ttlPropagate', u8],
  27: ['ipProto', u8],
  28: ['sport', be16],
  29: ['dport', be16],
  30: ['nhId', u32],
  31: ['flowlabel', be32],
});

export const route = messageKind({
  name: 'route',
  headerKey: 'rtm',
  header: rtmsg,
  attrs: routeAttrs,
  types: { [RTM_NEWROUTE]: 'RTM_NEWROUTE', [RTM_DELROUTE]: 'RTM_DELROUTE', [RTM_GETROUTE]: 'RTM_GETROUTE' },
});

export type RouteMessage = MessageOf<typeof route>;
export type RouteRequest = RequestOf<typeof route>;
export type RouteNextHop = NonNullable<RouteMessage['attrs']['multipath']>[number];

/** rtm_type */
export const RTN = {
  UNSPEC: 0,
  UNICAST: 1,
  LOCAL: 2,
  BROADCAST: 3,
  ANYCAST: 4,
  MULTICAST: 5,
  BLACKHOLE: 6,
  UNREACHABLE: 7,
  PROHIBIT: 8,
  THROW: 9,
  NAT: 10,
  XRESOLVE: 11,
} as const;

/** rtm_protocol: who installed the route. */
export const RTPROT = {
  UNSPEC: 0,
  REDIRECT: 1,
  KERNEL: 2,
  BOOT: 3,
  STATIC: 4,
  GATED: 8,
  RA: 9,
  MRT: 10,
  ZEBRA: 11,
  BIRD: 12,
  DNROUTED: 13,
  XORP: 14,
  NTK: 15,
  DHCP: 16,
  MROUTED: 17,
  KEEPALIVED: 18,
  BABEL: 42,
  OPENR: 99,
  BGP: 186,
  ISIS: 187,
  OSPF: 188,
  RIP: 189,
  EIGRP: 192,
} as const;

/** rtm_scope (also ifa_scope). */
export const RT_SCOPE = { UNIVERSE: 0, SITE: 200, LINK: 253, HOST: 254, NOWHERE: 255 } as const;

/** Reserved table ids (rtm_table, RTA_TABLE, FRA_TABLE). */
export const RT_TABLE = { UNSPEC: 0, COMPAT: 252, DEFAULT: 253, MAIN: 254, LOCAL: 255 } as const;

/** rtm_flags */
export const RTM_F = {
  NOTIFY: 0x100,
  CLONED: 0x200,
  EQUALIZE: 0x400,
  PREFIX: 0x800,
  LOOKUP_TABLE: 0x1000,
  FIB_MATCH: 0x2000,
  OFFLOAD: 0x4000,
  TRAP: 0x8000,
  OFFLOAD_FAILED: 0x20000000,
} as const;

/** rtnh_flags of a next hop; also found in rtm_flags of a single-path route. */
export const RTNH_F = {
  DEAD: 1,
  PERVASIVE: 2,
  ONLINK: 4,
  OFFLOAD: 8,
  LINKDOWN: 16,
  UNRESOLVED: 32,
  TRAP: 64,
} as const;

/** RTAX_FEATURES bits. */
export const RTAX_FEATURE = { ECN: 1, SACK: 2, TIMESTAMP: 4, ALLFRAG: 8 } as const;

/** RTA_PREF (IPv6 router preference). */
export const ICMPV6_ROUTER_PREF = { LOW: 3, MEDIUM: 0, HIGH: 1, INVALID: 2 } as const;

/** RTA_ENCAP_TYPE */
export const LWTUNNEL_ENCAP = {
  NONE: 0,
  MPLS: 1,
  IP: 2,
  ILA: 3,
  IP6: 4,
  SEG6: 5,
  BPF: 6,
  SEG6_LOCAL: 7,
  RPL: 8,
  IOAM6: 9,
  XFRM: 10,
} as const;
