// The interim anti-spoofing guard: between the moment ADD answers and the moment the pod's eBPF
// program (which checks source addresses itself) is attached to its host veth, the pod's packets take
// the kernel's routed path. This guard drops those whose source address is not routed back through
// the very device they came in on. One node-wide inet table of its own, one constant rule; a guarded
// host veth is one set element (its ifindex):
//
//   table inet sluice_guard {
//     set pending { type iface_index; }
//     chain prerouting {
//       type filter hook prerouting priority raw; policy accept;
//       iif @pending fib saddr . iif oif missing drop comment "sluice spoof guard <tag>"
//     }
//   }
//
// `fib saddr . iif oif missing` looks the source address up in the routing table, counting only routes
// through the input device: the pod's own /32 and /128 (and link-local fe80::/64) routes point at its
// host veth; another pod's address, the node's, or anything routed elsewhere does not. It works for
// IPv4 and IPv6 alike in the inet family.
//
// Cost (bench/spoof-guard.ts): guard() on a warm instance sends one message, the element (NLM_F_CREATE
// without EXCL: an element already there is success); release() one message too. The first guard()
// of an instance (or ensure(), for an agent starting up), and any guard() after the kernel answered
// ENOENT (the table was deleted), first reads the generation and the chain's rules and, unless our
// rule is there exactly once, creates the table, set and chain (NLM_F_CREATE without EXCL: there
// already, they are no error) and the rule in one batch guarded by that generation, the element
// included; several processes doing it at once leave exactly one rule (as masquerade.ts does).
import { DumpInterruptedError } from '../netlink/errors.js';
import { NLM_F, type AnyMessage } from '../netlink/message.js';
import {
  encodeNftUserdata, isGenerationConflict, NF_INET, NF_VERDICT, NFPROTO, NFT_BYTEORDER, NFT_CMP, NFT_DATATYPE, NFT_FIB_RESULT, NFT_META, NFT_MSG,
  NFT_PRIORITY, NFTA_FIB_F, NFTNL_UDATA_SET, NftBatch, nftChain, nftExpr, nftRule, nftSet, nftSetElem, nftTable, nftType, nftU32Tlv,
  nftUserdataComment, type NftRuleAttrs, type NftSetElemMessage,
} from '../netlink/nftables/index.js';
import type { NetlinkSocket } from '../netlink/socket.js';
import type { NetNs } from '../netns.js';
import {
  backoff, deleteNftTable, isErrno, nftGeneration, nftGetRequest, openNftSocket, taggedRule, validateTableName, type TaggedRule,
} from './nft-common.js';

export const DEFAULT_GUARD_TABLE = 'sluice_guard';
export const GUARD_CHAIN = 'prerouting';
export const GUARD_SET = 'pending';

const INET = NFPROTO.INET;

export interface SpoofGuardOptions {
  /** The namespace to program (the node's); default the one the calling thread is in. */
  netns?: NetNs;
  /** The inet table the guard owns; default "sluice_guard". Tests use unique names. */
  table?: string;
  /** An open NETLINK_NETFILTER socket to use instead (decoding with the `nftables` family); not closed by close(). */
  socket?: NetlinkSocket;
  /** How many times guard() reads again after a concurrent change; default 64. */
  maxAttempts?: number;
}

/** The guard could not be put in place: the ruleset kept changing, or its table holds a set or chain of another shape. */
export class SpoofGuardError extends Error {
  override readonly name = 'SpoofGuardError';
}

let rule: TaggedRule | undefined;

/** The guard's one rule: `iif @pending fib saddr . iif oif missing drop`, with a comment naming it. */
export function spoofGuardRule(): TaggedRule {
  return (rule ??= taggedRule('sluice spoof guard', [
    nftExpr.meta(NFT_META.IIF),
    nftExpr.lookup(GUARD_SET),
    nftExpr.fib(NFTA_FIB_F.SADDR | NFTA_FIB_F.IIF | NFTA_FIB_F.PRESENT, NFT_FIB_RESULT.OIF),
    // "missing": the lookup found no route through the input device. nft compares the 4-byte register.
    nftExpr.cmp(NFT_CMP.EQ, new Uint8Array(4)),
    nftExpr.verdict(NF_VERDICT.DROP),
  ]));
}

