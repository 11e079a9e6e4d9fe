// The data-plane benchmark's machinery, shared by bench/dataplane.ts and its kernel test: makes the
// setups, then measures every variant (setup, with or without the rules) in `runs` rounds, each round
// in a rotated order so that drift on the machine (other load, heat) touches every variant alike.
// In a variant with rules, the rules are loaded just before its patterns run and removed right after,
// and the counters at the end of their chains say how many packets crossed them.
import { Interrupted, type Cleanup } from '../../src/demo/cleanup.js';
import { readSysctl } from '../../src/datapath/sysctl.js';
import type { NetNs } from '../../src/netns.js';
import { describeMachine, loadNow } from '../lib/machine.js';
import { formatSI } from '../lib/report.js';
import type { DataplaneRaw, Hook, Pattern, SetupId, VariantResult } from './results.js';
import { SETUP_LABELS } from './results.js';
import { LoadedRules } from './rules.js';
import { createSetup, type Setup } from './setups.js';
import { buildConnrate, ensureTools } from './tools.js';
import { connectionRate, pingPong, tcpStream } from './traffic.js';

export interface DataplaneOptions {
  setups: readonly SetupId[];
  patterns: readonly Pattern[];
  runs: number;
  /** Length of each measurement (whole seconds: iperf3 and sockperf take no fractions). */
  seconds: number;
  /** Rules in the "with rules" variants; 0 leaves those variants out. */
  rules: number;
  messageBytes: number;
  connectors: number;
  mtu: number;
  /** Add a bridge-family chain for bridged setups even when their frames cross inet forward already. */
  forceBridgeChain: boolean;
  quick: boolean;
  command: string;
  log: (line: string) => void;
}

export function checkOptions(o: DataplaneOptions): void {
  const int = (name: string, v: number, min: number, max: number) => {
    if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`${name} must be an integer within [${min}, ${max}], got ${v}`);
  };
  int('runs', o.runs, 1, 1000);
  int('seconds', o.seconds, 1, 3600);
  int('rules', o.rules, 0, 65535);
  int('message size', o.messageBytes, 14, 65000);
  int('connectors', o.connectors, 1, 64);
  int('mtu', o.mtu, 1280, 9000);
  if (o.setups.length === 0) throw new RangeError('no setup to measure');
  if (o.patterns.length === 0) throw new RangeError('no pattern to measure');
}

interface Variant {
  setup: Setup;
  result: VariantResult;
}

/** Whether bridged IPv4 frames cross the inet hooks in this node (br_netfilter's per-namespace switch). */
function bridgedFramesCrossInet(ns: NetNs): boolean {
  try {
    return readSysctl('net.bridge.bridge-nf-call-iptables', ns) === '1';
  } catch {
    return false; // no br_netfilter in this kernel
  }
}

function hooksFor(setup: Setup, crossInet: boolean, forceBridgeChain: boolean): Hook[] {
  const hooks: Hook[] = ['inet forward'];
  if (setup.bridged && (!crossInet || forceBridgeChain)) hooks.push('bridge forward');
  return hooks;
}

const gbit = (bps: number) => `${(bps / 1e9).toFixed(2)} Gbit/s`;

async function measure(cleanup: Cleanup, o: DataplaneOptions, connrate: string, v: Variant, pattern: Pattern): Promise<string> {
  const pair = v.setup.pair;
  const r = v.result;
  switch (pattern) {
    case 'stream': {
      const s = await tcpStream(cleanup, pair, o.seconds);
      r.stream ??= { bitsPerSecond: [], retransmits: [] };
      r.stream.bitsPerSecond.push(s.bitsPerSecond);
      r.stream.retransmits.push(s.retransmits);
      return gbit(s.bitsPerSecond);
    }
    case 'rr': {
      const p = await pingPong(cleanup, pair, o.seconds, o.messageBytes);
      r.rr ??= { p50Us: [], p99Us: [], perSecond: [] };
      r.rr.p50Us.push(p.p50);
      r.rr.p99Us.push(p.p99);
      r.rr.perSecond.push(p.perSecond);
      return `RTT p50 ${p.p50.toFixed(1)} µs p99 ${p.p99.toFixed(1)} µs`;
    }
    case 'crr': {
      const c = await connectionRate(cleanup, pair, connrate, o.seconds, o.connectors);
      r.crr ??= { perSecond: [], errors: [] };
      r.crr.perSecond.push(c.perSecond);
      r.crr.errors.push(c.errors);
      return `${formatSI(c.perSecond)} conn/s`;
    }
  }
}

