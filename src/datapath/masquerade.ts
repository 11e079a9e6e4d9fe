// Masquerade (ipMasq) over nf_tables, programmed with our own codec on a NETLINK_NETFILTER socket: no
// nft or iptables process. One inet table of sluice's own holds a nat postrouting chain and four
// interval sets; the rules are constant, and pods are set elements:
//
//   table inet sluice {
//     set pods4   { type ipv4_addr; flags interval; }   set pods6   { type ipv6_addr; flags interval; }
//     set nomasq4 { type ipv4_addr; flags interval; }   set nomasq6 { type ipv6_addr; flags interval; }
//     chain postrouting {
//       type nat hook postrouting priority srcnat; policy accept;
//       ip saddr @pods4 ip daddr != @pods4 ip daddr != @nomasq4 masquerade comment "sluice masquerade ipv4 <tag>"
//       ip6 saddr @pods6 ip6 daddr != @pods6 ip6 daddr != @nomasq6 masquerade comment "sluice masquerade ipv6 <tag>"
//     }
//   }
//
// nomasq holds the configured destinations (pod CIDR, cluster CIDR, ...) and multicast, which the
// reference bridge plugin never masquerades either; traffic between pods is never masqueraded.
//
// Concurrency: several plugin processes may run ensure(), addPod() and removePod() at once, with no
// lock file. ensure() and gc() read the ruleset and the generation it belongs to (NFT_MSG_GETGEN),
// compute the missing changes, and send them in one batch carrying that generation (NFNL_BATCH_GENID):
// the kernel checks it under its commit mutex and applies the batch only if nothing was committed
// since, answering ERESTART otherwise, upon which we read again. That is a compare-and-swap on the
// whole ruleset, against every writer of the namespace (another sluice, nft, kube-proxy), that needs
// no shared file system and that a crashed process cannot leave locked. Our rules are found by their
// userdata (an nft comment ending in a hash of the rule's expressions): a rule of another sluice
// version is replaced, and a duplicate cannot survive an ensure(). When everything is in place
// ensure() only reads. addPod() needs no guard: it adds elements with NLM_F_EXCL and, if the kernel
// answers EEXIST, reads the set to tell "already there" (another ADD of the same pod) from an overlap.
// removePod() reads, deletes what is there, and reads again if an element vanished meanwhile (ENOENT).
import { DumpInterruptedError } from '../netlink/errors.js';
import { NLM_F, type AnyMessage, type MessageKind } from '../netlink/message.js';
import type { NetlinkSocket } from '../netlink/socket.js';
import type { NetNs } from '../netns.js';
import { backoff, deleteNftTable, isErrno, nftGeneration, nftGetRequest, openNftSocket, taggedRule, validateTableName } from './nft-common.js';
import {
  encodeNftUserdata, formatInterval, intervalElements, intervalId, intervalsFromElements, isGenerationConflict,
  mergeIntervals, NF_INET, NF_VERDICT, NFPROTO, NFT_CMP, NFT_DATATYPE, NFT_META, NFT_MSG, NFT_PAYLOAD, NFT_PRIORITY, NFT_BYTEORDER,
  NFT_SET_F, NFT_TABLE_F, NftBatch, nftChain, nftExpr, nftRule, nftSet, nftSetElem, nftTable, nftType, prefixInterval,
  nftU32Tlv, nftUserdataComment, NFTNL_UDATA_SET,
  type NftExpression, type AddressInterval, type NftChainAttrs, type NftRuleAttrs, type NftSetAttrs, type NftSetElemMessage, type NftTableAttrs,
} from '../netlink/nftables/index.js';

export const DEFAULT_MASQUERADE_TABLE = 'sluice';
export const MASQUERADE_CHAIN = 'postrouting';
/** The sets of the masquerade table. */
export const MASQUERADE_SETS = { pods4: 'pods4', pods6: 'pods6', nomasq4: 'nomasq4', nomasq6: 'nomasq6' } as const;
/** Destinations never masqueraded whatever the configuration says: multicast (as the reference plugin). */
export const ALWAYS_NOMASQ: readonly string[] = ['224.0.0.0/4', 'ff00::/8'];