/** A set element's key: the ifindex as the meta expression loads it (a host-order u32). */
export function ifindexKey(ifindex: number): Buffer {
  if (!Number.isInteger(ifindex) || ifindex < 1 || ifindex > 0xffffffff) throw new TypeError(`spoof guard: not an interface index: ${String(ifindex)}`);
  return Buffer.from(new Uint32Array([ifindex]).buffer);
}

const fromKey = (key: Uint8Array): number => new Uint32Array(Uint8Array.from(key).buffer)[0]!;

/** What was read no longer holds: read again. */
class Reread extends Error {}

/**
 * The batch that puts the guard in place given the rules found in its chain (none when the table or
 * chain is missing): table, set and chain created if missing, rules that are not ours or duplicates
 * deleted, ours added if missing; empty when the rule is there exactly once. Pure.
 */
export function planGuard(table: string, rules: readonly NftRuleAttrs[], genid: number): NftBatch {
  const batch = new NftBatch({ genid });
  const ours = spoofGuardRule();
  const isOurs = (r: NftRuleAttrs) => r.userdata !== undefined && ours.userdata.equals(r.userdata);
  if (rules.length === 1 && isOurs(rules[0]!)) return batch;
  const nfgen = { family: INET };
  const where = `inet ${table}`;
  const create = { flags: NLM_F.CREATE };
  batch.add(nftTable, { header: { type: nftType(NFT_MSG.NEWTABLE), ...create }, nfgen, attrs: { name: table, flags: 0 } }, `add table ${where}`);
  batch.add(nftSet, {
    header: { type: nftType(NFT_MSG.NEWSET), ...create },
    nfgen,
    // NFTA_SET_ID names the set inside its batch; the userdata makes nft print interface names.
    attrs: {
      table, name: GUARD_SET, flags: 0, keyType: NFT_DATATYPE.IFINDEX, keyLen: 4, id: 1,
      userdata: encodeNftUserdata([nftU32Tlv(NFTNL_UDATA_SET.KEYBYTEORDER, NFT_BYTEORDER.HOST_ENDIAN)]),
    },
  }, `add set ${where} ${GUARD_SET} { type iface_index; }`);
  batch.add(nftChain, {
    header: { type: nftType(NFT_MSG.NEWCHAIN), ...create },
    nfgen,
    attrs: { table, name: GUARD_CHAIN, hook: { hooknum: NF_INET.PRE_ROUTING, priority: NFT_PRIORITY.RAW }, policy: NF_VERDICT.ACCEPT, type: 'filter' },
  }, `add chain ${where} ${GUARD_CHAIN} { type filter hook prerouting priority raw; policy accept; }`);
  let kept = false;
  for (const r of rules) {
    if (!kept && isOurs(r)) {
      kept = true;
      continue;
    }
    const comment = nftUserdataComment(r.userdata);
    batch.add(nftRule, { header: { type: nftType(NFT_MSG.DELRULE) }, nfgen, attrs: { table, chain: GUARD_CHAIN, handle: r.handle } },
      `delete rule ${where} ${GUARD_CHAIN} handle ${String(r.handle)}${comment ? ` (${comment})` : ''}`);
  }
  if (!kept) {
    batch.add(nftRule, {
      header: { type: nftType(NFT_MSG.NEWRULE), flags: NLM_F.CREATE | NLM_F.APPEND },
      nfgen,
      attrs: { table, chain: GUARD_CHAIN, expressions: ours.expressions, userdata: ours.userdata },
    }, `add rule ${where} ${GUARD_CHAIN} (${ours.comment})`);
  }
  return batch;
}

/**
 * The spoof guard of one node (one network namespace), on a socket of its own. Synchronous, like the
 * plugin's other netlink work; one instance serves any number of pods and may be kept for the life
 * of the agent.
 */
