// Expressions and set elements as `nft --debug=netlink` prints them ("[ meta load nfproto => reg 1 ]"),
// so what this codec builds can be compared line by line with what nft itself would send, and decoded
// rules can be read by anyone who knows nft's output. Values print as nft prints them: 32-bit words in
// host byte order ("0x0100000a" for 10.0.0.1 on a little-endian machine).
import { NF_VERDICT, NFPROTO, type NftData } from './common.js';
import { NFT_CMP, NFT_META, NFT_PAYLOAD, NFT_CT, NFT_FIB_RESULT, NFT_NAT, NFTA_FIB_F, type NftExpression } from './expressions.js';
import type { NftSetElem } from './set.js';

function invert(table: Record<string, number>): Map<number, string> {
  return new Map(Object.entries(table).map(([k, v]) => [v, k.toLowerCase()]));
}

const metaKeys = invert(NFT_META);
const ctKeys = invert(NFT_CT);
const cmpOps = invert(NFT_CMP);
const bases = new Map<number, string>([
  [NFT_PAYLOAD.LL_HEADER, 'link'],
  [NFT_PAYLOAD.NETWORK_HEADER, 'network'],
  [NFT_PAYLOAD.TRANSPORT_HEADER, 'transport'],
  [NFT_PAYLOAD.INNER_HEADER, 'inner'],
]);
const verdicts = invert(NF_VERDICT);
const fibResults = new Map<number, string>([[NFT_FIB_RESULT.OIF, 'oif'], [NFT_FIB_RESULT.OIFNAME, 'oifname'], [NFT_FIB_RESULT.ADDRTYPE, 'type']]);
/** The fib lookup's fields, in the order nft names them ("saddr . mark . iif"). */
const fibFields: ReadonlyArray<[number, string]> = [
  [NFTA_FIB_F.SADDR, 'saddr'], [NFTA_FIB_F.DADDR, 'daddr'], [NFTA_FIB_F.MARK, 'mark'], [NFTA_FIB_F.IIF, 'iif'], [NFTA_FIB_F.OIF, 'oif'],
];
const natFamilies = new Map<number, string>([[NFPROTO.IPV4, 'ip'], [NFPROTO.IPV6, 'ip6'], [NFPROTO.INET, 'inet']]);

/** Bytes as nft prints register data: 32-bit words in host order, the last one zero-padded. */
export function formatNftWords(bytes: Uint8Array): string {
  const words: string[] = [];
  const padded = new Uint8Array(Math.ceil(bytes.length / 4) * 4);
  padded.set(bytes);
  const view = new Uint32Array(padded.buffer, padded.byteOffset, padded.length / 4);
  for (const w of view) words.push(`0x${w.toString(16).padStart(8, '0')}`);
  return words.join(' ');
}

function formatData(d: NftData | undefined): string {
  if (!d) return '';
  if (d.verdict) {
    const code = d.verdict.code ?? 0;
    const name = verdicts.get(code) ?? `verdict ${code}`;
    return d.verdict.chain !== undefined ? `${name} -> ${d.verdict.chain}` : name;
  }
  return d.value ? formatNftWords(d.value) : '';
}

type Rec = Record<string, unknown>;
const num = (r: Rec, k: string) => r[k] as number | undefined;