export interface MasqueradeOptions {
  /** The inet table sluice owns; default "sluice". Tests use unique names. */
  table?: string;
  /** Destinations not masqueraded: the pod CIDR, the cluster CIDR, ... (multicast is always added). */
  nomasq?: readonly string[];
  /** The namespace to program (the node's); default the one the calling thread is in. */
  netns?: NetNs;
  /** An open NETLINK_NETFILTER socket to use instead (decoding with the `nftables` family); not closed by close(). */
  socket?: NetlinkSocket;
  /** How many times ensure(), gc() and removePod() read again after a concurrent change; default 64. */
  maxAttempts?: number;
}

export interface EnsureResult {
  /** Whether anything was changed (false: the ruleset was already complete). */
  changed: boolean;
  /** What was done, in nft's words ("add table inet sluice", "delete rule ... handle 7", ...). */
  actions: string[];
  /** How many times a concurrent change made us read again. */
  retries: number;
}

/** The masquerade table holds something ensure() must not silently replace (a chain or set of another shape). */
export class MasqueradeError extends Error {
  override readonly name = 'MasqueradeError';
}

const INET = NFPROTO.INET;
type NftKind = MessageKind<'nfgen', any, any>;
const EMPTY = Buffer.alloc(0);

/** One of the constant rules: its expressions and the userdata that identifies it. */
export interface MasqueradeRule {
  readonly family: 4 | 6;
  readonly comment: string;
  readonly userdata: Buffer;
  readonly expressions: NftExpression[];
}

/**
 * The rule of one family: `ip saddr @pods4 ip daddr != @pods4 ip daddr != @nomasq4 masquerade`
 * (ip6 and the 6 sets for IPv6), with a comment ending in a hash of its expressions.
 */
export function masqueradeRule(family: 4 | 6): MasqueradeRule {
  return (rules[family] ??= buildRule(family));
}
const rules: { 4?: MasqueradeRule; 6?: MasqueradeRule } = {};

function buildRule(family: 4 | 6): MasqueradeRule {
  const [nfproto, saddr, daddr, len] = family === 4 ? [NFPROTO.IPV4, 12, 16, 4] : [NFPROTO.IPV6, 8, 24, 16];
  const pods = family === 4 ? MASQUERADE_SETS.pods4 : MASQUERADE_SETS.pods6;
  const nomasq = family === 4 ? MASQUERADE_SETS.nomasq4 : MASQUERADE_SETS.nomasq6;
  const expressions = [
    nftExpr.meta(NFT_META.NFPROTO),
    nftExpr.cmp(NFT_CMP.EQ, Uint8Array.of(nfproto)),
    nftExpr.payload(NFT_PAYLOAD.NETWORK_HEADER, saddr, len),
    nftExpr.lookup(pods),
    nftExpr.payload(NFT_PAYLOAD.NETWORK_HEADER, daddr, len),
    nftExpr.lookup(pods, undefined, { invert: true }),
    nftExpr.payload(NFT_PAYLOAD.NETWORK_HEADER, daddr, len),
    nftExpr.lookup(nomasq, undefined, { invert: true }),
    nftExpr.masq(),
  ];
  return { family, ...taggedRule(`sluice masquerade ipv${family}`, expressions) };
}

/** The attributes of one of the four sets (the key byte order userdata is what nft writes for addresses). */
export function masqueradeSet(table: string, name: string): NftSetAttrs {
  const v6 = name.endsWith('6');
  return {
    table,
    name,
    flags: NFT_SET_F.INTERVAL,
    keyType: v6 ? NFT_DATATYPE.IP6ADDR : NFT_DATATYPE.IPADDR,
    keyLen: v6 ? 16 : 4,
    userdata: encodeNftUserdata([nftU32Tlv(NFTNL_UDATA_SET.KEYBYTEORDER, NFT_BYTEORDER.BIG_ENDIAN)]),
  };
}

