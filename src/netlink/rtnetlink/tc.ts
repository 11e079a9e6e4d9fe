// Traffic control: struct tcmsg and TCA_* (linux/rtnetlink.h, pkt_sched.h, pkt_cls.h, gen_stats.h) for
// qdiscs, classes, filters and chains. TCA_OPTIONS is read according to TCA_KIND.
import { byKind, nest, space } from '../attributes.js';
import { messageKind, type MessageOf, type RequestOf } from '../message.js';
import { arrayOf, bytes, cstring, fixedBytes, flag, pad, s16, s32, s8, struct, u16, u32, u64, u8 } from '../types.js';

export const RTM_NEWQDISC = 36;
export const RTM_DELQDISC = 37;
export const RTM_GETQDISC = 38;
export const RTM_NEWTCLASS = 40;
export const RTM_DELTCLASS = 41;
export const RTM_GETTCLASS = 42;
export const RTM_NEWTFILTER = 44;
export const RTM_DELTFILTER = 45;
export const RTM_GETTFILTER = 46;
export const RTM_NEWCHAIN = 100;
export const RTM_DELCHAIN = 101;
export const RTM_GETCHAIN = 102;

export const tcmsg = struct('tcmsg', {
  family: u8,
  _pad1: pad(1),
  _pad2: pad(2),
  ifindex: s32,
  handle: u32,
  /** The parent's handle (TC_H_ROOT, TC_H_CLSACT, ...); the block index when ifindex is TCM_IFINDEX_MAGIC_BLOCK. */
  parent: u32,
  /** For filters, (priority << 16) | protocol in network byte order: see filterInfo(). */
  info: u32,
});

// ---- statistics ----

/** struct tc_stats (TCA_STATS). 64-bit kernels pad it to 40 bytes; the padding is kept as the struct's tail. */
export const tcStats = struct('tc_stats', {
  bytes: u64,
  packets: u32,
  drops: u32,
  overlimits: u32,
  bps: u32,
  pps: u32,
  qlen: u32,
  backlog: u32,
});

/** struct gnet_stats_basic. 64-bit kernels pad it to 16 bytes; the padding is kept as the struct's tail. */
export const gnetStatsBasic = struct('gnet_stats_basic', { bytes: u64, packets: u32 });
export const gnetStatsRateEst = struct('gnet_stats_rate_est', { bps: u32, pps: u32 });
export const gnetStatsRateEst64 = struct('gnet_stats_rate_est64', { bps: u64, pps: u64 });
export const gnetStatsQueue = struct('gnet_stats_queue', { qlen: u32, backlog: u32, drops: u32, requeues: u32, overlimits: u32 });
/** struct gnet_estimator (TCA_RATE). */
export const gnetEstimator = struct('gnet_estimator', { interval: s8, ewmaLog: u8 });

/** TCA_STATS2: TCA_STATS_* */
export const statsAttrs = space('TCA_STATS', {
  1: ['basic', gnetStatsBasic],
  2: ['rateEst', gnetStatsRateEst],
  3: ['queue', gnetStatsQueue],
  /** The qdisc's own statistics (its tc_*_xstats struct). */
  4: ['app', bytes],
  5: ['rateEst64', gnetStatsRateEst64],
  6: ['pad', bytes],
  7: ['basicHw', gnetStatsBasic],
  8: ['pkt64', u64],
});

// ---- size tables ----

/** struct tc_sizespec (TCA_STAB_BASE). */
export const tcSizespec = struct('tc_sizespec', {
  cellLog: u8,
  sizeLog: u8,
  cellAlign: s16,
  overhead: s32,
  linklayer: u32,
  mpu: u32,
  mtu: u32,
  tsize: u32,
});

/** TCA_STAB: TCA_STAB_* */
export const stabAttrs = space('TCA_STAB', {
  1: ['base', tcSizespec],
  2: ['data', arrayOf(u16)],
});

// ---- options by kind ----

/** cls_bpf options: TCA_BPF_* */
export const bpfFilterAttrs = space('TCA_BPF', {
  /** The filter's actions (a nest of TCA_ACT_* per priority), kept as bytes. */
  1: ['act', bytes],
  2: ['police', bytes],
  3: ['classid', u32],
  /** The number of classic BPF instructions in ops. */
  4: ['opsLen', u16],
  /** Classic BPF: struct sock_filter { u16 code; u8 jt; u8 jf; u32 k } per instruction. */
  5: ['ops', bytes],
  /** An eBPF program's file descriptor (sent only; dumps carry id, name and tag). */
  6: ['fd', u32],
  7: ['name', cstring],
  /** TCA_BPF_FLAG_* */
  8: ['flags', u32],
  /** TCA_CLS_FLAGS_* */
  9: ['flagsGen', u32],
  10: ['tag', fixedBytes(8)],
  11: ['id', u32],
});

/** The clsact and ingress qdiscs have no options: an empty TCA_OPTIONS nest. */
export const noOptions = space('TCA_OPTIONS', {});

export const tcOptions = byKind('kind', {
  clsact: nest(noOptions),
  ingress: nest(noOptions),
  bpf: nest(bpfFilterAttrs),
});

/** struct nla_bitfield32 (TCA_DUMP_FLAGS). */
export const nlaBitfield32 = struct('nla_bitfield32', { value: u32, selector: u32 });

