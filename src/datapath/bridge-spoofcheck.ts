/**
 * macspoofchk: frames a pod sends into the bridge with a source MAC other than its own are dropped.
 * Programmed with our nf_tables codec, in a bridge-family table of sluice's own with one constant rule;
 * a pod is two set elements, not a chain of its own (the reference plugin makes two chains and four
 * rules per pod in `table bridge nat`):
 *
 *   table bridge sluice {
 *     set ports   { type ifname; }                 # the host veths that are checked
 *     set allowed { type ifname . ether_addr; }    # each with its pod's MAC
 *     chain prerouting {
 *       type filter hook prerouting priority -300; policy accept;
 *       iifname @ports iifname . ether saddr != @allowed drop comment "sluice macspoofchk <tag>"
 *     }
 *   }
 *
 * ensure() reads the ruleset generation and, when the rule is missing, creates the table, chain, sets
 * (NLM_F_CREATE: idempotent) and the rule in one batch guarded by that generation, so concurrent ADDs
 * leave exactly one rule. Elements are added in one batch (both sets at once: a port is never checked
 * without its MAC) and removed ports first.
 */
import { DumpInterruptedError } from '../netlink/errors.js';
import { NLM_F, type AnyMessage } from '../netlink/message.js';
import {
  isGenerationConflict, NF_VERDICT, NFPROTO, NFT_DATATYPE, NFT_META, NFT_MSG, NFT_PAYLOAD, NFT_REG, NftBatch, nftChain,
  encodeNftUserdata, nftU32Tlv, NFT_BYTEORDER, NFTNL_UDATA_SET, nftExpr, nftRule, nftSet, nftSetElem, nftTable, nftType, type NftRuleAttrs, type NftSetElemMessage,
} from '../netlink/nftables/index.js';
import type { NetlinkSocket } from '../netlink/socket.js';
import type { NetNs } from '../netns.js';
import { isErrno, nftGeneration, nftGetRequest, openNftSocket, taggedRule } from './nft-common.js';

export const SPOOFCHECK_TABLE = 'sluice';
const CHAIN = 'prerouting';
const PORTS = 'ports';
const ALLOWED = 'allowed';
const BRIDGE = NFPROTO.BRIDGE;
/** NF_BR_PRE_ROUTING, and nft's "priority -300" for it (NF_BR_PRI_NAT_DST_BRIDGED). */
const HOOK_PREROUTING = 0;
const PRIORITY = -300;
const IFNAMSIZ = 16;
/** The MAC takes a register word and a half: nft pads each field of a concatenation to 4 bytes. */
const MAC_FIELD = 8;

const expressions = [
  nftExpr.meta(NFT_META.IIFNAME),
  nftExpr.lookup(PORTS),
  nftExpr.meta(NFT_META.IIFNAME),
  // Register 2 starts right after the 16 bytes of the interface name in register 1: the concatenation.
  nftExpr.payload(NFT_PAYLOAD.LL_HEADER, 6, 6, NFT_REG.R2),
  nftExpr.lookup(ALLOWED, NFT_REG.R1, { invert: true }),
  nftExpr.verdict(NF_VERDICT.DROP),
];
const { userdata } = taggedRule('sluice macspoofchk', expressions);

/** The set userdata nft writes for a string key (host byte order), without which it prints names reversed. */
const HOST_ORDER_KEYS = encodeNftUserdata([nftU32Tlv(NFTNL_UDATA_SET.KEYBYTEORDER, NFT_BYTEORDER.HOST_ENDIAN)]);

function ifnameKey(name: string): Buffer {
  const key = Buffer.alloc(IFNAMSIZ);
  key.write(name, 'utf8');
  return key;
}

function macBytes(mac: string): Buffer {
  const bytes = Buffer.from(mac.split(':').map((h) => parseInt(h, 16)));
  if (bytes.length !== 6 || !/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(mac)) throw new TypeError(`not a MAC address: ${JSON.stringify(mac)}`);
  return bytes;
}

const allowedKey = (port: string, mac: string) => Buffer.concat([ifnameKey(port), macBytes(mac), Buffer.alloc(MAC_FIELD - 6)]);

function request(msg: number, kind: typeof nftRule | typeof nftSetElem, attrs: object): Buffer {
  return nftGetRequest(kind, msg, attrs, BRIDGE);
}

/** Our rules in the chain (none when the table or chain is missing). */
function ourRules(sock: NetlinkSocket, table: string): NftRuleAttrs[] {
  let replies: AnyMessage[];
  try {
    replies = sock.dump(request(NFT_MSG.GETRULE, nftRule, { table, chain: CHAIN }), `list chain bridge ${table} ${CHAIN}`);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return [];
    throw e;
  }
  return replies.filter((m) => m.kind === nftRule.name).map((m) => (m as unknown as { attrs: NftRuleAttrs }).attrs).filter((r) => r.userdata !== undefined && userdata.equals(r.userdata));
}

