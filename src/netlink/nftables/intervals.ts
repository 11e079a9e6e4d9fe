// Prefixes and ranges in interval sets (NFT_SET_F.INTERVAL), encoded as nft encodes them: a range
// [start, end) is a start element (key = start) and an end element (key = end, NFT_SET_ELEM_F.INTERVAL_END);
// a range that runs to the top of the address space has no end element, and nft marks its start with
// the "interval open" userdata flag so that `nft list` prints it as a prefix.
import { parseIP, formatIPv6 } from '../types.js';
import { NFT_SET_ELEM_F, type NftSetElem } from './set.js';
import { decodeNftUserdata, encodeNftUserdata, nftU32Tlv } from './userdata.js';

/** Set element userdata TLV types (libnftnl). */
export const NFTNL_UDATA_SET_ELEM = { COMMENT: 0, FLAGS: 1 } as const;
/** Bits of the NFTNL_UDATA_SET_ELEM.FLAGS value. */
export const NFTNL_SET_ELEM_F_INTERVAL_OPEN = 0x1;

/** A range of addresses of one family: [start, end), end undefined when it runs to the last address. */
export interface AddressInterval {
  readonly family: 4 | 6;
  readonly start: bigint;
  readonly end: bigint | undefined;
}

const bitsOf = (family: 4 | 6) => (family === 4 ? 32 : 128);

function toBigInt(bytes: Uint8Array): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

/** The key bytes (network byte order) of an address of `family`. */
export function addressKey(family: 4 | 6, value: bigint): Buffer {
  const len = family === 4 ? 4 : 16;
  const out = Buffer.alloc(len);
  let v = value;
  for (let i = len - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

function formatAddress(family: 4 | 6, value: bigint): string {
  const key = addressKey(family, value);
  return family === 4 ? `${key[0]}.${key[1]}.${key[2]}.${key[3]}` : formatIPv6(key, 0);
}

/**
 * Parses "10.1.2.3", "10.1.0.0/16", "fd00::1" or "fd00::/64" into an interval; a bare address is a
 * /32 or /128. Throws TypeError for anything else, and for a prefix with host bits set ("10.1.2.3/16"
 * is an address with its subnet, not a network: say which one is meant).
 */
export function prefixInterval(text: string): AddressInterval {
  if (typeof text !== 'string') throw new TypeError(`expected an IP address or prefix, got ${typeof text}`);
  const slash = text.indexOf('/');
  const addr = parseIP(slash < 0 ? text : text.slice(0, slash));
  if (!addr) throw new TypeError(`not an IP address or prefix: ${JSON.stringify(text)}`);
  const family: 4 | 6 = addr.length === 4 ? 4 : 6;
  const bits = bitsOf(family);
  const lenText = slash < 0 ? String(bits) : text.slice(slash + 1);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(lenText) || Number(lenText) > bits) throw new TypeError(`bad prefix length in ${JSON.stringify(text)}`);
  const plen = Number(lenText);
  const start = toBigInt(addr);
  const size = 1n << BigInt(bits - plen);
  if (start % size !== 0n) {
    throw new TypeError(`${text} has host bits set: give the address (${slash < 0 ? text : text.slice(0, slash)}) or the network it belongs to`);
  }
  const end = start + size;
  return { family, start, end: end === 1n << BigInt(bits) ? undefined : end };
}

/** "10.1.0.0/16" when the interval is a prefix, "10.1.0.1-10.1.0.5" (inclusive, as nft prints ranges) otherwise. */
export function formatInterval(iv: AddressInterval): string {
  const bits = bitsOf(iv.family);
  const top = 1n << BigInt(bits);
  const size = (iv.end ?? top) - iv.start;
  if (size > 0n && (size & (size - 1n)) === 0n && iv.start % size === 0n) {
    let plen = bits;
    for (let s = size; s > 1n; s >>= 1n) plen--;
    return `${formatAddress(iv.family, iv.start)}/${plen}`;
  }
  return `${formatAddress(iv.family, iv.start)}-${formatAddress(iv.family, (iv.end ?? top) - 1n)}`;
}

/** A string that identifies an interval (for maps and comparisons). */
export function intervalId(iv: AddressInterval): string {
  return `${iv.family}:${iv.start.toString(16)}-${iv.end === undefined ? 'top' : iv.end.toString(16)}`;
}

/** The set elements of one interval, in the order nft sends them (start, then end). */
export function intervalElements(iv: AddressInterval): NftSetElem[] {
  const start: NftSetElem = { key: { value: addressKey(iv.family, iv.start) } };
  if (iv.end === undefined) {
    start.userdata = encodeNftUserdata([nftU32Tlv(NFTNL_UDATA_SET_ELEM.FLAGS, NFTNL_SET_ELEM_F_INTERVAL_OPEN)]);
    return [start];
  }
  return [start, { flags: NFT_SET_ELEM_F.INTERVAL_END, key: { value: addressKey(iv.family, iv.end) } }];
}

/**
 * The intervals an interval set holds, from its elements (in any order, as a dump gives them). End
 * elements with no start before them (nft's leading "0 [end]" element) are ignored; a start with no
 * end after it runs to the top of the address space.
 */
export function intervalsFromElements(family: 4 | 6, elements: readonly NftSetElem[]): AddressInterval[] {
  const len = family === 4 ? 4 : 16;
  const points = elements
    .filter((e) => e.key?.value?.length === len)
    .map((e) => ({ at: toBigInt(e.key!.value!), end: ((e.flags ?? 0) & NFT_SET_ELEM_F.INTERVAL_END) !== 0 }))
    // Ascending; at one key an end (closing the range below) comes before a start (opening the next).
    .sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.end === b.end ? 0 : a.end ? -1 : 1));
  const out: AddressInterval[] = [];
  let open: bigint | undefined;
  for (const p of points) {
    if (p.end) {
      if (open !== undefined) out.push({ family, start: open, end: p.at });
      open = undefined;
    } else {
      if (open !== undefined) out.push({ family, start: open, end: p.at }); // two starts: the first one ends here
      open = p.at;
    }
  }
  if (open !== undefined) out.push({ family, start: open, end: undefined });
  return out;
}

/** Whether a set element carries nft's "interval open" flag (its range runs to the top). */
export function isOpenInterval(e: NftSetElem): boolean {
  if (!e.userdata) return false;
  try {
    const tlv = decodeNftUserdata(e.userdata).find((t) => t.type === NFTNL_UDATA_SET_ELEM.FLAGS);
    return tlv !== undefined && tlv.value.length === 4 && (new Uint32Array(new Uint8Array(tlv.value).buffer)[0]! & NFTNL_SET_ELEM_F_INTERVAL_OPEN) !== 0;
  } catch {
    return false;
  }
}

/** Sorts intervals of one family and merges those that overlap or touch: the canonical content of a set. */
export function mergeIntervals(list: readonly AddressInterval[]): AddressInterval[] {
  const sorted = [...list].sort((a, b) => (a.family !== b.family ? a.family - b.family : a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const out: AddressInterval[] = [];
  for (const iv of sorted) {
    const last = out.at(-1);
    if (last && last.family === iv.family && (last.end === undefined || iv.start <= last.end)) {
      const end = last.end === undefined || iv.end === undefined ? undefined : last.end > iv.end ? last.end : iv.end;
      out[out.length - 1] = { family: last.family, start: last.start, end };
    } else {
      out.push(iv);
    }
  }
  return out;
}
