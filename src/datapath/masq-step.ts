/**
 * `"ipMasq": true` for both data paths: the pod's addresses become elements of the node's masquerade
 * sets (masquerade.ts), so its traffic leaves the node with the node's address, except towards other
 * pods, multicast and the config's `ipMasqExclude`. The rules themselves are node-wide and constant:
 * every ADD runs ensure() (which only reads when all is in place), then adds its elements.
 *
 * The attachment's record keeps what was added (table and prefixes), written before the elements are
 * added, so DEL and GC remove them without CNI_NETNS or prevResult, and after a crash part-way.
 *
 * The table's excluded destinations are the config's `ipMasqExclude` (plus multicast): every ADD makes
 * them so, so networks sharing a table must agree on that list; `ipMasqTable` gives one a table of its
 * own. CHECK reports a table whose rules or excluded destinations differ from what this config makes.
 *
 * The nf_tables codec is imported on first use: a config without ipMasq never loads it.
 */
import type { SluiceSettings } from '../cni/types.js';
import type { NetNs } from '../netns.js';
import { hostPrefix, splitCidr, type Family } from './ip.js';
import type { Step } from './steps.js';

export const DEFAULT_MASQUERADE_TABLE = 'sluice';

/** What an attachment added to the masquerade sets, as its record keeps it. */
export interface MasqueradeRecord {
  /** The inet table. */
  table: string;
  /** The elements: "10.244.1.5/32", "fd00::5/128". */
  prefixes: string[];
}

export interface MasqueradeContext {
  settings: SluiceSettings;
  /** The pod's own addresses, without prefix length. */
  addresses: { ip: string; family: Family }[];
  /** Set once the elements are in. */
  masquerade?: MasqueradeRecord;
}

export const masqueradeTableOf = (settings: SluiceSettings): string => settings.ipMasqTable ?? DEFAULT_MASQUERADE_TABLE;

/** The host prefixes ("/32", "/128") of addresses given with or without a prefix length. */
export function hostPrefixes(addresses: readonly string[]): string[] {
  const out: string[] = [];
  for (const a of addresses) {
    const parsed = splitCidr(a);
    if (!parsed) continue;
    const prefix = `${parsed.ip}/${hostPrefix(parsed.family)}`;
    if (!out.includes(prefix)) out.push(prefix);
  }
  return out;
}

async function open(table: string, exclude: readonly string[], netns: NetNs | undefined) {
  const [{ Masquerade }, { keptNftSocket }] = await Promise.all([import('./masquerade.js'), import('./nft-common.js')]);
  const socket = keptNftSocket(netns);
  return new Masquerade({ table, nomasq: exclude, ...(socket ? { socket } : netns ? { netns } : {}) });
}

/** Makes sure the ruleset is complete, then adds the elements. */
export async function addMasquerade(target: MasqueradeRecord, settings: SluiceSettings, netns?: NetNs): Promise<void> {
  const m = await open(target.table, settings.ipMasqExclude ?? [], netns);
  try {
    m.ensure();
    m.addPod(target.prefixes);
  } finally {
    m.close();
  }
}

/** Removes the elements (those already gone are ignored). The table stays: other pods use it. */
export async function removeMasquerade(target: MasqueradeRecord, netns?: NetNs): Promise<void> {
  const m = await open(target.table, [], netns);
  try {
    m.removePod(target.prefixes);
  } finally {
    m.close();
  }
}

/**
 * CHECK: every difference between the node's masquerade ruleset and what ADD makes, in words: the
 * table, chain, sets, rules and excluded destinations (what ensure() would change), and the elements.
 */
export async function masqueradeDifferences(table: string, settings: SluiceSettings, prefixes: readonly string[], netns?: NetNs): Promise<string[]> {
  const { planEnsure, nomasqIntervals } = await import('./masquerade.js');
  const exclude = settings.ipMasqExclude ?? [];
  const m = await open(table, exclude, netns);
  const diffs: string[] = [];
  try {
    const observed = m.observe();
    if (!observed.table) return [`masquerade table inet ${table} is missing on the node`];
    try {
      const { actions } = planEnsure(table, nomasqIntervals(exclude), observed);
      if (actions.length) diffs.push(`masquerade ruleset of table inet ${table} differs: ADD would ${actions.join('; ')}`);
    } catch (err) {
      diffs.push((err as Error).message);
    }
    const present = new Set(m.list().pods);
    for (const p of prefixes) if (!present.has(p)) diffs.push(`masquerade element ${p} is missing from table inet ${table}`);
  } finally {
    m.close();
  }
  return diffs;
}

/**
 * The step of ADD: with ipMasq, records what it is about to add (`save`), then adds it; undo removes
 * it again. Without ipMasq it does nothing (it is still a step, so the step list is the same for
 * every config).
 */
export function masqueradeStep<C extends MasqueradeContext>(options: { netns?: NetNs; save: (ctx: C, record: MasqueradeRecord) => void }): Step<C> {
  return {
    name: 'masquerade',
    run: async (ctx) => {
      if (!ctx.settings.ipMasq || ctx.addresses.length === 0) return;
      const target: MasqueradeRecord = { table: masqueradeTableOf(ctx.settings), prefixes: hostPrefixes(ctx.addresses.map((a) => a.ip)) };
      options.save(ctx, target);
      await addMasquerade(target, ctx.settings, options.netns);
      ctx.masquerade = target;
    },
    undo: async (ctx) => {
      if (ctx.masquerade) await removeMasquerade(ctx.masquerade, options.netns);
    },
  };
}
