import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('../../../test/support/pyroute2_decode.py', import.meta.url));

export type PyValue = string | number | boolean | null | PyValue[] | { [k: string]: PyValue };
export interface PyMessage {
  header: Record<string, PyValue>;
  attrs: Record<string, PyValue>;
}
export type PyKind = 'link' | 'address' | 'route' | 'neighbour' | 'rule' | 'tc';

/** Decodes messages with pyroute2 (Debian's python3-pyroute2 under /usr/bin/python3). */
export function pyroute2Decode(kind: PyKind, messages: Buffer[]): PyMessage[] {
  const input = messages.map((m) => JSON.stringify({ kind, hex: m.toString('hex') })).join('\n');
  const out = execFileSync('/usr/bin/python3', [script], { input, encoding: 'utf8' });
  return out.trim().split('\n').map((l) => JSON.parse(l) as PyMessage);
}

/** 'netNsFd' with prefix 'IFLA' -> 'IFLA_NET_NS_FD', the uapi spelling pyroute2 uses. */
export function uapiName(prefix: string, camel: string): string {
  return `${prefix}_${camel.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}`;
}
