import { encodeMessage, NLM_F, type AnyMessage, type MessageKind, type MessageOf, type RequestOf } from './message.js';
import type { ReplyOptions } from './exchange.js';
import { link, RTEXT_FILTER, type LinkAttrs, type LinkMessage } from './rtnetlink/link.js';
import { address, type AddressMessage } from './rtnetlink/address.js';
import { route, type RouteMessage } from './rtnetlink/route.js';
import { AF_BRIDGE, neighbour, type NeighbourMessage } from './rtnetlink/neighbour.js';
import { rule, type RuleMessage } from './rtnetlink/rule.js';
import { filter, qdisc, TC_H_CLSACT, TC_H_MIN_EGRESS, TC_H_MIN_INGRESS, tcHandle, type FilterMessage, type QdiscMessage } from './rtnetlink/tc.js';
import { NetlinkError } from './errors.js';
import { AsyncNetlinkSocket } from './async-socket.js';
import { NetlinkSocket, NETLINK_ROUTE } from './socket.js';
import { rtnetlink } from './rtnetlink/index.js';
import type { NetNs } from '../netns.js';
import { parseIP } from './types.js';

/**
 * The verbs of the high-level client, each one netlink request described as a plan: the bytes to send,
 * how to describe them in errors, and how to turn the answer into a result. SyncClient runs plans on
 * the synchronous socket (the CNI plugin), AsyncClient on the non-blocking one (the agent).
 */
export interface Plan<T> {
  readonly op: 'ack' | 'dump' | 'get';
  readonly message: Buffer;
  readonly what: string;
  readonly result: (replies: AnyMessage[]) => T;
  /** errno names that mean "nothing there" for a get or a delete: the result is then `absent`. */
  readonly absentOn?: readonly string[];
  readonly absent?: T;
  /** How the replies are decoded (ReplyOptions: only some attributes). */
  readonly reply?: ReplyOptions;
}

/** Where a plan is carried out: the netlink socket's request (with ACK) and dump primitives. */
export interface Transport {
  request(message: Buffer, what: string, options?: ReplyOptions): AnyMessage[];
  dump(message: Buffer, what: string, options?: ReplyOptions): AnyMessage[];
}
export interface AsyncTransport {
  request(message: Buffer, what: string, options?: ReplyOptions): Promise<AnyMessage[]>;
  dump(message: Buffer, what: string, options?: ReplyOptions): Promise<AnyMessage[]>;
}

/** A link named or numbered. */
export type LinkRef = string | number;

export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_INET6 = 10;

const CREATE = NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL;
const REPLACE = NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | NLM_F.REPLACE;
const CHANGE = NLM_F.REQUEST | NLM_F.ACK;
const DUMP = NLM_F.REQUEST | NLM_F.DUMP;

const none = () => undefined;
function ofKind<M extends MessageKind<string, any, any>>(kind: M) {
  return (replies: AnyMessage[]) => replies.filter((m) => m.kind === kind.name) as unknown as MessageOf<M>[];
}

function plan<M extends MessageKind<string, any, any>, T>(
  kind: M, op: Plan<T>['op'], type: number, flags: number, body: Omit<RequestOf<M>, 'header'>, what: string, result: Plan<T>['result'], absentOn?: string[], absent?: T,
): Plan<T> {
  const message = encodeMessage(kind, { header: { type, flags }, ...body } as RequestOf<M>);
  return absentOn ? { op, message, what, result, absentOn, absent } : { op, message, what, result };
}

/** `p` decoding only `attributes` of its replies, when given. */
function withReply<T>(p: Plan<T>, attributes: readonly string[] | undefined): Plan<T> {
  return attributes ? { ...p, reply: { attributes } } : p;
}

function ref(l: LinkRef): { ifinfo: { index: number }; attrs: LinkAttrs } {
  return typeof l === 'number' ? { ifinfo: { index: l }, attrs: {} } : { ifinfo: { index: 0 }, attrs: { ifname: l } };
}

