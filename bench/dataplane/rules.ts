// The benchmark's netfilter rules, kube-proxy-like: one rule per "service" (a distinct virtual IP, TCP
// port 80), none matching the pods' traffic, so every pod-to-pod packet that crosses the chain is
// compared against all of them, one after the other. A counter at the end of the chain says how many
// packets did. Loaded with `nft -f` inside the simulated node's namespace only, in a table of the
// benchmark's own; deleted after each variant.
import { spawnSync } from 'node:child_process';
import { chainCounters } from './parse.js';
import type { Hook } from './results.js';

export const TABLE = 'sluice-bench';

/** The nft family and the hook of each place the rules can go. */
const HOOKS: Record<Hook, { family: 'inet' | 'bridge'; hook: 'forward' }> = {
  'inet forward': { family: 'inet', hook: 'forward' },
  'bridge forward': { family: 'bridge', hook: 'forward' },
};

/** The i-th service address (i from 0): 10.96.0.1, 10.96.0.2, ... (10.96.0.0/16 holds 65,535 of them). */
export function serviceAddress(i: number): string {
  if (!Number.isInteger(i) || i < 0 || i > 65534) throw new RangeError(`service index must be within [0, 65534], got ${i}`);
  const n = i + 1;
  return `10.96.${n >> 8}.${n & 255}`;
}

/** An `nft -f` script: the table with one base chain on `hook`, `count` rules, and the counter last. */
export function rulesetScript(hook: Hook, count: number): string {
  const { family, hook: nfHook } = HOOKS[hook];
  const lines = [
    `table ${family} ${TABLE} {`,
    `  chain ${nfHook} {`,
    `    type filter hook ${nfHook} priority filter; policy accept;`,
  ];
  for (let i = 0; i < count; i++) lines.push(`    ip daddr ${serviceAddress(i)} tcp dport 80 accept`);
  lines.push('    counter', '  }', '}');
  return `${lines.join('\n')}\n`;
}

function nft(nodePath: string, args: string[], input?: string): string {
  const r = spawnSync('nsenter', [`--net=${nodePath}`, 'nft', ...args], { input, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`nft ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`nft ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr.trim().split('\n').slice(0, 3).join(' / ')}`);
  return r.stdout;
}

/** The rules loaded on some hooks of one node namespace; unload() deletes the tables (idempotent). */
export class LoadedRules {
  private loaded: Hook[] = [];

  constructor(private readonly nodePath: string, readonly hooks: readonly Hook[], count: number) {
    try {
      for (const hook of hooks) {
        nft(nodePath, ['-f', '-'], rulesetScript(hook, count));
        this.loaded.push(hook);
      }
    } catch (err) {
      this.unload();
      throw err;
    }
  }

  /** Packets that reached each chain's end since the rules were loaded. */
  counters(): Partial<Record<Hook, number>> {
    const out: Partial<Record<Hook, number>> = {};
    for (const hook of this.loaded) {
      const { family, hook: nfHook } = HOOKS[hook];
      out[hook] = chainCounters(nft(this.nodePath, ['-j', 'list', 'table', family, TABLE]))[`${family} ${nfHook}`] ?? 0;
    }
    return out;
  }

  unload(): void {
    const errors: string[] = [];
    for (const hook of this.loaded.splice(0)) {
      try {
        nft(this.nodePath, ['delete', 'table', HOOKS[hook].family, TABLE]);
      } catch (err) {
        errors.push(String(err));
      }
    }
    if (errors.length) throw new Error(`removing the benchmark's nft tables: ${errors.join('; ')}`);
  }
}
