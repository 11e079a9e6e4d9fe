// A bridge's ports: IFLA_BRPORT_* (linux/if_link.h), the slave data of a device whose master is a bridge
// (IFLA_INFO_SLAVE_KIND "bridge"), and IFLA_PROTINFO in AF_BRIDGE link messages.
import { nest, space } from '../../attributes.js';
import { bytes, flag, struct, u16, u32, u64, u8 } from '../../types.js';
import { bridgeIdentifier } from './bridge.js';

/** Spanning-tree port states (BR_STATE_*, linux/if_bridge.h). */
export const BR_STATE = { DISABLED: 0, LISTENING: 1, LEARNING: 2, FORWARDING: 3, BLOCKING: 4 } as const;

/** IFLA_BRPORT_MODE values: hairpin lets frames leave by the port they came in by. */
export const BRIDGE_MODE = { UNSPEC: 0, HAIRPIN: 1 } as const;

export const bridgePortAttrs = space('IFLA_BRPORT', {
  1: ['state', u8],
  2: ['priority', u16],
  3: ['cost', u32],
  4: ['mode', u8],
  5: ['guard', u8],
  6: ['protect', u8],
  7: ['fastLeave', u8],
  8: ['learning', u8],
  9: ['unicastFlood', u8],
  10: ['proxyarp', u8],
  11: ['learningSync', u8],
  12: ['proxyarpWifi', u8],
  13: ['rootId', bridgeIdentifier],
  14: ['bridgeId', bridgeIdentifier],
  15: ['designatedPort', u16],
  16: ['designatedCost', u16],
  17: ['id', u16],
  18: ['no', u16],
  19: ['topologyChangeAck', u8],
  20: ['configPending', u8],
  21: ['messageAgeTimer', u64],
  22: ['forwardDelayTimer', u64],
  23: ['holdTimer', u64],
  24: ['flush', flag],
  25: ['multicastRouter', u8],
  26: ['pad', bytes],
  27: ['mcastFlood', u8],
  28: ['mcastToUcast', u8],
  29: ['vlanTunnel', u8],
  30: ['bcastFlood', u8],
  31: ['groupFwdMask', u16],
  32: ['neighSuppress', u8],
  33: ['isolated', u8],
  /** The ifindex of the port that takes over when this one loses carrier; 0 removes it. */
  34: ['backupPort', u32],
  35: ['mrpRingOpen', u8],
  36: ['mrpInOpen', u8],
  37: ['mcastEhtHostsLimit', u32],
  38: ['mcastEhtHostsCnt', u32],
  39: ['locked', u8],
  40: ['mab', u8],
  41: ['mcastNGroups', u32],
  42: ['mcastMaxGroups', u32],
  43: ['neighVlanSuppress', u8],
  44: ['backupNhid', u32],
  45: ['neighForwardGrat', u8],
});

// ---- IFLA_AF_SPEC[AF_BRIDGE]: a port's VLANs, in link messages of family AF_BRIDGE ----

/** IFLA_BRIDGE_FLAGS: whom a request is for. */
export const BRIDGE_FLAGS = { MASTER: 1, SELF: 2 } as const;

export const BRIDGE_VLAN_INFO = {
  /** Operate on the bridge device as well. */
  MASTER: 1 << 0,
  /** Untagged frames entering the port get this VLAN. */
  PVID: 1 << 1,
  /** Frames of this VLAN leave the port untagged. */
  UNTAGGED: 1 << 2,
  RANGE_BEGIN: 1 << 3,
  RANGE_END: 1 << 4,
  /** A VLAN of the bridge itself (global entry). */
  BRENTRY: 1 << 5,
  ONLY_OPTS: 1 << 6,
} as const;

export const bridgeVlanInfo = struct('bridge_vlan_info', { flags: u16, vid: u16 });

export const bridgeVlanTunnelAttrs = space('IFLA_BRIDGE_VLAN_TUNNEL', {
  1: ['id', u32],
  2: ['vid', u16],
  3: ['flags', u16],
});

export const bridgeAfSpecAttrs = space('IFLA_BRIDGE', {
  0: ['flags', u16],
  1: ['mode', u16],
  2: ['vlanInfo', bridgeVlanInfo, { multi: true }],
  3: ['vlanTunnelInfo', nest(bridgeVlanTunnelAttrs), { multi: true }],
});