/** Measures everything `o` asks for; whatever it made is removed by `cleanup.teardown()` (the caller's). */
export async function runDataplane(o: DataplaneOptions, cleanup: Cleanup): Promise<DataplaneRaw> {
  checkOptions(o);
  const tools = ensureTools(o.log);
  const connrate = buildConnrate();
  const machine = describeMachine();

  const setups: Setup[] = [];
  for (const id of o.setups) {
    o.log(`setting up ${SETUP_LABELS[id]}`);
    setups.push(await createSetup(cleanup, id, o.mtu));
  }
  let active: LoadedRules | undefined;
  cleanup.onClose('removing the benchmark\'s nft tables', () => active?.unload());

  const firstNode = setups.find((s) => s.node)?.node;
  const crossInet = firstNode ? bridgedFramesCrossInet(firstNode.ns) : false;
  const variants: Variant[] = [];
  for (const setup of setups) {
    variants.push({ setup, result: { setup: setup.id, rules: false, hooks: [], failures: [] } });
    if (setup.node && o.rules > 0) {
      variants.push({ setup, result: { setup: setup.id, rules: true, hooks: hooksFor(setup, crossInet, o.forceBridgeChain), chainPackets: {}, failures: [] } });
    }
  }

  // Every path carries traffic before anything is measured (and its neighbours are resolved).
  for (const setup of setups) {
    const check = await connectionRate(cleanup, setup.pair, connrate, 0.5, 1);
    if (check.connections === 0) throw new Error(`${SETUP_LABELS[setup.id]}: no TCP connection got through (${check.errors} failed)`);
  }

  // About 0.8 s per measurement besides its own length (servers starting, sockperf's warm-up).
  const minutes = (variants.length * o.patterns.length * o.runs * (o.seconds + 0.8)) / 60;
  o.log(`measuring ${variants.length} variants x ${o.patterns.length} patterns x ${o.runs} runs of ${o.seconds} s: about ${minutes.toFixed(1)} min`);
  const name = (v: Variant) => `${SETUP_LABELS[v.setup.id]}${v.result.rules ? ` + ${o.rules} rules` : ''}`;
  for (let round = 0; round < o.runs; round++) {
    for (let k = 0; k < variants.length; k++) {
      const v = variants[(round + k) % variants.length]!;
      const figures: string[] = [];
      if (v.result.rules) active = new LoadedRules(v.setup.node!.path, v.result.hooks, o.rules);
      try {
        for (const pattern of o.patterns) {
          try {
            figures.push(await measure(cleanup, o, connrate, v, pattern));
          } catch (err) {
            if (err instanceof Interrupted) throw err;
            cleanup.check();
            const message = err instanceof Error ? err.message : String(err);
            v.result.failures.push(`${pattern}, run ${round + 1}: ${message}`);
            figures.push(`${pattern} FAILED`);
          }
        }
        if (active) {
          for (const [hook, packets] of Object.entries(active.counters()) as [Hook, number][]) {
            v.result.chainPackets![hook] = (v.result.chainPackets![hook] ?? 0) + packets;
          }
        }
      } finally {
        active?.unload();
        active = undefined;
      }
      o.log(`run ${round + 1}/${o.runs}  ${name(v)}: ${figures.join(', ')}`);
    }
  }

  return {
    benchmark: 'dataplane',
    command: o.command,
    machine,
    loadAtEnd: loadNow(),
    config: {
      runs: o.runs, seconds: o.seconds, rules: o.rules, messageBytes: o.messageBytes, connectors: o.connectors, mtu: o.mtu,
      quick: o.quick, patterns: [...o.patterns],
    },
    bridgedFramesCrossInet: crossInet,
    bridgeChainForced: o.forceBridgeChain,
    tools,
    variants: variants.map((v) => v.result),
  };
}
