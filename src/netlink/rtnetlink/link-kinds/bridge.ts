// Linux bridge devices: IFLA_BR_* (linux/if_link.h), with structs and the querier nest of linux/if_bridge.h.
// Times are clock_t (hundredths of a second with USER_HZ = 100): the settings in u32 or u64,
// the running timers in u64.
import { NLA_F_NESTED, nest, space } from '../../attributes.js';
import { ipv4, ipv6, lladdrOf } from '../../compound.js';
import { be16, bytes, flag, lladdr, struct, u16, u32, u64, u8 } from '../../types.js';

/** A spanning-tree bridge identifier (ifla_bridge_id): 2 bytes of priority and the bridge's MAC. */
export const bridgeIdentifier = struct('ifla_bridge_id', { priority: be16, address: lladdrOf(6) });

/** Sets the br_boolopt_id bits of `optmask` to their values in `optval`. */
export const bridgeBooloptMulti = struct('br_boolopt_multi', { optval: u32, optmask: u32 });

/** Bits of br_boolopt_multi (enum br_boolopt_id). */
export const BR_BOOLOPT = {
  NO_LL_LEARN: 1 << 0,
  MCAST_VLAN_SNOOPING: 1 << 1,
  MST_ENABLE: 1 << 2,
  MDB_OFFLOAD_FAIL_NOTIFICATION: 1 << 3,
  FDB_LOCAL_VLAN_0: 1 << 4,
} as const;

export const BR_STP_MODE = { AUTO: 0, USER: 1, KERNEL: 2 } as const;

/** IFLA_BR_MCAST_ROUTER and IFLA_BRPORT_MULTICAST_ROUTER values. */
export const MDB_RTR_TYPE = { DISABLED: 0, TEMP_QUERY: 1, PERM: 2, TEMP: 3 } as const;

/** The multicast querier the bridge has elected (BRIDGE_QUERIER_*), reported only. */
export const bridgeQuerierAttrs = space('BRIDGE_QUERIER', {
  1: ['ipAddress', ipv4],
  2: ['ipPort', u32],
  3: ['ipOtherTimer', u64],
  4: ['pad', bytes],
  5: ['ipv6Address', ipv6],
  6: ['ipv6Port', u32],
  7: ['ipv6OtherTimer', u64],
});

export const bridgeAttrs = space('IFLA_BR', {
  1: ['forwardDelay', u32],
  2: ['helloTime', u32],
  3: ['maxAge', u32],
  4: ['ageingTime', u32],
  5: ['stpState', u32],
  6: ['priority', u16],
  7: ['vlanFiltering', u8],
  /** ETH_P_8021Q or ETH_P_8021AD. */
  8: ['vlanProtocol', be16],
  9: ['groupFwdMask', u16],
  10: ['rootId', bridgeIdentifier],
  11: ['bridgeId', bridgeIdentifier],
  12: ['rootPort', u16],
  13: ['rootPathCost', u32],
  14: ['topologyChange', u8],
  15: ['topologyChangeDetected', u8],
  16: ['helloTimer', u64],
  17: ['tcnTimer', u64],
  18: ['topologyChangeTimer', u64],
  19: ['gcTimer', u64],
  20: ['groupAddr', lladdr],
  21: ['fdbFlush', flag],
  22: ['mcastRouter', u8],
  23: ['mcastSnooping', u8],
  24: ['mcastQueryUseIfaddr', u8],
  25: ['mcastQuerier', u8],
  26: ['mcastHashElasticity', u32],
  27: ['mcastHashMax', u32],
  28: ['mcastLastMemberCnt', u32],
  29: ['mcastStartupQueryCnt', u32],
  30: ['mcastLastMemberIntvl', u64],
  31: ['mcastMembershipIntvl', u64],
  32: ['mcastQuerierIntvl', u64],
  33: ['mcastQueryIntvl', u64],
  34: ['mcastQueryResponseIntvl', u64],
  35: ['mcastStartupQueryIntvl', u64],
  36: ['nfCallIptables', u8],
  37: ['nfCallIp6tables', u8],
  38: ['nfCallArptables', u8],
  39: ['vlanDefaultPvid', u16],
  40: ['pad', bytes],
  41: ['vlanStatsEnabled', u8],
  42: ['mcastStatsEnabled', u8],
  43: ['mcastIgmpVersion', u8],
  44: ['mcastMldVersion', u8],
  45: ['vlanStatsPerPort', u8],
  46: ['multiBoolopt', bridgeBooloptMulti],
  47: ['mcastQuerierState', nest(bridgeQuerierAttrs), { flags: NLA_F_NESTED }],
  48: ['fdbNLearned', u32],
  49: ['fdbMaxLearned', u32],
  50: ['stpMode', u32],
});
