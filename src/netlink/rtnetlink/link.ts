// Network devices: struct ifinfomsg and IFLA_* (linux/if_link.h, numbers as of Linux 6.18+),
// RTM_NEWLINK/DELLINK/GETLINK/SETLINK. Kind-specific data lives in link-kinds/, one file per kind.
import { byKind, NLA_F_NESTED, nest, space, type AttrsOfSpace } from '../attributes.js';
import { devconf, lazy, uint } from '../compound.js';
import { messageKind, type MessageOf, type RequestOf } from '../message.js';
import { arrayOf, be16, bytes, cstring, fixedBytes, ipaddr, lladdr, pad, s32, struct, u16, u32, u64, u8 } from '../types.js';
import { bridgeAttrs } from './link-kinds/bridge.js';
import { bridgeAfSpecAttrs, bridgePortAttrs } from './link-kinds/bridge-port.js';
import { macvlanAttrs } from './link-kinds/macvlan.js';
import { vethAttrs } from './link-kinds/veth.js';
import { vlanAttrs } from './link-kinds/vlan.js';
import { vxlanAttrs } from './link-kinds/vxlan.js';

export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_SETLINK = 19;

export const ifinfomsg = struct('ifinfomsg', {
  /** AF_UNSPEC (0) for ordinary link messages, AF_BRIDGE (7) for a bridge's view of its ports. */
  family: u8,
  _pad: pad(1),
  /** ARPHRD_* (1 for Ethernet, 772 for loopback). */
  type: u16,
  index: s32,
  /** IFF_* bits. */
  flags: u32,
  /** Which IFF_* bits a request sets to their value in `flags`; 0 changes none. */
  change: u32,
});
export type IfInfo = ReturnType<typeof ifinfomsg.zero>;

/** Device flags (net_device_flags, linux/if.h). */
export const IFF_UP = 1 << 0;
export const IFF_BROADCAST = 1 << 1;
export const IFF_DEBUG = 1 << 2;
export const IFF_LOOPBACK = 1 << 3;
export const IFF_POINTOPOINT = 1 << 4;
export const IFF_NOTRAILERS = 1 << 5;
export const IFF_RUNNING = 1 << 6;
export const IFF_NOARP = 1 << 7;
export const IFF_PROMISC = 1 << 8;
export const IFF_ALLMULTI = 1 << 9;
export const IFF_MASTER = 1 << 10;
export const IFF_SLAVE = 1 << 11;
export const IFF_MULTICAST = 1 << 12;
export const IFF_PORTSEL = 1 << 13;
export const IFF_AUTOMEDIA = 1 << 14;
export const IFF_DYNAMIC = 1 << 15;
export const IFF_LOWER_UP = 1 << 16;
export const IFF_DORMANT = 1 << 17;
export const IFF_ECHO = 1 << 18;

/** IFLA_OPERSTATE values (RFC 2863, linux/if.h). */
export const IF_OPER = { UNKNOWN: 0, NOTPRESENT: 1, DOWN: 2, LOWERLAYERDOWN: 3, TESTING: 4, DORMANT: 5, UP: 6 } as const;

/** IFLA_LINKMODE values. */
export const IF_LINK_MODE = { DEFAULT: 0, DORMANT: 1, TESTING: 2 } as const;

/** IFLA_EXT_MASK bits (RTEXT_FILTER_*, linux/rtnetlink.h): what a GETLINK should add or leave out. */
export const RTEXT_FILTER = {
  VF: 1 << 0,
  BRVLAN: 1 << 1,
  BRVLAN_COMPRESSED: 1 << 2,
  SKIP_STATS: 1 << 3,
  MRP: 1 << 4,
  CFM_CONFIG: 1 << 5,
  CFM_STATUS: 1 << 6,
  MST: 1 << 7,
} as const;

// ---- statistics and the old ifmap ----

const counterNames = [
  'rxPackets', 'txPackets', 'rxBytes', 'txBytes', 'rxErrors', 'txErrors', 'rxDropped', 'txDropped',
  'multicast', 'collisions',
  'rxLengthErrors', 'rxOverErrors', 'rxCrcErrors', 'rxFrameErrors', 'rxFifoErrors', 'rxMissedErrors',
  'txAbortedErrors', 'txCarrierErrors', 'txFifoErrors', 'txHeartbeatErrors', 'txWindowErrors',
  'rxCompressed', 'txCompressed', 'rxNohandler',
] as const;
type Counters<T> = { [K in (typeof counterNames)[number]]: T };
const counters = <T>(type: T) => Object.fromEntries(counterNames.map((n) => [n, type])) as Counters<T>;