/** What ensure() found in the kernel. */
export interface ObservedRuleset {
  genid: number;
  table?: NftTableAttrs;
  chain?: NftChainAttrs;
  sets: Map<string, NftSetAttrs>;
  rules: NftRuleAttrs[];
  /** The intervals in each nomasq set that exists. */
  nomasq: Map<string, AddressInterval[]>;
}

export { validateTableName };

/** The nomasq intervals of a configuration: the given prefixes and multicast, merged. Throws on a bad prefix. */
export function nomasqIntervals(nomasq: readonly string[]): AddressInterval[] {
  return mergeIntervals([...nomasq, ...ALWAYS_NOMASQ].map((p) => {
    try {
      return prefixInterval(p);
    } catch (e) {
      throw new TypeError(`masquerade: nomasq entry ${(e as Error).message}`);
    }
  }));
}

/**
 * The batch that turns `observed` into the masquerade ruleset (empty when nothing is missing), and what
 * it does in words. Pure: the kernel is not asked anything. Throws MasqueradeError when the table holds
 * a chain or set of the same name but another shape.
 */
export function planEnsure(table: string, nomasq: readonly AddressInterval[], observed: ObservedRuleset): { batch: NftBatch; actions: string[] } {
  const batch = new NftBatch({ genid: observed.genid });
  const actions: string[] = [];
  const add = <K extends Parameters<NftBatch['add']>[0]>(kind: K, request: Parameters<NftBatch['add']>[1], what: string) => {
    batch.add(kind, request as never, what);
    actions.push(what);
  };
  const nfgen = { family: INET };
  const where = `inet ${table}`;

  if (!observed.table || ((observed.table.flags ?? 0) & NFT_TABLE_F.DORMANT)) {
    add(nftTable, { header: { type: nftType(NFT_MSG.NEWTABLE), flags: NLM_F.CREATE }, nfgen, attrs: { name: table, flags: 0 } }, `add table ${where}`);
  }

  const chain = observed.chain;
  if (chain) {
    const hook = chain.hook;
    if (chain.type !== 'nat' || hook?.hooknum !== NF_INET.POST_ROUTING || hook.priority !== NFT_PRIORITY.SRCNAT) {
      throw new MasqueradeError(`table ${where} has a chain ${MASQUERADE_CHAIN} that is not "type nat hook postrouting priority srcnat" ` +
        `(type ${String(chain.type)}, hook ${String(hook?.hooknum)}, priority ${String(hook?.priority)}): uninstall it or use another table name`);
    }
  }
  if (!chain || chain.policy !== NF_VERDICT.ACCEPT) {
    add(nftChain, {
      header: { type: nftType(NFT_MSG.NEWCHAIN), flags: NLM_F.CREATE },
      nfgen,
      attrs: { table, name: MASQUERADE_CHAIN, hook: { hooknum: NF_INET.POST_ROUTING, priority: NFT_PRIORITY.SRCNAT }, policy: NF_VERDICT.ACCEPT, type: 'nat' },
    }, `add chain ${where} ${MASQUERADE_CHAIN} { type nat hook postrouting priority srcnat; policy accept; }`);
  }

  let setId = 0;
  for (const name of Object.values(MASQUERADE_SETS)) {
    // NFTA_SET_ID names a set inside its batch; the kernel requires one on every new set.
    const want = { ...masqueradeSet(table, name), id: ++setId };
    const have = observed.sets.get(name);
    if (have) {
      if (have.keyLen !== want.keyLen || ((have.flags ?? 0) & (NFT_SET_F.INTERVAL | NFT_SET_F.MAP | NFT_SET_F.CONCAT)) !== NFT_SET_F.INTERVAL) {
        throw new MasqueradeError(`table ${where} has a set ${name} that is not an interval set of ${want.keyLen === 4 ? 'ipv4_addr' : 'ipv6_addr'} ` +
          `(key length ${String(have.keyLen)}, flags 0x${(have.flags ?? 0).toString(16)}): uninstall it or use another table name`);
      }
      continue;
    }
    add(nftSet, { header: { type: nftType(NFT_MSG.NEWSET), flags: NLM_F.CREATE }, nfgen, attrs: want }, `add set ${where} ${name}`);
  }

  for (const [name, family] of [[MASQUERADE_SETS.nomasq4, 4], [MASQUERADE_SETS.nomasq6, 6]] as const) {
    const want = new Map(nomasq.filter((iv) => iv.family === family).map((iv) => [intervalId(iv), iv]));
    const have = new Map((observed.nomasq.get(name) ?? []).map((iv) => [intervalId(iv), iv]));
    const stale = [...have].filter(([id]) => !want.has(id)).map(([, iv]) => iv);
    const missing = [...want].filter(([id]) => !have.has(id)).map(([, iv]) => iv);
    if (stale.length) {
      add(nftSetElem, elementsRequest(NFT_MSG.DELSETELEM, 0, table, name, stale), `delete element ${where} ${name} { ${stale.map(formatInterval).join(', ')} }`);
    }
    if (missing.length) {
      add(nftSetElem, elementsRequest(NFT_MSG.NEWSETELEM, NLM_F.CREATE | NLM_F.EXCL, table, name, missing), `add element ${where} ${name} { ${missing.map(formatInterval).join(', ')} }`);
    }
  }

  const expected = [masqueradeRule(4), masqueradeRule(6)];
  const kept = new Set<MasqueradeRule>();
  for (const rule of observed.rules) {
    const match = expected.find((e) => e.userdata.equals(rule.userdata ?? EMPTY));
    if (match && !kept.has(match)) {
      kept.add(match);
      continue;
    }
    const name = nftUserdataComment(rule.userdata);
    add(nftRule, { header: { type: nftType(NFT_MSG.DELRULE) }, nfgen, attrs: { table, chain: MASQUERADE_CHAIN, handle: rule.handle } },
      `delete rule ${where} ${MASQUERADE_CHAIN} handle ${String(rule.handle)}${name ? ` (${name})` : ''}`);
  }
  for (const rule of expected) {
    if (kept.has(rule)) continue;
    add(nftRule, {
      header: { type: nftType(NFT_MSG.NEWRULE), flags: NLM_F.CREATE | NLM_F.APPEND },
      nfgen,
      attrs: { table, chain: MASQUERADE_CHAIN, expressions: rule.expressions, userdata: rule.userdata },
    }, `add rule ${where} ${MASQUERADE_CHAIN} (${rule.comment})`);
  }
  return { batch, actions };
}