export const tcAttrs = space('TCA', {
  /** The qdisc, class or filter kind: "clsact", "bpf", ... */
  1: ['kind', cstring],
  /** Kind-specific; kinds this code does not know stay raw bytes. */
  2: ['options', tcOptions],
  3: ['stats', tcStats],
  4: ['xstats', bytes],
  5: ['rate', gnetEstimator],
  6: ['fcnt', u32], // not sent by current kernels
  7: ['stats2', nest(statsAttrs)],
  8: ['stab', nest(stabAttrs)],
  9: ['pad', bytes],
  10: ['dumpInvisible', flag],
  11: ['chain', u32],
  12: ['hwOffload', u8],
  13: ['ingressBlock', u32],
  14: ['egressBlock', u32],
  /** TCA_DUMP_FLAGS_* */
  15: ['dumpFlags', nlaBitfield32],
  /** A warning the kernel attached to a notification. */
  16: ['extWarnMsg', cstring],
});

const tcKind = (name: string, types: Readonly<Record<number, string>>) =>
  messageKind({ name, headerKey: 'tcm', header: tcmsg, attrs: tcAttrs, types });

export const qdisc = tcKind('qdisc', { [RTM_NEWQDISC]: 'RTM_NEWQDISC', [RTM_DELQDISC]: 'RTM_DELQDISC', [RTM_GETQDISC]: 'RTM_GETQDISC' });
export const tclass = tcKind('tclass', { [RTM_NEWTCLASS]: 'RTM_NEWTCLASS', [RTM_DELTCLASS]: 'RTM_DELTCLASS', [RTM_GETTCLASS]: 'RTM_GETTCLASS' });
export const filter = tcKind('filter', { [RTM_NEWTFILTER]: 'RTM_NEWTFILTER', [RTM_DELTFILTER]: 'RTM_DELTFILTER', [RTM_GETTFILTER]: 'RTM_GETTFILTER' });
export const chain = tcKind('chain', { [RTM_NEWCHAIN]: 'RTM_NEWCHAIN', [RTM_DELCHAIN]: 'RTM_DELCHAIN', [RTM_GETCHAIN]: 'RTM_GETCHAIN' });

/** Qdisc, class, filter and chain messages share one shape. */
export type TcMessage = MessageOf<typeof qdisc>;
export type TcRequest = RequestOf<typeof qdisc>;
export type QdiscMessage = TcMessage;
export type TclassMessage = TcMessage;
export type FilterMessage = TcMessage;
export type ChainMessage = TcMessage;

// ---- handles ----

export const TC_H_UNSPEC = 0;
export const TC_H_ROOT = 0xffffffff;
export const TC_H_INGRESS = 0xfffffff1;
/** The clsact qdisc's handle and parent, the same as the ingress qdisc's. */
export const TC_H_CLSACT = TC_H_INGRESS;
export const TC_H_MIN_PRIORITY = 0xffe0;
/** Minor of clsact's ingress hook: filters go under tcHandle(0xffff, TC_H_MIN_INGRESS). */
export const TC_H_MIN_INGRESS = 0xfff2;
export const TC_H_MIN_EGRESS = 0xfff3;
export const TC_H_MAJ_MASK = 0xffff0000;
export const TC_H_MIN_MASK = 0x0000ffff;
/** tcm_ifindex meaning "a shared block", whose index is then in tcm_parent. */
export const TCM_IFINDEX_MAGIC_BLOCK = 0xffffffff;

/** A handle "major:minor" as a u32 (TC_H_MAKE with a major given as the 16-bit number `tc` prints). */
export function tcHandle(major: number, minor: number): number {
  return (((major & 0xffff) << 16) | (minor & 0xffff)) >>> 0;
}

/** The major and minor halves of a handle. */
export function splitTcHandle(handle: number): { major: number; minor: number } {
  return { major: handle >>> 16, minor: handle & 0xffff };
}

/** The parent of filters on clsact's ingress (tcHandle(0xffff, 0xfff2)) and egress (... 0xfff3) hooks. */
export const CLSACT_INGRESS = tcHandle(0xffff, TC_H_MIN_INGRESS);
export const CLSACT_EGRESS = tcHandle(0xffff, TC_H_MIN_EGRESS);

// ---- filters ----

export const ETH_P_ALL = 0x0003;
export const ETH_P_IP = 0x0800;
export const ETH_P_IPV6 = 0x86dd;

const swap16 = (v: number) => ((v & 0xff) << 8) | ((v >> 8) & 0xff);

/** tcm_info of a filter: its priority in the upper half, its protocol (ETH_P_*) in network byte order below. */
export function filterInfo(priority: number, protocol: number): number {
  return tcHandle(priority, swap16(protocol));
}

/** The priority and protocol (ETH_P_*, host byte order) in a filter's tcm_info. */
export function parseFilterInfo(info: number): { priority: number; protocol: number } {
  return { priority: info >>> 16, protocol: swap16(info & 0xffff) };
}

/** TCA_BPF_FLAGS bits. */
export const TCA_BPF_FLAG_ACT_DIRECT = 1 << 0;

/** TCA_BPF_FLAGS_GEN bits (shared by classifiers). */
export const TCA_CLS_FLAGS = {
  SKIP_HW: 1 << 0,
  SKIP_SW: 1 << 1,
  IN_HW: 1 << 2,
  NOT_IN_HW: 1 << 3,
  VERBOSE: 1 << 4,
} as const;

/** TCA_DUMP_FLAGS bits. */
export const TCA_DUMP_FLAGS_TERSE = 1 << 0;

/** Return codes of tc programs and actions. */
export const TC_ACT = {
  UNSPEC: -1,
  OK: 0,
  RECLASSIFY: 1,
  SHOT: 2,
  PIPE: 3,
  STOLEN: 4,
  QUEUED: 5,
  REPEAT: 6,
  REDIRECT: 7,
  TRAP: 8,
} as const;