/** Splits "10.1.2.3/24" into its family, address and prefix length. */
export function parseCidr(cidr: string): { family: number; address: string; prefixlen: number } {
  const slash = cidr.indexOf('/');
  const addr = slash < 0 ? cidr : cidr.slice(0, slash);
  const bytes = parseIP(addr);
  if (!bytes) throw new TypeError(`not an IP address or CIDR: ${JSON.stringify(cidr)}`);
  const max = bytes.length * 8;
  const prefixlen = slash < 0 ? max : Number(cidr.slice(slash + 1));
  if (!/^\d{1,3}$/.test(slash < 0 ? '0' : cidr.slice(slash + 1)) || prefixlen > max) throw new TypeError(`bad prefix length in ${JSON.stringify(cidr)}`);
  return { family: bytes.length === 4 ? AF_INET : AF_INET6, address: addr, prefixlen };
}

const IFF_UP = 1;

/** One end of what linkAdd creates: its name, where it is created, and how. */
export interface LinkEnd {
  name: string;
  mtu?: number;
  address?: string;
  /** Create it directly in the namespace of this fd. */
  netnsFd?: number;
  /**
   * The transmit and receive queues to allocate (IFLA_NUM_TX_QUEUES, IFLA_NUM_RX_QUEUES). A veth left
   * without them is allocated one queue per possible CPU and then cut down to one, and cutting down
   * the queues of a registered device waits for an RCU grace period under the rtnl lock: asking for
   * one queue each from the start makes the same device without that wait.
   */
  txQueues?: number;
  rxQueues?: number;
}

/** What to create with linkAdd. */
export interface LinkSpec extends LinkEnd {
  /** The IFLA_INFO_KIND: 'veth', 'bridge', 'vxlan', 'vlan', 'macvlan', ... */
  kind: string;
  /** IFLA_INFO_DATA for the kind (vxlan id, vlan id, macvlan mode, bridge options, ...). */
  data?: Record<string, unknown>;
  /** The lower device (IFLA_LINK) for vlan, macvlan and vxlan. */
  link?: number;
  master?: number;
  up?: boolean;
  /**
   * For a veth: the peer, optionally created directly inside another namespace. It is created down
   * (the kernel refuses a veth whose peer is up before it is registered: ENOTCONN); bring it up after.
   */
  peer?: LinkEnd;
  /** Any other IFLA attributes. */
  attrs?: LinkAttrs;
}

function linkAttrsOf(spec: LinkEnd): LinkAttrs {
  const attrs: LinkAttrs = { ifname: spec.name };
  if (spec.mtu !== undefined) attrs.mtu = spec.mtu;
  if (spec.address !== undefined) attrs.address = spec.address;
  if (spec.netnsFd !== undefined) attrs.netNsFd = spec.netnsFd;
  if (spec.txQueues !== undefined) attrs.numTxQueues = spec.txQueues;
  if (spec.rxQueues !== undefined) attrs.numRxQueues = spec.rxQueues;
  return attrs;
}

/** The RTM_NEWLINK body that creates `spec`. */
function linkAddBody(spec: LinkSpec): { ifinfo: { flags: number; change: number }; attrs: LinkAttrs } {
  const attrs: LinkAttrs = { ...linkAttrsOf(spec), ...spec.attrs };
  if (spec.link !== undefined) attrs.link = spec.link;
  if (spec.master !== undefined) attrs.master = spec.master;
  const data: Record<string, unknown> = { ...spec.data };
  if (spec.peer) {
    data.peer = { ifinfo: {}, attrs: linkAttrsOf(spec.peer) };
  }
  attrs.linkinfo = Object.keys(data).length ? { kind: spec.kind, data } : { kind: spec.kind };
  const up = spec.up ? IFF_UP : 0;
  return { ifinfo: { flags: up, change: up }, attrs };
}

/** Changes linkSet applies in one RTM_NEWLINK (as `ip link set` does). */
export interface LinkChanges {
  up?: boolean;
  mtu?: number;
  address?: string;
  /** A master's ifindex, or 0 to release from the master. */
  master?: number;
  name?: string;
  /** Move the link into the namespace of this fd. */
  netnsFd?: number;
  netnsPid?: number;
  /** Per-family settings (IFLA_AF_SPEC): IPv4 devconf entries, the IPv6 address generation mode, ... */
  afSpec?: LinkAttrs['afSpec'];
}

