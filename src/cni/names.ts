import { createHash } from 'node:crypto';

/**
 * The host side of a pod's veth: `<prefix><hex>`, exactly 15 characters (IFNAMSIZ - 1), where <hex> is
 * the start of sha256(containerID + "/" + ifname). With the default prefix "sl" that is 13 hex digits
 * (52 bits): the birthday bound puts a collision among 10,000 pods on one node near 1 in 10^8.
 *
 * Deterministic, so DEL and CHECK find the interface without state, even when the pod's namespace is
 * gone. "/" cannot occur in a container ID or an interface name, so different attachments never hash
 * the same input.
 */
export const MAX_IFNAME_BYTES = 15;

export function hostVethName(containerId: string, ifname: string, prefix = 'sl'): string {
  if (prefix.length < 1 || prefix.length > 3) throw new RangeError(`host veth prefix must be 1 to 3 characters, got ${JSON.stringify(prefix)}`);
  const digest = createHash('sha256').update(`${containerId}/${ifname}`).digest('hex');
  return prefix + digest.slice(0, MAX_IFNAME_BYTES - prefix.length);
}
