// VXLAN devices: IFLA_VXLAN_* (linux/if_link.h). Ports and the flow label are in network byte order.
import { space } from '../../attributes.js';
import { ipv4, ipv6 } from '../../compound.js';
import { be16, be32, flag, struct, u32, u8 } from '../../types.js';

export const VXLAN_DF = { UNSET: 0, SET: 1, INHERIT: 2 } as const;
export const VXLAN_LABEL_POLICY = { FIXED: 0, INHERIT: 1 } as const;

/** The UDP source port range (ifla_vxlan_port_range). */
export const vxlanPortRange = struct('ifla_vxlan_port_range', { low: be16, high: be16 });

/** Header bits allowed to be set in received frames (a struct vxlanhdr). */
export const vxlanReservedBits = struct('vxlanhdr', { flags: be32, vni: be32 });

export const vxlanAttrs = space('IFLA_VXLAN', {
  /** The VNI (24 bits). */
  1: ['id', u32],
  /** The remote (unicast) or multicast group address, IPv4. */
  2: ['group', ipv4],
  3: ['link', u32],
  4: ['local', ipv4],
  5: ['ttl', u8],
  6: ['tos', u8],
  7: ['learning', u8],
  /** FDB entry lifetime in seconds. */
  8: ['ageing', u32],
  /** Maximum FDB entries; 0 is unlimited. */
  9: ['limit', u32],
  10: ['portRange', vxlanPortRange],
  11: ['proxy', u8],
  12: ['rsc', u8],
  13: ['l2miss', u8],
  14: ['l3miss', u8],
  /** The destination UDP port (4789 by IANA; the kernel's default is 8472). */
  15: ['port', be16],
  16: ['group6', ipv6],
  17: ['local6', ipv6],
  18: ['udpCsum', u8],
  19: ['udpZeroCsum6Tx', u8],
  20: ['udpZeroCsum6Rx', u8],
  21: ['remcsumTx', u8],
  22: ['remcsumRx', u8],
  23: ['gbp', flag],
  24: ['remcsumNopartial', flag],
  25: ['collectMetadata', u8],
  /** The IPv6 flow label, as it sits in the header (network order). */
  26: ['label', be32],
  27: ['gpe', flag],
  // The kernel reports this as a u8 but its policy takes a zero-length flag on input.
  28: ['ttlInherit', u8],
  29: ['df', u8],
  30: ['vnifilter', u8],
  31: ['localbypass', u8],
  32: ['labelPolicy', u32],
  33: ['reservedBits', vxlanReservedBits],
  34: ['mcRoute', u8],
});
