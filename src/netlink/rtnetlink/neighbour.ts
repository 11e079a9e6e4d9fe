// Neighbours and bridge FDB entries: struct ndmsg and NDA_* (linux/neighbour.h),
// RTM_NEWNEIGH/DELNEIGH/GETNEIGH. FDB entries are the same messages with family AF_BRIDGE.
import { nest, NLA_F_NESTED, space } from '../attributes.js';
import { messageKind, type MessageOf, type RequestOf } from '../message.js';
import { be16, flag, ipaddr, lladdr, pad, s32, struct, u16, u32, u8 } from '../types.js';

export const RTM_NEWNEIGH = 28;
export const RTM_DELNEIGH = 29;
export const RTM_GETNEIGH = 30;

/** ndm_family of bridge FDB entries. */
export const AF_BRIDGE = 7;

export const ndmsg = struct('ndmsg', {
  family: u8,
  _pad1: pad(1),
  _pad2: pad(2),
  ifindex: s32,
  /** NUD_* */
  state: u16,
  /** NTF_* */
  flags: u8,
  /** RTN_* (RTN_UNICAST for most entries) */
  type: u8,
});

export const ndaCacheinfo = struct('nda_cacheinfo', {
  /** Milliseconds since the entry was last confirmed, used and updated. */
  confirmed: u32,
  used: u32,
  updated: u32,
  refcnt: u32,
});

/** NDA_FDB_EXT_ATTRS: NFEA_* */
export const fdbExtAttrs = space('NFEA', {
  /** FDB_NOTIFY_* bits */
  1: ['activityNotify', u8],
  2: ['dontRefresh', flag],
});

export const neighbourAttrs = space('NDA', {
  /** The neighbour's IP address; in an AF_BRIDGE (FDB) entry of a vxlan device, the remote VTEP's IP. */
  1: ['dst', ipaddr],
  2: ['lladdr', lladdr],
  3: ['cacheinfo', ndaCacheinfo],
  4: ['probes', u32],
  5: ['vlan', u16],
  /** The remote VTEP's UDP port (vxlan FDB). */
  6: ['port', be16],
  /** The remote VNI (vxlan FDB). */
  7: ['vni', u32],
  8: ['ifindex', u32],
  9: ['master', u32],
  10: ['linkNetnsid', s32],
  11: ['srcVni', u32],
  12: ['protocol', u8],
  13: ['nhId', u32],
  14: ['fdbExtAttrs', nest(fdbExtAttrs), { flags: NLA_F_NESTED }],
  /** NTF_EXT_* */
  15: ['flagsExt', u32],
  16: ['ndmStateMask', u16],
  17: ['ndmFlagsMask', u8],
});

export const neighbour = messageKind({
  name: 'neighbour',
  headerKey: 'ndm',
  header: ndmsg,
  attrs: neighbourAttrs,
  types: { [RTM_NEWNEIGH]: 'RTM_NEWNEIGH', [RTM_DELNEIGH]: 'RTM_DELNEIGH', [RTM_GETNEIGH]: 'RTM_GETNEIGH' },
});

export type NeighbourMessage = MessageOf<typeof neighbour>;
export type NeighbourRequest = RequestOf<typeof neighbour>;

/** ndm_state: neighbour cache entry states. */
export const NUD = {
  NONE: 0x00,
  INCOMPLETE: 0x01,
  REACHABLE: 0x02,
  STALE: 0x04,
  DELAY: 0x08,
  PROBE: 0x10,
  FAILED: 0x20,
  NOARP: 0x40,
  PERMANENT: 0x80,
} as const;

/** ndm_flags */
export const NTF = {
  USE: 1 << 0,
  /** An entry of the device's own table (e.g. a vxlan device's remote list), not its master's. */
  SELF: 1 << 1,
  /** An entry of the master bridge's FDB. */
  MASTER: 1 << 2,
  PROXY: 1 << 3,
  EXT_LEARNED: 1 << 4,
  OFFLOADED: 1 << 5,
  STICKY: 1 << 6,
  ROUTER: 1 << 7,
} as const;

/** NDA_FLAGS_EXT bits. */
export const NTF_EXT = { MANAGED: 1 << 0, LOCKED: 1 << 1 } as const;

/** NFEA_ACTIVITY_NOTIFY bits. */
export const FDB_NOTIFY = { ACTIVITY: 1 << 0, INACTIVE: 1 << 1 } as const;