function body(e: NftExpression): string {
  const d = (e.data ?? {}) as Rec;
  if (e.data instanceof Uint8Array) return `0x${Buffer.from(e.data).toString('hex')} `;
  switch (e.name) {
    case 'meta': {
      const key = metaKeys.get(num(d, 'key') ?? -1) ?? `key ${String(d.key)}`;
      return d.sreg !== undefined ? `set ${key} with reg ${String(d.sreg)} ` : `load ${key} => reg ${String(d.dreg)} `;
    }
    case 'ct': {
      const key = ctKeys.get(num(d, 'key') ?? -1) ?? `key ${String(d.key)}`;
      const dir = d.direction !== undefined ? `, dir ${d.direction === 0 ? 'original' : 'reply'}` : '';
      return d.sreg !== undefined ? `set ${key}${dir} with reg ${String(d.sreg)} ` : `load ${key}${dir} => reg ${String(d.dreg)} `;
    }
    case 'payload': {
      const base = bases.get(num(d, 'base') ?? -1) ?? `base ${String(d.base)}`;
      if (d.sreg !== undefined) {
        return `write reg ${String(d.sreg)} => ${String(d.len)}b @ ${base} header + ${String(d.offset)} csum_type ${String(d.csumType ?? 0)} csum_off ${String(d.csumOffset ?? 0)} csum_flags 0x${(num(d, 'csumFlags') ?? 0).toString(16)} `;
      }
      return `load ${String(d.len)}b @ ${base} header + ${String(d.offset)} => reg ${String(d.dreg)} `;
    }
    case 'cmp':
      return `${cmpOps.get(num(d, 'op') ?? -1) ?? `op ${String(d.op)}`} reg ${String(d.sreg)} ${formatData(d.data as NftData)} `;
    case 'range':
      return `${num(d, 'op') === 1 ? 'neq' : 'eq'} reg ${String(d.sreg)} ${formatData(d.fromData as NftData)} ${formatData(d.toData as NftData)} `;
    case 'lookup': {
      let s = `reg ${String(d.sreg)} set ${String(d.set)} `;
      if (d.dreg !== undefined) s += `dreg ${String(d.dreg)} `;
      if (d.flags !== undefined) s += `0x${(num(d, 'flags') ?? 0).toString(16)} `;
      return s;
    }
    case 'immediate':
      return `reg ${String(d.dreg)} ${formatData(d.data as NftData)} `;
    case 'bitwise':
      return `reg ${String(d.dreg)} = ( reg ${String(d.sreg)} & ${formatData(d.mask as NftData)} ) ^ ${formatData(d.xor as NftData)} `;
    case 'counter':
      return `pkts ${String(d.packets ?? 0n)} bytes ${String(d.bytes ?? 0n)} `;
    case 'masq': {
      let s = '';
      if (d.regProtoMin !== undefined) s += `proto_min reg ${String(d.regProtoMin)} `;
      if (d.regProtoMax !== undefined) s += `proto_max reg ${String(d.regProtoMax)} `;
      if (d.flags) s += `flags 0x${(num(d, 'flags') ?? 0).toString(16)} `;
      return s;
    }
    case 'fib': {
      const flags = num(d, 'flags') ?? 0;
      const fields = fibFields.filter(([bit]) => flags & bit).map(([, name]) => name);
      const rest = flags & ~(NFTA_FIB_F.PRESENT | fibFields.reduce((all, [bit]) => all | bit, 0));
      // nft prints unknown flag bits right before the result, without a space.
      const unknown = rest ? `${fields.length ? '. ' : ''}unknown 0x${rest.toString(16)}` : '';
      const result = fibResults.get(num(d, 'result') ?? -1) ?? 'unknown';
      return `${fields.map((f) => `${f} `).join('. ')}${unknown}${result}${flags & NFTA_FIB_F.PRESENT ? ' present' : ''} => reg ${String(d.dreg)} `;
    }
    case 'nat': {
      let s = `${num(d, 'type') === NFT_NAT.DNAT ? 'dnat' : 'snat'} ${natFamilies.get(num(d, 'family') ?? -1) ?? `family ${String(d.family)}`} `;
      if (d.regAddrMin !== undefined) s += `addr_min reg ${String(d.regAddrMin)} `;
      if (d.regAddrMax !== undefined) s += `addr_max reg ${String(d.regAddrMax)} `;
      if (d.regProtoMin !== undefined) s += `proto_min reg ${String(d.regProtoMin)} `;
      if (d.regProtoMax !== undefined) s += `proto_max reg ${String(d.regProtoMax)} `;
      if (d.flags) s += `flags 0x${(num(d, 'flags') ?? 0).toString(16)} `;
      return s;
    }
    default:
      return '';
  }
}

/** One expression as `nft --debug=netlink` prints it: "[ lookup reg 1 set pods4 0x1 ]". */
export function formatNftExpression(e: NftExpression): string {
  return `[ ${e.name ?? '?'} ${body(e)}]`;
}

/** One set element as `nft --debug=netlink` prints it: "element 0100000a  : 0 [end]". */
export function formatNftSetElement(e: NftSetElem): string {
  const key = e.key?.value ? `${formatNftWords(e.key.value).replace(/0x/g, '')} ` : '';
  const data = e.data ? ` ${formatData(e.data)}` : '';
  return `element ${key} : ${e.flags ?? 0}${data} [end]`;
}