export interface RouteSpec {
  /** "10.1.0.0/16", "fd00::/64", or "default" with `family`. */
  dst: string;
  family?: number;
  gateway?: string;
  oif?: number;
  table?: number;
  priority?: number;
  scope?: number;
  protocol?: number;
  type?: number;
  prefsrc?: string;
  /** RTNH_F_ONLINK: the gateway is on the link even without a covering address. */
  onlink?: boolean;
  mtu?: number;
  /** Several next hops (ECMP). */
  multipath?: Array<{ gateway?: string; ifindex: number; weight?: number }>;
}

export interface NeighbourSpec {
  ifindex: number;
  dst: string;
  lladdr: string;
  /** NUD_* (default NUD_PERMANENT). */
  state?: number;
  /** NTF_* flags. */
  flags?: number;
}

export interface FdbSpec {
  /** The vxlan (or bridge port) device. */
  ifindex: number;
  lladdr: string;
  /** The remote VTEP's underlay IP (NDA_DST). */
  dst?: string;
  vni?: number;
  /** NTF_* flags (default NTF_SELF: the device's own FDB, not its master's). */
  flags?: number;
  state?: number;
  master?: number;
}

export interface RuleSpec {
  family: number;
  priority?: number;
  table: number;
  src?: string;
  dst?: string;
  fwmark?: number;
  fwmask?: number;
  iifname?: string;
  oifname?: string;
  action?: number;
}

export interface BpfFilterSpec {
  ifindex: number;
  direction: 'ingress' | 'egress';
  /** A loaded BPF_PROG_TYPE_SCHED_CLS program. */
  fd: number;
  name: string;
  priority?: number;
  handle?: number;
}

const RTN_UNICAST = 1;
const RTPROT_BOOT = 3;
const RT_SCOPE_UNIVERSE = 0;
const RT_SCOPE_LINK = 253;
const RT_TABLE_MAIN = 254;
const RTNH_F_ONLINK = 4;
const NUD_PERMANENT = 0x80;
const FR_ACT_TO_TBL = 1;
const ETH_P_ALL_BE = 0x0300;
const TCA_BPF_FLAG_ACT_DIRECT = 1;