export class SpoofGuard {
  readonly table: string;
  private readonly sock: NetlinkSocket;
  private readonly ownSocket: boolean;
  private readonly maxAttempts: number;
  /** Whether this instance has seen the rule in place (then guard() only adds the element). */
  private verified = false;
  /** Whether the kernel knows NFT_MSG_DESTROYSETELEM (until it says otherwise). */
  private hasDestroy = true;

  static open(options: SpoofGuardOptions = {}): SpoofGuard {
    return new SpoofGuard(options);
  }

  private constructor(options: SpoofGuardOptions) {
    this.table = options.table ?? DEFAULT_GUARD_TABLE;
    validateTableName(this.table);
    this.maxAttempts = options.maxAttempts ?? 64;
    if (!Number.isInteger(this.maxAttempts) || this.maxAttempts < 1) throw new TypeError(`maxAttempts must be a positive integer, got ${String(options.maxAttempts)}`);
    this.ownSocket = !options.socket;
    this.sock = options.socket ?? openNftSocket(options.netns);
  }

  /**
   * Drops, from now on, packets arriving on interface `ifindex` whose source address is not routed
   * back through it. Puts the table, set, chain and rule in place first if this instance has not
   * seen them yet. Guarding an interface already guarded is success.
   */
  guard(ifindex: number): void {
    const key = ifindexKey(ifindex);
    this.retrying(() => {
      if (!this.verified) return this.put({ key, ifindex });
      try {
        this.elementBatch(NFT_MSG.NEWSETELEM, NLM_F.CREATE, key, ifindex).commit(this.sock);
      } catch (e) {
        if (!isErrno(e, 'ENOENT')) throw e;
        // The table or set went away (an uninstall): put it all back.
        this.verified = false;
        throw new Reread();
      }
    });
  }

  /**
   * Puts the table, set, chain and rule in place where they are not, without guarding anything: an
   * agent may call it when it starts, so that its first guard() costs one message.
   */
  ensure(): void {
    this.retrying(() => this.put());
  }

  /**
   * Stops guarding interface `ifindex`; an element, set or table that is not there is success.
   * NFT_MSG_DESTROYSETELEM (Linux 6.3+) takes a missing element as success: a failed batch costs the
   * kernel an RCU grace period (8-16 ms here) on its way out, so DELSETELEM's ENOENT is kept for
   * older kernels (which answer EINVAL to DESTROY) and for a missing table.
   */
  release(ifindex: number): void {
    const key = ifindexKey(ifindex);
    for (;;) {
      try {
        this.elementBatch(this.hasDestroy ? NFT_MSG.DESTROYSETELEM : NFT_MSG.DELSETELEM, 0, key, ifindex).commit(this.sock);
        return;
      } catch (e) {
        if (isErrno(e, 'ENOENT')) return;
        if (!(this.hasDestroy && isErrno(e, 'EINVAL'))) throw e;
        this.hasDestroy = false;
      }
    }
  }

  /** Whether interface `ifindex` is in the set (the rule itself is not checked). */
  isGuarded(ifindex: number): boolean {
    const key = ifindexKey(ifindex);
    try {
      const replies = this.sock.request(
        nftGetRequest(nftSetElem, NFT_MSG.GETSETELEM, { table: this.table, set: GUARD_SET, elements: [{ key: { value: key } }] }, INET),
        `get element inet ${this.table} ${GUARD_SET} { ${ifindex} }`,
      );
      return elementKeys(replies).includes(ifindex);
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return false;
      throw e;
    }
  }

  /** The guarded interface indexes (empty when there is no table), for garbage collection. */
  list(): number[] {
    try {
      return elementKeys(this.sock.dump(nftGetRequest(nftSetElem, NFT_MSG.GETSETELEM, { table: this.table, set: GUARD_SET }, INET), `list set inet ${this.table} ${GUARD_SET}`)).sort((a, b) => a - b);
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return [];
      throw e;
    }
  }

