import { isIP } from 'node:net';

/** Syntax checks for the values CNI passes around as strings. */

/** 4 or 6 for a plain address (no zone, no prefix), 0 for anything else. */
export function ipFamily(text: string): 0 | 4 | 6 {
  if (text.includes('%')) return 0;
  return isIP(text) as 0 | 4 | 6;
}

/** "10.1.0.5/16" or "fd00::5/64": the family of a CIDR with a valid prefix length, else 0. */
export function cidrFamily(text: string): 0 | 4 | 6 {
  const slash = text.indexOf('/');
  if (slash < 0) return 0;
  const family = ipFamily(text.slice(0, slash));
  const prefix = text.slice(slash + 1);
  if (family === 0 || !/^(0|[1-9][0-9]{0,2})$/.test(prefix)) return 0;
  return Number(prefix) <= (family === 4 ? 32 : 128) ? family : 0;
}

/** An address with or without a prefix length (the `ips` capability, `args.cni.ips`, CNI_ARGS IP). */
export function isIpOrCidr(text: string): boolean {
  return text.includes('/') ? cidrFamily(text) !== 0 : ipFamily(text) !== 0;
}

/** A unicast Ethernet address in the colon form the kernel and the reference plugins print. */
export function isUnicastMac(text: string): boolean {
  if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(text)) return false;
  const first = parseInt(text.slice(0, 2), 16);
  return (first & 1) === 0 && text !== '00:00:00:00:00:00';
}

/**
 * Container IDs and network names (spec: an alphanumeric, then alphanumerics, '_', '.' or '-').
 * The same rule as libcni's utils, so a name it accepts is accepted here.
 */
export const CNI_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Interface names as the kernel's dev_valid_name() and libcni's ValidateInterfaceName accept them. */
export function interfaceNameProblem(name: string): string | undefined {
  if (name === '') return 'is empty';
  if (Buffer.byteLength(name, 'utf8') > 15) return `is longer than 15 bytes (${Buffer.byteLength(name, 'utf8')})`;
  if (name === '.' || name === '..') return `is "${name}"`;
  if (name.includes('/')) return "contains '/'";
  if (name.includes(':')) return "contains ':'";
  // \s misses U+0085 (NEL), which Go's unicode.IsSpace (libcni's test) counts as whitespace.
  if (/[\s\u0085]/u.test(name)) return 'contains whitespace';
  return undefined;
}
