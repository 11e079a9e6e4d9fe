// The JSON the control-plane bench writes (bench/results/cni-latency.json) and the report reads:
// its shape, the summary both use, and a check that a file really has that shape.
import type { Machine } from '../lib/machine.js';
import { quantile, summarize, type Summary } from '../lib/stats.js';
import type { ProcMemory } from './proc-memory.js';

export type ContenderKind = 'agent' | 'agent-cls' | 'standalone' | 'bridge';
export const CONTENDER_KINDS: readonly ContenderKind[] = ['agent', 'agent-cls', 'standalone', 'bridge'];

export interface LatencySummary extends Summary {
  p99: number;
}

export interface ContenderResult {
  name: string;
  kind: ContenderKind;
  ipMasq: boolean;
  /** Over pods 1..config.pods (the same pods for every contender), from the growth run. */
  add: LatencySummary;
  del: LatencySummary;
  /**
   * Every sequential call, ms: addMs[i] is the ADD that brought the node to i + 1 pods, delMs[i] the
   * DEL that took it from i + 1 pods (DELs run newest pod first).
   */
  growth: { addMs: number[]; delMs: number[] };
  /** config.pods ADDs started at once, then as many DELs: the time until the last one answered. */
  burstAddMs: number;
  burstDelMs: number;
  /** Every burst's time, ms, when the bursts were repeated (burstAddMs and burstDelMs are their medians). */
  bursts?: { addMs: number[]; delMs: number[] };
  /**
   * The agent's deferred TCX attaches, done while the bench waited after a phase: how many, and the
   * time from the phase's last answer until none was left (the agent's quiet time included).
   */
  deferredAttach?: { phase: string; links: number; ms: number; quietMs: number }[];
  memory: {
    /** Peak RSS of the largest process of each measured call (the plugin and whatever it ran), KiB. */
    addPeakKiB: number[];
    delPeakKiB: number[];
    /** The agent process (all its threads), after the warm-up and at the end of the run. */
    agent?: { afterWarmup: ProcMemory; atEnd: ProcMemory };
  };
  failures: string[];
}

export interface CniLatencyResults {
  benchmark: 'cni-latency';
  command: string;
  machine: Machine;
  loadAtEnd: number;
  config: {
    /** Pods in the median/p99 figures and in the burst. */
    pods: number;
    /** Sequential pods per contender in the growth run; the standalone plugin's own count. */
    growth: number;
    standaloneGrowth: number;
    /** Pods per growth bucket. */
    bucket: number;
    warmup: number;
    /** ADD/DEL pairs in the memory pass, per contender. */
    memoryCalls: number;
    /** Worker threads of each agent. */
    agentWorkers?: number;
  };
  results: ContenderResult[];
  /** Contenders left out, with why. */
  skipped: string[];
  /** Issue 7's target: the agent's median ADD under half the bridge plugin's. */
  target: { agentAddMedian: number; halfBridgeAdd: number; met: boolean };
  /** Seconds the whole run took. */
  elapsedSeconds?: number;
}

export function latencySummary(samples: readonly number[]): LatencySummary {
  return { ...summarize(samples), p99: quantile(samples, 0.99) };
}

function fail(what: string): never {
  throw new TypeError(`not the control-plane bench's results (bench/results/cni-latency.json): ${what}`);
}

const isNumber = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const isNumbers = (x: unknown): x is number[] => Array.isArray(x) && x.every(isNumber);

/** Checks that `raw` has the shape the report relies on and returns it typed. */
export function parseResults(raw: unknown): CniLatencyResults {
  if (!raw || typeof raw !== 'object') fail('not an object');
  const r = raw as Partial<CniLatencyResults>;
  if (r.benchmark !== 'cni-latency') fail(`benchmark is ${JSON.stringify(r.benchmark)}`);
  if (!r.config || !isNumber(r.config.pods) || !isNumber(r.config.bucket)) fail('config.pods and config.bucket missing');
  if (!Array.isArray(r.results) || r.results.length === 0) fail('no results');
  r.results.forEach((c, i) => {
    const where = `results[${i}] (${String(c?.name)})`;
    if (typeof c?.name !== 'string' || !CONTENDER_KINDS.includes(c.kind) || typeof c.ipMasq !== 'boolean') fail(`${where}: name, kind or ipMasq missing`);
    for (const key of ['add', 'del'] as const) {
      if (!isNumber(c[key]?.median) || !isNumber(c[key]?.q1) || !isNumber(c[key]?.q3) || !isNumber(c[key]?.p99)) fail(`${where}: ${key} summary incomplete`);
    }
    if (!isNumbers(c.growth?.addMs) || !isNumbers(c.growth?.delMs)) fail(`${where}: growth samples missing`);
    if (!isNumber(c.burstAddMs) || !isNumber(c.burstDelMs)) fail(`${where}: burst figures missing`);
    if (!isNumbers(c.memory?.addPeakKiB) || !isNumbers(c.memory?.delPeakKiB)) fail(`${where}: memory figures missing`);
    if (!Array.isArray(c.failures)) fail(`${where}: failures missing`);
  });
  if (!r.results.some((c) => c.kind === 'bridge' && !c.ipMasq)) fail('no bridge + host-local result without ipMasq (the reference)');
  if (!r.results.some((c) => c.kind === 'agent' && !c.ipMasq)) fail('no agent result without ipMasq');
  return r as CniLatencyResults;
}

/** Issue 7's target from the results: the agent's median ADD under half the bridge plugin's (both without ipMasq). */
export function issue7Target(results: readonly ContenderResult[]): CniLatencyResults['target'] {
  const agent = results.find((r) => r.kind === 'agent' && !r.ipMasq);
  const bridge = results.find((r) => r.kind === 'bridge' && !r.ipMasq);
  if (!agent || !bridge) throw new Error('the target needs the agent and the bridge plugin, both without ipMasq');
  const halfBridgeAdd = bridge.add.median / 2;
  return { agentAddMedian: agent.add.median, halfBridgeAdd, met: agent.add.median < halfBridgeAdd };
}