/** struct rtnl_link_stats: the 32-bit counters (IFLA_STATS). */
export const linkStats = struct('rtnl_link_stats', counters(u32));

/** struct rtnl_link_stats64 (IFLA_STATS64). Newer kernels append counters; they are kept as the struct's tail. */
export const linkStats64 = struct('rtnl_link_stats64', { ...counters(u64), rxOtherhostDropped: u64 });

/** struct rtnl_link_ifmap, padded to its 8-byte alignment as the kernel sends it. */
export const linkIfmap = struct('rtnl_link_ifmap', {
  memStart: u64,
  memEnd: u64,
  baseAddr: u64,
  irq: u16,
  dma: u8,
  port: u8,
  _pad: pad(4),
});

// ---- IFLA_LINKINFO ----

export const linkInfoAttrs = space('IFLA_INFO', {
  1: ['kind', cstring],
  2: ['data', byKind('kind', {
    // vethAttrs comes from a module that imports this one: resolved when first used.
    veth: lazy(() => nest(vethAttrs)),
    bridge: nest(bridgeAttrs),
    vxlan: nest(vxlanAttrs),
    vlan: nest(vlanAttrs),
    macvlan: nest(macvlanAttrs),
    macvtap: nest(macvlanAttrs),
  })],
  3: ['xstats', bytes],
  4: ['slaveKind', cstring],
  5: ['slaveData', byKind('slaveKind', { bridge: nest(bridgePortAttrs) })],
});

// ---- IFLA_AF_SPEC in AF_UNSPEC messages: one nest per address family, numbered by AF_* ----

/** IFLA_INET6_ADDR_GEN_MODE values. */
export const IN6_ADDR_GEN_MODE = { EUI64: 0, NONE: 1, STABLE_PRIVACY: 2, RANDOM: 3 } as const;

/** IPV4_DEVCONF_* ids the library names (the index into IFLA_INET_CONF's array is the id - 1). */
export const IPV4_DEVCONF = { FORWARDING: 1, PROXY_ARP: 3, RP_FILTER: 8, ARP_ANNOUNCE: 18, ARP_IGNORE: 19 } as const;

export const inetAfAttrs = space('IFLA_INET', {
  /** The IPV4_DEVCONF_* values, indexed from IPV4_DEVCONF_FORWARDING (1) at [0]; a request sets the entries present. */
  1: ['conf', devconf],
});

export const inet6Cacheinfo = struct('ifla_cacheinfo', { maxReasmLen: u32, tstamp: u32, reachableTime: u32, retransTime: u32 });

export const inet6AfAttrs = space('IFLA_INET6', {
  1: ['flags', u32],
  /** The DEVCONF_* values, indexed by their enum. */
  2: ['conf', arrayOf(s32)],
  3: ['stats', arrayOf(u64)],
  4: ['mcast', bytes],
  5: ['cacheinfo', inet6Cacheinfo],
  6: ['icmp6stats', arrayOf(u64)],
  7: ['token', ipaddr],
  8: ['addrGenMode', u8],
  9: ['raMtu', u32],
});

export const afSpecAttrs = space('AF', {
  2: ['inet', nest(inetAfAttrs)],
  10: ['inet6', nest(inet6AfAttrs)],
});

// ---- SR-IOV virtual functions and port profiles ----

const vfSetting = (name: string) => struct(name, { vf: u32, setting: u32 });
const vfGuid = struct('ifla_vf_guid', { vf: u32, _pad: pad(4), guid: u64 });

export const vfStatsAttrs = space('IFLA_VF_STATS', {
  0: ['rxPackets', u64],
  1: ['txPackets', u64],
  2: ['rxBytes', u64],
  3: ['txBytes', u64],
  4: ['broadcast', u64],
  5: ['multicast', u64],
  6: ['pad', bytes],
  7: ['rxDropped', u64],
  8: ['txDropped', u64],
});

export const vfVlanListAttrs = space('IFLA_VF_VLAN_INFO', {
  1: ['info', struct('ifla_vf_vlan_info', { vf: u32, vlan: u32, qos: u32, vlanProto: be16, _pad: pad(2) }), { multi: true }],
});