function routeMessage(spec: RouteSpec) {
  const isDefault = spec.dst === 'default';
  const dst = isDefault ? undefined : parseCidr(spec.dst);
  const family = dst?.family ?? spec.family ?? (spec.gateway ? parseCidr(spec.gateway).family : AF_INET);
  const table = spec.table ?? RT_TABLE_MAIN;
  const attrs: Record<string, unknown> = {};
  if (dst) attrs.dst = dst.address;
  if (spec.gateway) attrs.gateway = spec.gateway;
  if (spec.oif !== undefined) attrs.oif = spec.oif;
  if (spec.priority !== undefined) attrs.priority = spec.priority;
  if (spec.prefsrc) attrs.prefsrc = spec.prefsrc;
  if (table > 255) attrs.table = table;
  if (spec.mtu !== undefined) attrs.metrics = { mtu: spec.mtu };
  if (spec.multipath) {
    attrs.multipath = spec.multipath.map((hop) => ({
      hops: (hop.weight ?? 1) - 1, ifindex: hop.ifindex, flags: spec.onlink ? RTNH_F_ONLINK : 0, attrs: hop.gateway ? { gateway: hop.gateway } : {},
    }));
  }
  const scope = spec.scope ?? (spec.gateway || spec.multipath ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
  return {
    rtm: {
      family, dstLen: dst?.prefixlen ?? 0, table: table > 255 ? 252 : table, protocol: spec.protocol ?? RTPROT_BOOT, scope,
      type: spec.type ?? RTN_UNICAST, flags: spec.onlink && !spec.multipath ? RTNH_F_ONLINK : 0,
    },
    attrs,
  };
}

function neighbourMessage(spec: Omit<NeighbourSpec, 'lladdr'> & { lladdr?: string }) {
  const attrs: Record<string, unknown> = { dst: spec.dst };
  if (spec.lladdr !== undefined) attrs.lladdr = spec.lladdr;
  return { ndm: { family: parseCidr(spec.dst).family, ifindex: spec.ifindex, state: spec.state ?? NUD_PERMANENT, flags: spec.flags ?? 0 }, attrs };
}

const NTF_SELF = 0x02;

function fdbMessage(spec: FdbSpec) {
  const attrs: Record<string, unknown> = { lladdr: spec.lladdr };
  if (spec.dst) attrs.dst = spec.dst;
  if (spec.vni !== undefined) attrs.vni = spec.vni;
  if (spec.master !== undefined) attrs.master = spec.master;
  return { ndm: { family: AF_BRIDGE, ifindex: spec.ifindex, state: spec.state ?? NUD_PERMANENT, flags: spec.flags ?? NTF_SELF }, attrs };
}

function ruleMessage(spec: RuleSpec) {
  const attrs: Record<string, unknown> = { table: spec.table };
  const src = spec.src ? parseCidr(spec.src) : undefined;
  const dst = spec.dst ? parseCidr(spec.dst) : undefined;
  if (src) attrs.src = src.address;
  if (dst) attrs.dst = dst.address;
  if (spec.priority !== undefined) attrs.priority = spec.priority;
  if (spec.fwmark !== undefined) attrs.fwmark = spec.fwmark;
  if (spec.fwmask !== undefined) attrs.fwmask = spec.fwmask;
  if (spec.iifname) attrs.iifname = spec.iifname;
  if (spec.oifname) attrs.oifname = spec.oifname;
  return {
    rule: { family: spec.family, srcLen: src?.prefixlen ?? 0, dstLen: dst?.prefixlen ?? 0, table: spec.table > 255 ? 252 : spec.table, action: spec.action ?? FR_ACT_TO_TBL },
    attrs,
  };
}

const describeLink = (l: LinkRef) => (typeof l === 'number' ? `ifindex ${l}` : l);

/** The verbs, as plans. Exported for the clients and for tests that inspect the bytes a verb sends. */
export const verbs = {
  // ---- links ----
  /** Creates a link; a veth's peer may be created directly inside another namespace. */
  linkAdd(spec: LinkSpec): Plan<void> {
    return plan(link, 'ack', 16, CREATE, linkAddBody(spec) as never, `RTM_NEWLINK ${spec.name} (${spec.kind})`, none);
  },
  /**
   * Creates a link as linkAdd does and returns it as the kernel reports it back (NLM_F_ECHO): its
   * ifindex, its MAC, and for a veth its peer's ifindex (IFLA_LINK), without a lookup after. Undefined
   * from a kernel that does not echo RTM_NEWLINK: look the link up then. `attributes` decodes only
   * those of the echo (ReplyOptions).
   */
  linkCreate(spec: LinkSpec, options: { attributes?: readonly (keyof LinkAttrs)[] } = {}): Plan<LinkMessage | undefined> {
    return withReply(plan(link, 'ack', 16, CREATE | NLM_F.ECHO, linkAddBody(spec) as never, `RTM_NEWLINK ${spec.name} (${spec.kind})`, (replies) => ofKind(link)(replies)[0]), options.attributes);
  },
  /** Applies changes to an existing link (state, MTU, MAC, master, name, namespace) in one request. */
  linkSet(l: LinkRef, changes: LinkChanges): Plan<void> {
    const { ifinfo, attrs } = ref(l);
    const flags = changes.up === undefined ? 0 : changes.up ? IFF_UP : 0;
    const change = changes.up === undefined ? 0 : IFF_UP;
    if (changes.mtu !== undefined) attrs.mtu = changes.mtu;
    if (changes.address !== undefined) attrs.address = changes.address;
    if (changes.master !== undefined) attrs.master = changes.master;
    if (changes.netnsFd !== undefined) attrs.netNsFd = changes.netnsFd;
    if (changes.netnsPid !== undefined) attrs.netNsPid = changes.netnsPid;
    if (changes.afSpec !== undefined) attrs.afSpec = changes.afSpec;
    if (changes.name !== undefined) {
      if (typeof l === 'string') throw new TypeError('renaming needs the link by index');
      attrs.ifname = changes.name;
    }
    return plan(link, 'ack', 16, CHANGE, { ifinfo: { ...ifinfo, flags, change }, attrs } as never, `RTM_NEWLINK ${describeLink(l)} (set ${Object.keys(changes).join(', ')})`, none);
  },
  linkDelete(l: LinkRef): Plan<void> {
    return plan(link, 'ack', 17, CHANGE, ref(l) as never, `RTM_DELLINK ${describeLink(l)}`, none);
  },
  /** Deletes a link, and succeeds when it is already gone. */
  linkDeleteIfExists(l: LinkRef): Plan<boolean> {
    return plan(link, 'ack', 17, CHANGE, ref(l) as never, `RTM_DELLINK ${describeLink(l)}`, () => true, ['ENODEV', 'ENOENT'], false);
  },
  /**
   * One link by name or index, or undefined. `stats: false` asks the kernel to leave out the IPv6
   * counters (RTEXT_FILTER_SKIP_STATS; the device's own stay): a quarter of a veth's message.
   * `attributes` decodes only those (ReplyOptions): keep the list in a constant.
   */
  linkGet(l: LinkRef, options: { stats?: boolean; attributes?: readonly (keyof LinkAttrs)[] } = {}): Plan<LinkMessage | undefined> {
    const body = ref(l);
    if (options.stats === false) body.attrs.extMask = RTEXT_FILTER.SKIP_STATS;
    return withReply(plan(link, 'get', 18, CHANGE, body as never, `RTM_GETLINK ${describeLink(l)}`, (r) => ofKind(link)(r)[0], ['ENODEV'], undefined), options.attributes);
  },
  linkList(): Plan<LinkMessage[]> {
    return plan(link, 'dump', 18, DUMP, {} as never, 'RTM_GETLINK (dump)', ofKind(link));
  },

  // ---- addresses ----
  addressAdd(ifindex: number, cidr: string, options: { label?: string; scope?: number; flags?: number; broadcast?: string } = {}): Plan<void> {
    return plan(address, 'ack', 20, CREATE, addressBody(ifindex, cidr, options) as never, `RTM_NEWADDR ${cidr} on ifindex ${ifindex}`, none);
  },
  addressReplace(ifindex: number, cidr: string, options: { label?: string; scope?: number; flags?: number; broadcast?: string } = {}): Plan<void> {
    return plan(address, 'ack', 20, REPLACE, addressBody(ifindex, cidr, options) as never, `RTM_NEWADDR ${cidr} on ifindex ${ifindex} (replace)`, none);
  },
  addressDelete(ifindex: number, cidr: string): Plan<boolean> {
    return plan(address, 'ack', 21, CHANGE, addressBody(ifindex, cidr, {}) as never, `RTM_DELADDR ${cidr} on ifindex ${ifindex}`, () => true, ['EADDRNOTAVAIL', 'ENODEV'], false);
  },
  /** Addresses of a family (AF_UNSPEC for all), optionally of one link. */
  addressList(filter: { family?: number; ifindex?: number } = {}): Plan<AddressMessage[]> {
    return plan(address, 'dump', 22, DUMP, { ifaddr: { family: filter.family ?? AF_UNSPEC, index: filter.ifindex ?? 0 } } as never, 'RTM_GETADDR (dump)',
      (r) => ofKind(address)(r).filter((m) => filter.ifindex === undefined || m.ifaddr.index === filter.ifindex));
  },

  // ---- routes ----
  routeAdd(spec: RouteSpec): Plan<void> {
    return plan(route, 'ack', 24, CREATE, routeMessage(spec) as never, `RTM_NEWROUTE ${spec.dst}`, none);
  },
  routeReplace(spec: RouteSpec): Plan<void> {
    return plan(route, 'ack', 24, REPLACE, routeMessage(spec) as never, `RTM_NEWROUTE ${spec.dst} (replace)`, none);
  },
  /** Deletes a route, and succeeds (returning false) when it is already gone. */
  routeDelete(spec: RouteSpec): Plan<boolean> {
    const body = routeMessage(spec);
    body.rtm.protocol = 0;
    body.rtm.scope = spec.scope ?? RT_SCOPE_UNIVERSE;
    return plan(route, 'ack', 25, CHANGE, body as never, `RTM_DELROUTE ${spec.dst}`, () => true, ['ESRCH', 'ENOENT', 'ENODEV'], false);
  },
  /** Routes of a family in a table (main unless given; 0 for every table). */
  routeList(filter: { family?: number; table?: number; oif?: number } = {}): Plan<RouteMessage[]> {
    const table = filter.table ?? RT_TABLE_MAIN;
    return plan(route, 'dump', 26, DUMP, { rtm: { family: filter.family ?? AF_UNSPEC } } as never, 'RTM_GETROUTE (dump)', (r) =>
      ofKind(route)(r).filter((m) => (table === 0 || (m.attrs.table ?? m.rtm.table) === table) && (filter.oif === undefined || m.attrs.oif === filter.oif)));
  },

  // ---- neighbours ----
  /** Adds or replaces an IP neighbour (NUD_PERMANENT unless `state` says otherwise). */
  neighbourSet(spec: NeighbourSpec): Plan<void> {
    return plan(neighbour, 'ack', 28, REPLACE, neighbourMessage(spec) as never, `RTM_NEWNEIGH ${spec.dst} on ifindex ${spec.ifindex}`, none);
  },
  neighbourDelete(spec: Omit<NeighbourSpec, 'lladdr'>): Plan<boolean> {
    return plan(neighbour, 'ack', 29, CHANGE, neighbourMessage(spec) as never, `RTM_DELNEIGH ${spec.dst} on ifindex ${spec.ifindex}`, () => true, ['ENOENT', 'ENODEV'], false);
  },
  neighbourList(filter: { family?: number; ifindex?: number } = {}): Plan<NeighbourMessage[]> {
    // Strict dump checking wants the device filter as NDA_IFINDEX, not in the header.
    const attrs = filter.ifindex === undefined ? {} : { ifindex: filter.ifindex };
    return plan(neighbour, 'dump', 30, DUMP, { ndm: { family: filter.family ?? AF_UNSPEC }, attrs } as never, 'RTM_GETNEIGH (dump)',
      (r) => ofKind(neighbour)(r).filter((m) => filter.ifindex === undefined || m.ndm.ifindex === filter.ifindex));
  },

  // ---- bridge forwarding database (AF_BRIDGE neighbours) ----
  /** Adds or replaces an FDB entry (NTF_SELF, permanent by default): MAC -> remote VTEP on a vxlan device. */
  fdbSet(spec: FdbSpec): Plan<void> {
    return plan(neighbour, 'ack', 28, REPLACE, fdbMessage(spec) as never, `RTM_NEWNEIGH fdb ${spec.lladdr} dst ${spec.dst ?? '-'} on ifindex ${spec.ifindex}`, none);
  },
  /** Appends an FDB entry (NLM_F_APPEND): several remote VTEPs for one MAC, as `bridge fdb append` does. */
  fdbAppend(spec: FdbSpec): Plan<void> {
    return plan(neighbour, 'ack', 28, NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | NLM_F.APPEND, fdbMessage(spec) as never,
      `RTM_NEWNEIGH fdb ${spec.lladdr} dst ${spec.dst ?? '-'} on ifindex ${spec.ifindex} (append)`, none);
  },
  /** Deletes an FDB entry (with `dst`, only that remote); succeeds when it is already gone. */
  fdbDelete(spec: FdbSpec): Plan<boolean> {
    return plan(neighbour, 'ack', 29, CHANGE, fdbMessage(spec) as never, `RTM_DELNEIGH fdb ${spec.lladdr} on ifindex ${spec.ifindex}`, () => true, ['ENOENT', 'ENODEV'], false);
  },
  fdbList(ifindex?: number): Plan<NeighbourMessage[]> {
    return plan(neighbour, 'dump', 30, DUMP, { ndm: { family: AF_BRIDGE } } as never, 'RTM_GETNEIGH bridge fdb (dump)',
      (r) => ofKind(neighbour)(r).filter((m) => ifindex === undefined || m.ndm.ifindex === ifindex));
  },

  // ---- policy routing rules ----
  ruleAdd(spec: RuleSpec): Plan<void> {
    return plan(rule, 'ack', 32, CREATE, ruleMessage(spec) as never, `RTM_NEWRULE table ${spec.table}`, none);
  },
  ruleDelete(spec: RuleSpec): Plan<boolean> {
    return plan(rule, 'ack', 33, CHANGE, ruleMessage(spec) as never, `RTM_DELRULE table ${spec.table}`, () => true, ['ENOENT'], false);
  },
  ruleList(family = AF_UNSPEC): Plan<RuleMessage[]> {
    return plan(rule, 'dump', 34, DUMP, { rule: { family } } as never, 'RTM_GETRULE (dump)', ofKind(rule));
  },

  // ---- tc: the clsact qdisc and cls_bpf filters ----
  /** Adds the clsact qdisc; with `exclusive: false` an existing one is fine. */
  clsactAdd(ifindex: number, options: { exclusive?: boolean } = {}): Plan<void> {
    const flags = options.exclusive === false ? NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE : CREATE;
    return plan(qdisc, 'ack', 36, flags, { tcm: { ifindex, handle: tcHandle(0xffff, 0), parent: TC_H_CLSACT }, attrs: { kind: 'clsact' } } as never,
      `RTM_NEWQDISC clsact on ifindex ${ifindex}`, none);
  },
  /** Deletes the clsact qdisc (and every filter under it); succeeds when there is none. */
  clsactDelete(ifindex: number): Plan<boolean> {
    return plan(qdisc, 'ack', 37, CHANGE, { tcm: { ifindex, handle: tcHandle(0xffff, 0), parent: TC_H_CLSACT }, attrs: { kind: 'clsact' } } as never,
      `RTM_DELQDISC clsact on ifindex ${ifindex}`, () => true, ['EINVAL', 'ENOENT', 'ENODEV'], false);
  },
  qdiscList(ifindex = 0): Plan<QdiscMessage[]> {
    return plan(qdisc, 'dump', 38, DUMP, { tcm: { ifindex } } as never, 'RTM_GETQDISC (dump)',
      (r) => ofKind(qdisc)(r).filter((m) => ifindex === 0 || m.tcm.ifindex === ifindex));
  },
  /** Attaches a BPF program as a direct-action cls_bpf filter under clsact (or replaces the one at that priority/handle). */
  bpfFilterAdd(spec: BpfFilterSpec): Plan<void> {
    const prio = spec.priority ?? 1;
    return plan(filter, 'ack', 44, REPLACE, {
      tcm: { ifindex: spec.ifindex, handle: spec.handle ?? 1, parent: tcHandle(0xffff, spec.direction === 'ingress' ? TC_H_MIN_INGRESS : TC_H_MIN_EGRESS), info: ((prio << 16) | ETH_P_ALL_BE) >>> 0 },
      attrs: { kind: 'bpf', options: { fd: spec.fd, name: spec.name, flags: TCA_BPF_FLAG_ACT_DIRECT } },
    } as never, `RTM_NEWTFILTER bpf ${spec.name} on ifindex ${spec.ifindex} ${spec.direction}`, none);
  },
  bpfFilterDelete(spec: { ifindex: number; direction: 'ingress' | 'egress'; priority?: number; handle?: number }): Plan<boolean> {
    const prio = spec.priority ?? 1;
    return plan(filter, 'ack', 45, CHANGE, {
      tcm: { ifindex: spec.ifindex, handle: spec.handle ?? 1, parent: tcHandle(0xffff, spec.direction === 'ingress' ? TC_H_MIN_INGRESS : TC_H_MIN_EGRESS), info: ((prio << 16) | ETH_P_ALL_BE) >>> 0 },
      attrs: { kind: 'bpf' },
    } as never, `RTM_DELTFILTER bpf on ifindex ${spec.ifindex} ${spec.direction}`, () => true, ['ENOENT', 'EINVAL', 'ENODEV'], false);
  },
  filterList(ifindex: number, direction: 'ingress' | 'egress'): Plan<FilterMessage[]> {
    return plan(filter, 'dump', 46, DUMP, { tcm: { ifindex, parent: tcHandle(0xffff, direction === 'ingress' ? TC_H_MIN_INGRESS : TC_H_MIN_EGRESS) } } as never,
      `RTM_GETTFILTER ifindex ${ifindex} ${direction} (dump)`, ofKind(filter));
  },
};

function addressBody(ifindex: number, cidr: string, options: { label?: string; scope?: number; flags?: number; broadcast?: string }) {
  const { family, address: addr, prefixlen } = parseCidr(cidr);
  const attrs: Record<string, unknown> = { local: addr, address: addr };
  if (options.label) attrs.label = options.label;
  if (options.broadcast) attrs.broadcast = options.broadcast;
  if (options.flags !== undefined) attrs.flags = options.flags;
  if (family === AF_INET6) delete attrs.local;
  return { ifaddr: { family, prefixlen, index: ifindex, scope: options.scope ?? 0 }, attrs };
}

type Verbs = typeof verbs;
type PlanResult<P> = P extends Plan<infer T> ? T : never;
type SyncVerbs = { [K in keyof Verbs]: (...args: Parameters<Verbs[K]>) => PlanResult<ReturnType<Verbs[K]>> };
type AsyncVerbs = { [K in keyof Verbs]: (...args: Parameters<Verbs[K]>) => Promise<PlanResult<ReturnType<Verbs[K]>>> };

function absentResult<T>(p: Plan<T>, e: unknown): { hit: boolean; value?: T } {
  if (e instanceof NetlinkError && p.absentOn?.includes(e.code)) return { hit: true, value: p.absent as T };
  return { hit: false };
}

/** Runs one plan synchronously. */
export function runPlan<T>(t: Transport, p: Plan<T>): T {
  try {
    return p.result(p.op === 'dump' ? t.dump(p.message, p.what, p.reply) : t.request(p.message, p.what, p.reply));
  } catch (e) {
    const a = absentResult(p, e);
    if (a.hit) return a.value as T;
    throw e;
  }
}

export async function runPlanAsync<T>(t: AsyncTransport, p: Plan<T>): Promise<T> {
  try {
    return p.result(p.op === 'dump' ? await t.dump(p.message, p.what, p.reply) : await t.request(p.message, p.what, p.reply));
  } catch (e) {
    const a = absentResult(p, e);
    if (a.hit) return a.value as T;
    throw e;
  }
}

export interface ClientOptions {
  /** Open the socket inside this namespace (it stays bound there). */
  netns?: NetNs;
}

export interface SyncClient extends SyncVerbs {}
/** The high-level rtnetlink client over a synchronous socket: every verb returns when the kernel has answered. */
export class SyncClient {
  constructor(readonly transport: Transport & { close?(): void }) {}

  /** A client on a new NETLINK_ROUTE socket. */
  static open(options: ClientOptions = {}): SyncClient {
    return new SyncClient(NetlinkSocket.open(NETLINK_ROUTE, { family: rtnetlink, ...options }));
  }

  close(): void {
    this.transport.close?.();
  }
}

export interface AsyncClient extends AsyncVerbs {}
/** The same verbs over the non-blocking socket: every verb returns a promise; many may be in flight. */
export class AsyncClient {
  constructor(readonly transport: AsyncTransport & { close?(): unknown }) {}

  static open(options: ClientOptions = {}): AsyncClient {
    return new AsyncClient(AsyncNetlinkSocket.open(NETLINK_ROUTE, { family: rtnetlink, ...options }));
  }

  async close(): Promise<void> {
    await this.transport.close?.();
  }
}

/** A synchronous rtnetlink client (see SyncClient.open). */
export const openRtnl = (options: ClientOptions = {}): SyncClient => SyncClient.open(options);
for (const name of Object.keys(verbs) as Array<keyof Verbs>) {
  const make = verbs[name] as (...a: unknown[]) => Plan<unknown>;
  (SyncClient.prototype as unknown as Record<string, unknown>)[name] = function (this: SyncClient, ...a: unknown[]) { return runPlan(this.transport, make(...a)); };
  (AsyncClient.prototype as unknown as Record<string, unknown>)[name] = function (this: AsyncClient, ...a: unknown[]) { return runPlanAsync(this.transport, make(...a)); };
}
