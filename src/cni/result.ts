import { CniCode, CniError } from './errors.js';
import type { CniDns, CniResult } from './types.js';
import { dnsIsEmpty } from './version.js';

/**
 * ADD's output: the previous plugin's result with this plugin's own appended (spec: a plugin given a
 * prevResult outputs it with its changes applied). The own result's interface indices are shifted past
 * the previous interfaces. dns: the config's when it has one (as the reference bridge plugin does),
 * else what the driver found (the IPAM plugin's), else the previous result's.
 */
export function appendResult(prev: CniResult | undefined, own: CniResult, configDns: CniDns | undefined): CniResult {
  own.ips.forEach((ip, i) => {
    if (ip.interface !== undefined && ip.interface >= own.interfaces.length) {
      throw new CniError(CniCode.Internal, `the data path's result is inconsistent: ips[${i}].interface is ${ip.interface} but it made ${own.interfaces.length} interface(s)`);
    }
  });
  const offset = prev?.interfaces.length ?? 0;
  const merged: CniResult = {
    interfaces: [...(prev?.interfaces ?? []), ...own.interfaces],
    ips: [...(prev?.ips ?? []), ...own.ips.map((ip) => (ip.interface === undefined ? { ...ip } : { ...ip, interface: ip.interface + offset }))],
    routes: [...(prev?.routes ?? []), ...own.routes],
  };
  const dns = [configDns, own.dns, prev?.dns].find((d) => !dnsIsEmpty(d));
  if (dns) merged.dns = dns;
  return merged;
}
