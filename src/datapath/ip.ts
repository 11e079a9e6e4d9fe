/** Small address helpers shared by the ebpf driver and CHECK. */
import { formatIPv6, parseIP } from '../netlink/types.js';

export type Family = 4 | 6;

/** The canonical text of an address (IPv6 compressed as the kernel prints it), or undefined. */
export function canonicalIp(text: string): string | undefined {
  const bytes = parseIP(text);
  if (!bytes) return undefined;
  return bytes.length === 4 ? [...bytes].join('.') : formatIPv6(bytes, 0);
}

export function familyOf(address: string): Family {
  return address.includes(':') ? 6 : 4;
}

/** Splits "10.1.0.5/24" into the canonical address and the prefix length; undefined when malformed. */
export function splitCidr(cidr: string): { ip: string; prefix: number; family: Family } | undefined {
  const slash = cidr.indexOf('/');
  const ip = canonicalIp(slash < 0 ? cidr : cidr.slice(0, slash));
  if (!ip) return undefined;
  const family = familyOf(ip);
  const max = family === 4 ? 32 : 128;
  const prefix = slash < 0 ? max : Number(cidr.slice(slash + 1));
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) return undefined;
  return { ip, prefix, family };
}

export const hostPrefix = (family: Family): number => (family === 4 ? 32 : 128);
export const defaultDst = (family: Family): string => (family === 4 ? '0.0.0.0/0' : '::/0');

export function sameMac(a: string | undefined, b: string | undefined): boolean {
  return a !== undefined && b !== undefined && a.toLowerCase() === b.toLowerCase();
}