/** A NEWSETELEM or DELSETELEM request for the elements of these intervals. */
export function elementsRequest(msg: number, flags: number, table: string, set: string, intervals: readonly AddressInterval[]) {
  return {
    header: { type: nftType(msg), flags },
    nfgen: { family: INET },
    attrs: { table, set, elements: intervals.flatMap(intervalElements) },
  };
}

/** A concurrent change spoiled what we read: read again. */
class Reread extends Error {}

function parseAll(prefixes: readonly string[], what: string): AddressInterval[] {
  if (!Array.isArray(prefixes)) throw new TypeError(`${what}: expected an array of IP prefixes`);
  const seen = new Map<string, AddressInterval>();
  for (const p of prefixes) {
    let iv: AddressInterval;
    try {
      iv = prefixInterval(p);
    } catch (e) {
      throw new TypeError(`${what}: ${(e as Error).message}`);
    }
    seen.set(intervalId(iv), iv);
  }
  return [...seen.values()];
}

/** Two intervals of the list that share an address, if any (sets refuse overlapping elements). */
export function firstOverlap(list: readonly AddressInterval[]): [AddressInterval, AddressInterval] | undefined {
  const sorted = [...list].sort((a, b) => (a.family !== b.family ? a.family - b.family : a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const cur = sorted[i]!;
    if (prev.family === cur.family && (prev.end === undefined || cur.start < prev.end)) return [prev, cur];
  }
  return undefined;
}

/**
 * The masquerade ruleset of one node (one network namespace). Synchronous, like the CNI plugin's other
 * netlink work. Call ensure() once (every ADD may: it changes nothing when all is in place), then
 * addPod()/removePod() per pod; gc() drops the elements of pods that are gone; uninstall() removes it all.
 */
export class Masquerade {
  readonly table: string;
  private readonly nomasq: AddressInterval[];
  private readonly sock: NetlinkSocket;
  private readonly ownSocket: boolean;
  private readonly maxAttempts: number;

  constructor(options: MasqueradeOptions = {}) {
    this.table = options.table ?? DEFAULT_MASQUERADE_TABLE;
    validateTableName(this.table);
    this.nomasq = nomasqIntervals(options.nomasq ?? []);
    this.maxAttempts = options.maxAttempts ?? 64;
    if (!Number.isInteger(this.maxAttempts) || this.maxAttempts < 1) throw new TypeError(`maxAttempts must be a positive integer, got ${String(options.maxAttempts)}`);
    this.ownSocket = !options.socket;
    this.sock = options.socket ?? openNftSocket(options.netns);
  }

  /**
   * Creates whatever is missing (table, chain, sets, the two rules), syncs the nomasq sets with the
   * configuration, and removes rules of the chain that are not ours or are duplicates; all in one
   * transaction guarded by the ruleset generation, retried after a concurrent change.
   */
  ensure(): EnsureResult {
    let retries = 0;
    for (let attempt = 1; ; attempt++) {
      try {
        const observed = this.observe();
        const { batch, actions } = planEnsure(this.table, this.nomasq, observed);
        batch.commit(this.sock);
        return { changed: actions.length > 0, actions, retries };
      } catch (e) {
        if (!this.shouldRetry(e, attempt)) throw e;
        retries++;
        backoff(attempt);
      }
    }
  }

  /**
   * Adds pod addresses or prefixes ("10.244.1.5", "10.244.1.5/32", "fd00::5/128") to the pod sets:
   * their traffic to anything outside nomasq and the pods is masqueraded from now on. Adding what is
   * already there is fine; a prefix overlapping a different one already in a set is refused with a
   * MasqueradeError. If the table or a set is missing, ensure() runs first.
   *
   * The elements are added with NLM_F_EXCL: without it the kernel takes an element equal to one it
   * holds as a no-op, element by element, so a range whose end element coincides with the end of a
   * smaller range already there would be half-added and overlap it. On EEXIST the sets are read to
   * tell "already there" from a real overlap.
   */
  addPod(prefixes: readonly string[]): void {
    const wanted = parseAll(prefixes, 'masquerade addPod');
    if (wanted.length === 0) return;
    const clash = firstOverlap(wanted);
    if (clash) throw new TypeError(`masquerade addPod: ${formatInterval(clash[0])} and ${formatInterval(clash[1])} overlap`);
    let todo = wanted;
    let ensured = false;
    this.retrying(() => {
      try {
        this.podBatch(NFT_MSG.NEWSETELEM, NLM_F.CREATE | NLM_F.EXCL, todo).commit(this.sock);
      } catch (e) {
        if (isErrno(e, 'ENOENT') && !ensured) {
          ensured = true;
          this.ensure();
          throw new Reread();
        }
        if (!isErrno(e, 'EEXIST')) throw e;
        const have = this.podIntervals(new Set(todo.map((iv) => iv.family)));
        const ids = new Set(have.map(intervalId));
        const missing = todo.filter((iv) => !ids.has(intervalId(iv)));
        if (missing.length === 0) return;
        for (const iv of missing) {
          const other = have.find((h) => firstOverlap([h, iv]));
          if (other) {
            throw new MasqueradeError(`masquerade addPod: ${formatInterval(iv)} overlaps ${formatInterval(other)}, already in the pod set of table inet ${this.table}`, { cause: e });
          }
        }
        // Some were there already (another ADD of the same pod): add the others.
        todo = missing;
        throw new Reread();
      }
    });
  }

  /** Removes pod addresses or prefixes from the pod sets; those not there are ignored. */
  removePod(prefixes: readonly string[]): void {
    const wanted = parseAll(prefixes, 'masquerade removePod');
    if (wanted.length === 0) return;
    this.retrying(() => {
      const have = new Set(this.podIntervals(new Set(wanted.map((iv) => iv.family))).map(intervalId));
      const present = wanted.filter((iv) => have.has(intervalId(iv)));
      if (present.length === 0) return;
      try {
        this.podBatch(NFT_MSG.DELSETELEM, 0, present).commit(this.sock);
      } catch (e) {
        // An element went away between our read and our delete (another DEL): read again.
        if (isErrno(e, 'ENOENT')) throw new Reread();
        throw e;
      }
    });
  }

  /**
   * Removes from the pod sets every element not in `live` (the addresses or prefixes of the pods that
   * exist); returns what was removed. Guarded by the ruleset generation: an element added between our
   * read and our delete is never removed by mistake.
   */
  gc(live: readonly string[]): string[] {
    const keep = new Set(parseAll(live, 'masquerade gc').map(intervalId));
    return this.retrying(() => {
      const genid = this.generation();
      const stale = this.podIntervals(new Set([4, 6])).filter((iv) => !keep.has(intervalId(iv)));
      if (stale.length === 0) return [];
      this.podBatch(NFT_MSG.DELSETELEM, 0, stale, genid).commit(this.sock);
      return stale.map(formatInterval);
    });
  }

  /** The pod and nomasq entries as prefixes ("10.244.1.5/32") or ranges; empty when there is no table. */
  list(): { pods: string[]; nomasq: string[] } {
    return this.retrying(() => ({
      pods: this.podIntervals(new Set([4, 6])).map(formatInterval),
      nomasq: [...this.setIntervals(MASQUERADE_SETS.nomasq4, 4), ...this.setIntervals(MASQUERADE_SETS.nomasq6, 6)].map(formatInterval),
    }));
  }

  /** Deletes the table with everything in it; nothing happens when it is not there. */
  uninstall(): void {
    deleteNftTable(this.sock, INET, this.table);
  }

  close(): void {
    if (this.ownSocket) this.sock.close();
  }

  // ---- reading ----

  /** The current ruleset generation (NFT_MSG_GETGEN). */
  generation(): number {
    return nftGeneration(this.sock);
  }

  /** Everything ensure() needs to know, read after the generation it belongs to. */
  observe(): ObservedRuleset {
    const genid = this.generation();
    const observed: ObservedRuleset = { genid, sets: new Map(), rules: [], nomasq: new Map() };
    const table = this.getOne(nftTable, { name: this.table }, `get table inet ${this.table}`) as NftTableAttrs | undefined;
    if (!table) return observed;
    observed.table = table;
    observed.chain = this.getOne(nftChain, { table: this.table, name: MASQUERADE_CHAIN }, `get chain inet ${this.table} ${MASQUERADE_CHAIN}`) as NftChainAttrs | undefined;
    for (const m of this.dumpIn(nftSet, { table: this.table }, `list sets inet ${this.table}`)) {
      const attrs = m.attrs as NftSetAttrs;
      if (attrs.name !== undefined) observed.sets.set(attrs.name, attrs);
    }
    if (observed.chain) {
      observed.rules = this.dumpIn(nftRule, { table: this.table, chain: MASQUERADE_CHAIN }, `list chain inet ${this.table} ${MASQUERADE_CHAIN}`).map((m) => m.attrs as NftRuleAttrs);
    }
    for (const [name, family] of [[MASQUERADE_SETS.nomasq4, 4], [MASQUERADE_SETS.nomasq6, 6]] as const) {
      if (observed.sets.has(name)) observed.nomasq.set(name, this.setIntervals(name, family, true));
    }
    return observed;
  }

  private podIntervals(families: Set<number>): AddressInterval[] {
    const out: AddressInterval[] = [];
    if (families.has(4)) out.push(...this.setIntervals(MASQUERADE_SETS.pods4, 4));
    if (families.has(6)) out.push(...this.setIntervals(MASQUERADE_SETS.pods6, 6));
    return out;
  }

  /** The intervals in one of our sets; none when the table or set does not exist (unless `mustExist`: then read again). */
  private setIntervals(set: string, family: 4 | 6, mustExist = false): AddressInterval[] {
    let replies: AnyMessage[];
    try {
      replies = this.sock.dump(this.getRequest(NFT_MSG.GETSETELEM, nftSetElem, { table: this.table, set }), `list set inet ${this.table} ${set}`);
    } catch (e) {
      if (isErrno(e, 'ENOENT')) {
        if (mustExist) throw new Reread();
        return [];
      }
      throw e;
    }
    const elements = replies.filter((m) => m.kind === nftSetElem.name).flatMap((m) => (m as NftSetElemMessage).attrs.elements ?? []);
    return intervalsFromElements(family, elements);
  }

  private getRequest(msg: number, kind: NftKind, attrs: object, family: number = INET): Buffer {
    return nftGetRequest(kind, msg, attrs, family);
  }

  private getOne(kind: typeof nftTable | typeof nftChain, attrs: object, what: string): object | undefined {
    const msg = kind === nftTable ? NFT_MSG.GETTABLE : NFT_MSG.GETCHAIN;
    try {
      const replies = this.sock.request(this.getRequest(msg, kind, attrs), what);
      return (replies.find((m) => m.kind === kind.name) as { attrs: object } | undefined)?.attrs;
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return undefined;
      throw e;
    }
  }

  private dumpIn(kind: typeof nftSet | typeof nftRule, attrs: object, what: string): Array<{ attrs: unknown }> {
    const msg = kind === nftSet ? NFT_MSG.GETSET : NFT_MSG.GETRULE;
    try {
      return this.sock.dump(this.getRequest(msg, kind, attrs), what).filter((m) => m.kind === kind.name) as Array<{ attrs: unknown }>;
    } catch (e) {
      // The table went away after we saw it: read everything again.
      if (isErrno(e, 'ENOENT')) throw new Reread();
      throw e;
    }
  }

  // ---- writing ----

  private podBatch(msg: number, flags: number, intervals: readonly AddressInterval[], genid?: number): NftBatch {
    const batch = new NftBatch(genid === undefined ? {} : { genid });
    const verb = msg === NFT_MSG.DELSETELEM ? 'delete' : 'add';
    for (const [set, family] of [[MASQUERADE_SETS.pods4, 4], [MASQUERADE_SETS.pods6, 6]] as const) {
      const mine = intervals.filter((iv) => iv.family === family);
      if (mine.length === 0) continue;
      batch.add(nftSetElem, elementsRequest(msg, flags, this.table, set, mine), `${verb} element inet ${this.table} ${set} { ${mine.map(formatInterval).join(', ')} }`);
    }
    return batch;
  }

  private retrying<T>(fn: () => T): T {
    for (let attempt = 1; ; attempt++) {
      try {
        return fn();
      } catch (e) {
        if (!this.shouldRetry(e, attempt)) throw e;
        backoff(attempt);
      }
    }
  }

  private shouldRetry(e: unknown, attempt: number): boolean {
    const transient = e instanceof Reread || e instanceof DumpInterruptedError || isGenerationConflict(e);
    if (!transient) return false;
    if (attempt >= this.maxAttempts) {
      throw new MasqueradeError(`masquerade (table inet ${this.table}): the ruleset kept changing under us; gave up after ${attempt} attempts`, { cause: e });
    }
    return true;
  }
}