/** Creates the table, chain, sets and the rule where missing; one rule, however many run it at once. */
export function ensureSpoofcheck(table: string, netns?: NetNs): void {
  const sock = openNftSocket(netns);
  try {
    for (let attempt = 1; ; attempt++) {
      const genid = nftGeneration(sock);
      let rules: NftRuleAttrs[];
      try {
        rules = ourRules(sock, table);
      } catch (e) {
        // Another ADD changed the ruleset while the chain was listed: list it again, as after a conflict.
        if (e instanceof DumpInterruptedError && attempt < 64) continue;
        throw e;
      }
      if (rules.length === 1) return;
      const batch = new NftBatch({ genid });
      const nfgen = { family: BRIDGE };
      if (rules.length === 0) {
        batch.add(nftTable, { header: { type: nftType(NFT_MSG.NEWTABLE), flags: NLM_F.CREATE }, nfgen, attrs: { name: table, flags: 0 } }, `add table bridge ${table}`);
        batch.add(nftChain, {
          header: { type: nftType(NFT_MSG.NEWCHAIN), flags: NLM_F.CREATE },
          nfgen,
          attrs: { table, name: CHAIN, hook: { hooknum: HOOK_PREROUTING, priority: PRIORITY }, policy: NF_VERDICT.ACCEPT, type: 'filter' },
        }, `add chain bridge ${table} ${CHAIN}`);
        batch.add(nftSet, { header: { type: nftType(NFT_MSG.NEWSET), flags: NLM_F.CREATE }, nfgen, attrs: { table, name: PORTS, keyType: NFT_DATATYPE.IFNAME, keyLen: IFNAMSIZ, id: 1, userdata: HOST_ORDER_KEYS } }, `add set bridge ${table} ${PORTS}`);
        batch.add(nftSet, {
          header: { type: nftType(NFT_MSG.NEWSET), flags: NLM_F.CREATE },
          nfgen,
          attrs: { table, name: ALLOWED, flags: 0, keyType: (NFT_DATATYPE.IFNAME << 6) | NFT_DATATYPE.ETHERADDR, keyLen: IFNAMSIZ + MAC_FIELD, id: 2 },
        }, `add set bridge ${table} ${ALLOWED}`);
        batch.add(nftRule, {
          header: { type: nftType(NFT_MSG.NEWRULE), flags: NLM_F.CREATE | NLM_F.APPEND },
          nfgen,
          attrs: { table, chain: CHAIN, expressions, userdata },
        }, `add rule bridge ${table} ${CHAIN} (macspoofchk)`);
      } else {
        for (const r of rules.slice(1)) batch.add(nftRule, { header: { type: nftType(NFT_MSG.DELRULE) }, nfgen, attrs: { table, chain: CHAIN, handle: r.handle } }, `delete rule bridge ${table} ${CHAIN} handle ${String(r.handle)}`);
      }
      try {
        batch.commit(sock);
        return;
      } catch (e) {
        if (!isGenerationConflict(e) || attempt >= 64) throw e;
      }
    }
  } finally {
    sock.close();
  }
}

function elements(set: string, keys: Buffer[], table: string, msg: number, flags: number) {
  return { header: { type: nftType(msg), flags }, nfgen: { family: BRIDGE }, attrs: { table, set, elements: keys.map((k) => ({ key: { value: k } })) } };
}

/** Lets frames from `port` through only with source MAC `mac` (ensure() first). */
export function addSpoofcheck(table: string, port: string, mac: string, netns?: NetNs): void {
  ensureSpoofcheck(table, netns);
  const sock = openNftSocket(netns);
  try {
    new NftBatch()
      .add(nftSetElem, elements(ALLOWED, [allowedKey(port, mac)], table, NFT_MSG.NEWSETELEM, NLM_F.CREATE), `add element bridge ${table} ${ALLOWED} { ${port} . ${mac} }`)
      .add(nftSetElem, elements(PORTS, [ifnameKey(port)], table, NFT_MSG.NEWSETELEM, NLM_F.CREATE), `add element bridge ${table} ${PORTS} { ${port} }`)
      .commit(sock);
  } finally {
    sock.close();
  }
}

/** Removes a port's entries; what is already gone (the elements, the sets, the table) is fine. */
export function removeSpoofcheck(table: string, port: string, mac: string, netns?: NetNs): void {
  const sock = openNftSocket(netns);
  try {
    // The port first: a port still checked but without its MAC would drop everything it sends.
    for (const [set, key] of [[PORTS, ifnameKey(port)], [ALLOWED, allowedKey(port, mac)]] as const) {
      try {
        new NftBatch().add(nftSetElem, elements(set, [key], table, NFT_MSG.DELSETELEM, 0), `delete element bridge ${table} ${set}`).commit(sock);
      } catch (e) {
        if (!isErrno(e, 'ENOENT')) throw e;
      }
    }
  } finally {
    sock.close();
  }
}

function keysOf(sock: NetlinkSocket, table: string, set: string): Buffer[] | undefined {
  try {
    const replies = sock.dump(request(NFT_MSG.GETSETELEM, nftSetElem, { table, set }), `list set bridge ${table} ${set}`);
    return replies.filter((m) => m.kind === nftSetElem.name).flatMap((m) => (m as NftSetElemMessage).attrs.elements ?? []).flatMap((e) => (e.key?.value ? [Buffer.from(e.key.value)] : []));
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return undefined;
    throw e;
  }
}

/** CHECK: the rule and the port's two elements, each difference in words. */
export function spoofcheckDifferences(table: string, port: string, mac: string, netns?: NetNs): string[] {
  const sock = openNftSocket(netns);
  try {
    const diffs: string[] = [];
    const rules = ourRules(sock, table).length;
    if (rules !== 1) diffs.push(`the macspoofchk rule of table bridge ${table} is ${rules === 0 ? 'missing' : `there ${rules} times`}`);
    const ports = keysOf(sock, table, PORTS);
    if (!ports?.some((k) => k.equals(ifnameKey(port)))) diffs.push(`port ${port} is missing from set ${PORTS} of table bridge ${table}`);
    let allowed: Buffer;
    try {
      allowed = allowedKey(port, mac);
    } catch {
      diffs.push(`prevResult gives the pod no MAC address to check ${port} against`);
      return diffs;
    }
    if (!keysOf(sock, table, ALLOWED)?.some((k) => k.equals(allowed))) diffs.push(`${port} . ${mac} is missing from set ${ALLOWED} of table bridge ${table}`);
    return diffs;
  } finally {
    sock.close();
  }
}
