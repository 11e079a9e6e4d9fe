// 802.1Q/802.1ad VLAN devices: IFLA_VLAN_* (linux/if_link.h), flags from linux/if_vlan.h.
import { nest, space } from '../../attributes.js';
import { be16, struct, u16, u32 } from '../../types.js';

export const ETH_P_8021Q = 0x8100;
export const ETH_P_8021AD = 0x88a8;

/** Bits of ifla_vlan_flags. */
export const VLAN_FLAG = {
  REORDER_HDR: 0x1,
  GVRP: 0x2,
  LOOSE_BINDING: 0x4,
  MVRP: 0x8,
  BRIDGE_BINDING: 0x10,
} as const;

/** Sets the bits of `mask` to their values in `flags`, leaving the others alone. */
export const vlanFlags = struct('ifla_vlan_flags', { flags: u32, mask: u32 });

/** Egress: skb priority -> 802.1p PCP. Ingress: PCP -> skb priority. */
export const vlanQosMapping = struct('ifla_vlan_qos_mapping', { from: u32, to: u32 });

export const vlanQosAttrs = space('IFLA_VLAN_QOS', {
  1: ['mapping', vlanQosMapping, { multi: true }],
});

export const vlanAttrs = space('IFLA_VLAN', {
  1: ['id', u16],
  2: ['flags', vlanFlags],
  3: ['egressQos', nest(vlanQosAttrs)],
  4: ['ingressQos', nest(vlanQosAttrs)],
  /** ETH_P_8021Q or ETH_P_8021AD, in network byte order on the wire. */
  5: ['protocol', be16],
});
