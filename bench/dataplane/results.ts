// The data-plane benchmark's results, as bench/dataplane.ts writes them to bench/results/dataplane.json
// and bench/report/dataplane.ts reads them back: every run's figure is kept (the report computes the
// medians and spreads), so the file can be re-read, re-summarised and checked later.
import type { Machine } from '../lib/machine.js';

/** The four paths between two pods on one node, the floor first. */
export const SETUP_IDS = ['floor', 'bridge-plugin', 'sluice-ebpf', 'sluice-bridge'] as const;
export type SetupId = (typeof SETUP_IDS)[number];

export const SETUP_LABELS: Record<SetupId, string> = {
  floor: 'floor: one veth pair',
  'bridge-plugin': 'bridge plugin',
  'sluice-ebpf': 'sluice ebpf',
  'sluice-bridge': 'sluice bridge mode',
};

export const PATTERNS = ['stream', 'rr', 'crr'] as const;
/** stream: one TCP stream (iperf3); rr: TCP request/response ping-pong (sockperf); crr: new TCP connections (connrate). */
export type Pattern = (typeof PATTERNS)[number];

/** A netfilter hook the benchmark put its rules on, e.g. "inet forward" or "bridge forward". */
export type Hook = 'inet forward' | 'bridge forward';

/** One TCP stream per run, iperf3 -J, the receiver's figures. */
export interface StreamRuns {
  bitsPerSecond: number[];
  retransmits: number[];
}

/** sockperf ping-pong over TCP, round-trip times (--full-rtt), one entry per run. */
export interface RequestResponseRuns {
  p50Us: number[];
  p99Us: number[];
  /** Completed round trips per second over sockperf's measured interval. */
  perSecond: number[];
}

/** The benchmark's own connect/accept/close loop (bench/native/connrate.c), one entry per run. */
export interface ConnectionRuns {
  perSecond: number[];
  /** Connections that failed (refused, reset before the server's byte), per run. */
  errors: number[];
}

/** One setup, with or without the rules. */
export interface VariantResult {
  setup: SetupId;
  rules: boolean;
  /** Where the rules were loaded (empty without rules). */
  hooks: Hook[];
  stream?: StreamRuns;
  rr?: RequestResponseRuns;
  crr?: ConnectionRuns;
  /**
   * Packets that reached the end of each rule chain (a counter after the rules) over all the
   * variant's runs: proof of which hooks the pod-to-pod traffic crossed. Only with rules.
   */
  chainPackets?: Partial<Record<Hook, number>>;
  /** Runs that failed, with the error (the figure is missing from the lists above). */
  failures: string[];
}

export interface DataplaneRaw {
  benchmark: 'dataplane';
  command: string;
  machine: Machine;
  loadAtEnd: number;
  config: {
    runs: number;
    seconds: number;
    /** Rules loaded in the node namespace in the "with rules" variants. */
    rules: number;
    /** sockperf's message size in bytes. */
    messageBytes: number;
    /** Parallel connecting threads of the connection-rate client (and accepting threads of its server). */
    connectors: number;
    /** Pod MTU on every path. */
    mtu: number;
    quick: boolean;
    patterns: Pattern[];
  };
  /**
   * br_netfilter in the node namespace: whether bridged IPv4 frames also cross the inet hooks
   * (net.bridge.bridge-nf-call-iptables = 1 there; absent when the kernel has no br_netfilter).
   */
  bridgedFramesCrossInet: boolean;
  /** True when a bridge-family chain was added for the bridged setups although their frames cross inet forward. */
  bridgeChainForced: boolean;
  tools: { iperf3: string; sockperf: string; cc: string };
  variants: VariantResult[];
}