export const vfAttrs = space('IFLA_VF', {
  1: ['mac', struct('ifla_vf_mac', { vf: u32, mac: fixedBytes(32) })],
  2: ['vlan', struct('ifla_vf_vlan', { vf: u32, vlan: u32, qos: u32 })],
  3: ['txRate', struct('ifla_vf_tx_rate', { vf: u32, rate: u32 })],
  4: ['spoofchk', vfSetting('ifla_vf_spoofchk')],
  5: ['linkState', struct('ifla_vf_link_state', { vf: u32, linkState: u32 })],
  6: ['rate', struct('ifla_vf_rate', { vf: u32, minTxRate: u32, maxTxRate: u32 })],
  7: ['rssQueryEn', vfSetting('ifla_vf_rss_query_en')],
  8: ['stats', nest(vfStatsAttrs)],
  9: ['trust', vfSetting('ifla_vf_trust')],
  10: ['ibNodeGuid', vfGuid],
  11: ['ibPortGuid', vfGuid],
  12: ['vlanList', nest(vfVlanListAttrs)],
  13: ['broadcast', fixedBytes(32)],
});

export const vfInfoListAttrs = space('IFLA_VF_INFO', {
  1: ['info', nest(vfAttrs), { multi: true }],
});

export const portAttrs = space('IFLA_PORT', {
  1: ['vf', u32],
  2: ['profile', cstring],
  3: ['vsiType', struct('ifla_port_vsi', { vsiMgrId: u8, vsiTypeId: fixedBytes(3), vsiTypeVersion: u8, _pad: pad(3) })],
  4: ['instanceUuid', fixedBytes(16)],
  5: ['hostUuid', fixedBytes(16)],
  6: ['request', u8],
  7: ['response', u16],
});

export const vfPortsAttrs = space('IFLA_VF_PORT', {
  1: ['port', nest(portAttrs), { multi: true }],
});

// ---- small nests ----

/** A nest of another subsystem's attributes (devlink, DPLL): checked for well-formedness, kept raw. */
const opaqueNest = (prefix: string) => nest(space(prefix, {}));

/** XDP_FLAGS_* for IFLA_XDP_FLAGS. */
export const XDP_FLAGS = { UPDATE_IF_NOEXIST: 1 << 0, SKB_MODE: 1 << 1, DRV_MODE: 1 << 2, HW_MODE: 1 << 3, REPLACE: 1 << 4 } as const;
/** IFLA_XDP_ATTACHED values. */
export const XDP_ATTACHED = { NONE: 0, DRV: 1, SKB: 2, HW: 3, MULTI: 4 } as const;

export const xdpAttrs = space('IFLA_XDP', {
  1: ['fd', s32],
  2: ['attached', u8],
  3: ['flags', u32],
  4: ['progId', u32],
  5: ['drvProgId', u32],
  6: ['skbProgId', u32],
  7: ['hwProgId', u32],
  8: ['expectedFd', s32],
});

export const propListAttrs = space('IFLA', {
  53: ['altIfname', cstring, { multi: true }],
});

export const protoDownReasonAttrs = space('IFLA_PROTO_DOWN_REASON', {
  1: ['mask', u32],
  2: ['value', u32],
});

// ---- IFLA_* ----

