import { readFileSync } from 'node:fs';
import { invalidField } from '../../cni/fields.js';
import type { IpamDns } from '../types.js';

/** Reads `ipam.resolvConf` into the result's `dns`, the way host-local's dns.go does. */
export function readResolvConf(path: string): IpamDns {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw invalidField('ipam.resolvConf', `names a file sluice cannot read: ${(err as Error).message}`);
  }
  const dns: IpamDns = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const [keyword, ...values] = line.split(/\s+/);
    if (values.length === 0) continue;
    switch (keyword) {
      case 'nameserver':
        (dns.nameservers ??= []).push(values[0]!);
        break;
      case 'domain':
        dns.domain = values[0]!;
        break;
      case 'search':
        (dns.search ??= []).push(...values);
        break;
      case 'options':
        (dns.options ??= []).push(...values);
        break;
    }
  }
  return dns;
}
