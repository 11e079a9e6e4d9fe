/**
 * Network sysctls through /proc/sys, in a chosen network namespace.
 *
 * The files under /proc/sys/net belong to the network namespace of the thread that opens them (the
 * kernel looks the table up in current->nsproxy->net_ns at open time), so "switch this thread with
 * setns, open, read or write, switch back" reaches another namespace's values without a process of its
 * own. Everything here is synchronous, as runIn requires. test/kernel/plugin-sysctl.test.ts checks
 * this against two namespaces holding different values.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { runIn, type NetNs } from '../netns.js';

/**
 * A sysctl key, as a list of path segments (["net", "ipv4", "conf", "eth0.100", "arp_ignore"]) or in
 * dotted form ("net.ipv4.ip_forward"). Use the list form when a segment (an interface name) has a dot.
 */
export type SysctlKey = string | readonly string[];

export function sysctlPath(key: SysctlKey): string {
  const segments = typeof key === 'string' ? key.split('.') : [...key];
  if (segments.length < 2 || segments[0] !== 'net') throw new TypeError(`not a network sysctl: ${JSON.stringify(key)}`);
  for (const s of segments) {
    if (s === '' || s === '.' || s === '..' || s.includes('/') || s.includes('\0')) throw new TypeError(`bad sysctl key segment ${JSON.stringify(s)} in ${JSON.stringify(key)}`);
  }
  return `/proc/sys/${segments.join('/')}`;
}

const inNs = <T>(ns: NetNs | undefined, fn: () => T): T => (ns ? runIn(ns, fn) : fn());

/** The value, without its trailing newline. Throws ENOENT (node:fs error) when the key does not exist. */
export function readSysctl(key: SysctlKey, ns?: NetNs): string {
  const path = sysctlPath(key);
  return inNs(ns, () => readFileSync(path, 'utf8')).trimEnd();
}

export function writeSysctl(key: SysctlKey, value: string, ns?: NetNs): void {
  const path = sysctlPath(key);
  inNs(ns, () => writeFileSync(path, value));
}

/** What setSysctl found, so a caller can put it back. */
export interface SysctlChange {
  key: SysctlKey;
  previous: string;
  value: string;
  changed: boolean;
}

/** Writes `value` unless the sysctl already holds it; says what was there. */
export function setSysctl(key: SysctlKey, value: string, ns?: NetNs): SysctlChange {
  const path = sysctlPath(key);
  return inNs(ns, () => {
    const previous = readFileSync(path, 'utf8').trimEnd();
    if (previous === value) return { key, previous, value, changed: false };
    writeFileSync(path, value);
    return { key, previous, value, changed: true };
  });
}

/** Puts back what setSysctl changed (nothing when it changed nothing). */
export function restoreSysctl(change: SysctlChange, ns?: NetNs): void {
  if (change.changed) writeSysctl(change.key, change.previous, ns);
}

/** The node-wide forwarding switch of each family. */
export const FORWARDING: Record<4 | 6, readonly string[]> = {
  4: ['net', 'ipv4', 'ip_forward'],
  6: ['net', 'ipv6', 'conf', 'all', 'forwarding'],
};

/** Turns forwarding on for these families; returns what it changed. */
export function enableForwarding(families: Iterable<4 | 6>, ns?: NetNs): SysctlChange[] {
  const changes: SysctlChange[] = [];
  try {
    for (const family of new Set(families)) changes.push(setSysctl(FORWARDING[family], '1', ns));
  } catch (err) {
    for (const c of changes.reverse()) restoreSysctl(c, ns);
    throw err;
  }
  return changes;
}

/** Per-interface keys. */
export const ipv4Conf = (ifname: string, name: string): string[] => ['net', 'ipv4', 'conf', ifname, name];
export const ipv6Conf = (ifname: string, name: string): string[] => ['net', 'ipv6', 'conf', ifname, name];

/**
 * Whether IPv6 is available in the namespace at all (the ipv6 module loaded, not disabled at boot):
 * whether its sysctls exist, whatever they hold. One stat, as ADD asks on every call.
 */
export function ipv6Available(ns?: NetNs): boolean {
  const path = sysctlPath(['net', 'ipv6', 'conf', 'all', 'disable_ipv6']);
  return inNs(ns, () => existsSync(path));
}