const linkTable = {
  1: ['address', lladdr],
  2: ['broadcast', lladdr],
  3: ['ifname', cstring],
  4: ['mtu', u32],
  /** The ifindex of the lower device (for a veth: its peer's, possibly in another namespace). */
  5: ['link', u32],
  6: ['qdisc', cstring],
  7: ['stats', linkStats],
  8: ['cost', u32],
  9: ['priority', u32],
  /** The ifindex of the master (bridge, bond, VRF); 0 in a request releases the device. */
  10: ['master', u32],
  11: ['wireless', bytes],
  /** Sent only in AF_BRIDGE (see bridgeLink) and AF_INET6 messages, with layouts of their own; raw here. */
  12: ['protinfo', bytes],
  13: ['txqlen', u32],
  14: ['map', linkIfmap],
  15: ['weight', u32],
  16: ['operstate', u8],
  17: ['linkmode', u8],
  18: ['linkinfo', nest(linkInfoAttrs)],
  19: ['netNsPid', u32],
  20: ['ifalias', cstring],
  21: ['numVf', u32],
  22: ['vfinfoList', nest(vfInfoListAttrs)],
  23: ['stats64', linkStats64],
  24: ['vfPorts', nest(vfPortsAttrs)],
  25: ['portSelf', nest(portAttrs)],
  26: ['afSpec', nest(afSpecAttrs)],
  27: ['group', u32],
  28: ['netNsFd', s32],
  29: ['extMask', u32],
  30: ['promiscuity', u32],
  31: ['numTxQueues', u32],
  32: ['numRxQueues', u32],
  33: ['carrier', u8],
  34: ['physPortId', bytes],
  35: ['carrierChanges', u32],
  36: ['physSwitchId', bytes],
  37: ['linkNetnsid', s32],
  38: ['physPortName', cstring],
  39: ['protoDown', u8],
  40: ['gsoMaxSegs', u32],
  41: ['gsoMaxSize', u32],
  42: ['pad', bytes],
  43: ['xdp', nest(xdpAttrs)],
  44: ['event', u32],
  45: ['newNetnsid', s32],
  /** IFLA_IF_NETNSID: act on (or list) devices of the namespace with this id. */
  46: ['targetNetnsid', s32],
  47: ['carrierUpCount', u32],
  48: ['carrierDownCount', u32],
  49: ['newIfindex', s32],
  50: ['minMtu', u32],
  51: ['maxMtu', u32],
  52: ['propList', nest(propListAttrs), { flags: NLA_F_NESTED }],
  53: ['altIfname', cstring],
  54: ['permAddress', lladdr],
  55: ['protoDownReason', nest(protoDownReasonAttrs), { flags: NLA_F_NESTED }],
  56: ['parentDevName', cstring],
  57: ['parentDevBusName', cstring],
  58: ['groMaxSize', u32],
  59: ['tsoMaxSize', u32],
  60: ['tsoMaxSegs', u32],
  61: ['allmulti', u32],
  62: ['devlinkPort', opaqueNest('DEVLINK_ATTR'), { flags: NLA_F_NESTED }],
  63: ['gsoIpv4MaxSize', u32],
  64: ['groIpv4MaxSize', u32],
  65: ['dpllPin', opaqueNest('DPLL_A_PIN'), { flags: NLA_F_NESTED }],
  66: ['maxPacingOffloadHorizon', uint],
  67: ['netnsImmutable', u8],
  68: ['headroom', u16],
  69: ['tailroom', u16],
} as const;

/** IFLA_* as in link messages of family AF_UNSPEC, what `ip link` sends and the kernel dumps by default. */
export const linkAttrs = space('IFLA', linkTable);

/**
 * IFLA_* as in link messages of family AF_BRIDGE (`bridge link`, `bridge vlan`): IFLA_PROTINFO holds a
 * port's IFLA_BRPORT_* settings and IFLA_AF_SPEC holds IFLA_BRIDGE_* directly, not nests per family.
 */
export const bridgeLinkAttrs = space('IFLA', {
  ...linkTable,
  12: ['protinfo', nest(bridgePortAttrs), { flags: NLA_F_NESTED }],
  26: ['afSpec', nest(bridgeAfSpecAttrs)],
});

export type LinkAttrs = AttrsOfSpace<typeof linkAttrs>;
export type BridgeLinkAttrs = AttrsOfSpace<typeof bridgeLinkAttrs>;

const linkTypes = { [RTM_NEWLINK]: 'RTM_NEWLINK', [RTM_DELLINK]: 'RTM_DELLINK', [RTM_GETLINK]: 'RTM_GETLINK', [RTM_SETLINK]: 'RTM_SETLINK' };

/** Link messages (family AF_UNSPEC). Those of family AF_BRIDGE share the types but need bridgeLink. */
export const link = messageKind({
  name: 'link',
  headerKey: 'ifinfo',
  header: ifinfomsg,
  attrs: linkAttrs,
  types: linkTypes,
});

/** Link messages of family AF_BRIDGE: a bridge's ports, their STP and flood settings, and VLANs. */
export const bridgeLink = messageKind({
  name: 'bridgeLink',
  headerKey: 'ifinfo',
  header: ifinfomsg,
  attrs: bridgeLinkAttrs,
  types: linkTypes,
});

export type LinkMessage = MessageOf<typeof link>;
export type LinkRequest = RequestOf<typeof link>;
export type BridgeLinkMessage = MessageOf<typeof bridgeLink>;
export type BridgeLinkRequest = RequestOf<typeof bridgeLink>;