  close(): void {
    if (this.ownSocket) this.sock.close();
  }

  /**
   * Reads the generation and our chain's rules, and commits, guarded by that generation, whatever is
   * missing together with the element if one is given (just the element when all is in place).
   */
  private put(element?: { key: Buffer; ifindex: number }): void {
    const genid = nftGeneration(this.sock);
    const plan = planGuard(this.table, this.rules(), genid);
    // With the rule in place the element needs no generation check: other pods' elements may come and go.
    const batch = plan.size > 0 ? plan : new NftBatch();
    if (element) {
      batch.add(nftSetElem, this.elementRequest(NFT_MSG.NEWSETELEM, NLM_F.CREATE, element.key), `add element inet ${this.table} ${GUARD_SET} { ${element.ifindex} }`);
    }
    try {
      batch.commit(this.sock);
    } catch (e) {
      // The kernel's answers to a set of another key (EEXIST) and to a chain on another hook (EOPNOTSUPP).
      if (!isErrno(e, 'EEXIST') && !isErrno(e, 'EOPNOTSUPP')) throw e;
      throw new SpoofGuardError(`table inet ${this.table} holds a set ${GUARD_SET} or a chain ${GUARD_CHAIN} that is not the spoof guard's ` +
        '(type iface_index; type filter hook prerouting priority raw): delete the table or use another name', { cause: e });
    }
    this.verified = true;
  }

  /** The rules of our chain; none when the table or chain is missing. */
  private rules(): NftRuleAttrs[] {
    try {
      return this.sock.dump(nftGetRequest(nftRule, NFT_MSG.GETRULE, { table: this.table, chain: GUARD_CHAIN }, INET), `list chain inet ${this.table} ${GUARD_CHAIN}`)
        .filter((m) => m.kind === nftRule.name)
        .map((m) => (m as unknown as { attrs: NftRuleAttrs }).attrs);
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return [];
      throw e;
    }
  }

  private elementRequest(msg: number, flags: number, key: Buffer) {
    return { header: { type: nftType(msg), flags }, nfgen: { family: INET }, attrs: { table: this.table, set: GUARD_SET, elements: [{ key: { value: key } }] } };
  }

  private elementBatch(msg: number, flags: number, key: Buffer, ifindex: number): NftBatch {
    const verb = msg === NFT_MSG.NEWSETELEM ? 'add' : msg === NFT_MSG.DESTROYSETELEM ? 'destroy' : 'delete';
    return new NftBatch().add(nftSetElem, this.elementRequest(msg, flags, key), `${verb} element inet ${this.table} ${GUARD_SET} { ${ifindex} }`);
  }

  /** Runs fn again, after a short random pause, while a concurrent change spoils what it read. */
  private retrying(fn: () => void): void {
    for (let attempt = 1; ; attempt++) {
      try {
        return fn();
      } catch (e) {
        if (!(e instanceof Reread || e instanceof DumpInterruptedError || isGenerationConflict(e))) throw e;
        if (attempt >= this.maxAttempts) {
          throw new SpoofGuardError(`spoof guard (table inet ${this.table}): the ruleset kept changing under us; gave up after ${attempt} attempts`, { cause: e });
        }
        backoff(attempt);
      }
    }
  }
}

function elementKeys(replies: AnyMessage[]): number[] {
  return replies
    .filter((m) => m.kind === nftSetElem.name)
    .flatMap((m) => (m as NftSetElemMessage).attrs.elements ?? [])
    .flatMap((e) => (e.key?.value?.length === 4 ? [fromKey(e.key.value)] : []));
}

/** Deletes the guard's table with everything in it (`sluice uninstall --purge`); false when there was none. */
export function removeSpoofGuard(options: { netns?: NetNs; table?: string } = {}): boolean {
  const table = options.table ?? DEFAULT_GUARD_TABLE;
  validateTableName(table);
  const sock = openNftSocket(options.netns);
  try {
    return deleteNftTable(sock, INET, table);
  } finally {
    sock.close();
  }
}
