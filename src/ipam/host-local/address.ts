/**
 * IP addresses as BigInts, parsed and printed the way Go's net package does, because host-local names
 * its lease files with Go's `ip.String()` and sluice must find and write the very same names.
 */

export type Family = 4 | 6;

export interface Ip {
  family: Family;
  value: bigint;
}

export interface Cidr {
  ip: Ip;
  prefix: number;
}

export function familyBits(family: Family): number {
  return family === 4 ? 32 : 128;
}

/**
 * Parses an IPv4 or IPv6 address (no zone, no prefix). IPv4-mapped IPv6 addresses become IPv4, as Go's
 * canonicalizeIP does. Leading zeros in IPv4 octets are refused, as Go refuses them.
 */
export function parseIp(text: string): Ip | undefined {
  if (text.includes(':')) {
    const value = parseV6(text);
    if (value === undefined) return undefined;
    if (value >> 32n === 0xffffn) return { family: 4, value: value & 0xffffffffn };
    return { family: 6, value };
  }
  const value = parseV4(text);
  return value === undefined ? undefined : { family: 4, value };
}

/** Parses `ip/prefix`. The address keeps its host bits; an IPv4-mapped form is not turned into IPv4. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const addr = text.slice(0, slash);
  const prefixText = text.slice(slash + 1);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  const ip: Ip | undefined = addr.includes(':') ? optionalV6(parseV6(addr)) : optionalV4(parseV4(addr));
  if (!ip || prefix > familyBits(ip.family)) return undefined;
  return { ip, prefix };
}

/** Accepts "10.1.2.3" and "10.1.2.3/24" (the form the ips capability may use) and returns the address. */
export function parseIpOrCidr(text: string): Ip | undefined {
  if (!text.includes('/')) return parseIp(text);
  const cidr = parseCidr(text);
  return cidr ? parseIp(formatIp(cidr.ip)) : undefined;
}

export function formatIp(ip: Ip): string {
  return ip.family === 4 ? formatV4(ip.value) : formatV6(ip.value);
}

export function hostMask(family: Family, prefix: number): bigint {
  return (1n << BigInt(familyBits(family) - prefix)) - 1n;
}

function optionalV4(value: bigint | undefined): Ip | undefined {
  return value === undefined ? undefined : { family: 4, value };
}

function optionalV6(value: bigint | undefined): Ip | undefined {
  return value === undefined ? undefined : { family: 6, value };
}

const V4_OCTET = /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])$/;

function parseV4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!V4_OCTET.test(part)) return undefined;
    value = (value << 8n) | BigInt(part);
  }
  return value;
}

const HEXTET = /^[0-9a-fA-F]{1,4}$/;

function parseV6(text: string): bigint | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const compressed = halves.length === 2;
  const head = halves[0] === '' ? [] : halves[0]!.split(':');
  const tail = compressed ? (halves[1] === '' ? [] : halves[1]!.split(':')) : [];
  // A dotted quad may stand for the last two groups, and only there.
  const lastPart = compressed ? tail : head;
  let trailingV4: bigint | undefined;
  if (lastPart.length > 0 && lastPart[lastPart.length - 1]!.includes('.')) {
    trailingV4 = parseV4(lastPart.pop()!);
    if (trailingV4 === undefined) return undefined;
  }
  const groups = [...head, ...tail];
  if (!groups.every((g) => HEXTET.test(g))) return undefined;
  const explicit = groups.length + (trailingV4 !== undefined ? 2 : 0);
  if (compressed ? explicit > 7 : explicit !== 8) return undefined;
  let value = 0n;
  for (const g of head) value = (value << 16n) | BigInt(parseInt(g, 16));
  if (compressed) value <<= BigInt(16 * (8 - explicit));
  for (const g of tail) value = (value << 16n) | BigInt(parseInt(g, 16));
  if (trailingV4 !== undefined) value = (value << 32n) | trailingV4;
  return value;
}

function formatV4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join('.');
}

/** RFC 5952, as Go prints: lowercase, no leading zeros, the longest run (≥ 2) of zero groups as "::". */
function formatV6(value: bigint): string {
  if (value >> 32n === 0xffffn) return `::ffff:${formatV4(value & 0xffffffffn)}`;
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestLen < 2) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}
