/**
 * host-local's configuration, read and canonicalized as host-local does (allocator/config.go and
 * range.go): an old-style single range (`subnet`, `rangeStart`, ...) is prepended to `ranges`, and the
 * `ipRanges` capability is prepended to both; defaults are the subnet's .1 for the gateway and the range
 * start, and the broadcast minus one (IPv4) or the last address (IPv6) for the range end.
 */
import { CniCode, CniError } from '../../cni/errors.js';
import { invalidField, preview } from '../../cni/fields.js';
import type { IpamRoute } from '../types.js';
import { type Cidr, type Ip, familyBits, formatIp, parseCidr, parseIp, parseIpOrCidr } from './address.js';
import { type Range, RangeSet, defaultRangeEnd, describeRange, inSubnet, networkAddress, rangesOverlap } from './range.js';

export const DEFAULT_DATA_DIR = '/var/lib/cni/networks';

export interface HostLocalConfig {
  /** The network name: the store's folder under `dataDir`. */
  network: string;
  cniVersion: string;
  dataDir: string;
  rangeSets: RangeSet[];
  routes: IpamRoute[];
  resolvConf?: string;
}

type Json = Record<string, unknown>;

/** What the CNI spec allows as a network name; it also keeps the name a single, harmless path component. */
const NETWORK_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function checkNetworkName(network: string, field = 'name'): string {
  if (!NETWORK_NAME.test(network)) {
    throw invalidField(field, `must start with a letter or digit and hold only letters, digits, "_", "." and "-", not ${preview(network)}`);
  }
  return network;
}

export function parseHostLocalConfig(network: string, ipam: Json, netConf: Json): HostLocalConfig {
  checkNetworkName(network);
  const cniVersion = typeof netConf.cniVersion === 'string' ? netConf.cniVersion : '1.1.0';
  const config: HostLocalConfig = {
    network,
    cniVersion,
    dataDir: optionalString(ipam, 'dataDir') ?? DEFAULT_DATA_DIR,
    rangeSets: parseRangeSets(ipam, netConf, cniVersion),
    routes: parseRoutes(ipam.routes),
  };
  const resolvConf = optionalString(ipam, 'resolvConf');
  if (resolvConf) config.resolvConf = resolvConf;
  return config;
}

function optionalString(ipam: Json, key: string): string | undefined {
  const value = ipam[key];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw invalidField(`ipam.${key}`, `must be a string, not ${preview(value)}`);
  return value;
}

function parseRangeSets(ipam: Json, netConf: Json, cniVersion: string): RangeSet[] {
  const sets: RangeSet[] = [];
  const runtimeRanges = (netConf.runtimeConfig as Json | undefined)?.ipRanges;
  if (runtimeRanges !== undefined && runtimeRanges !== null) {
    listOf(runtimeRanges, 'runtimeConfig.ipRanges').forEach((raw, i) => sets.push(parseRangeSet(raw, `runtimeConfig.ipRanges[${i}]`)));
  }
  if (ipam.subnet !== undefined && ipam.subnet !== '') sets.push(new RangeSet([parseRange(ipam, 'ipam')]));
  if (ipam.ranges !== undefined && ipam.ranges !== null) {
    listOf(ipam.ranges, 'ipam.ranges').forEach((raw, i) => sets.push(parseRangeSet(raw, `ipam.ranges[${i}]`)));
  }
  if (sets.length === 0) throw invalidField('ipam.ranges', 'is required (or the single-range "ipam.subnet"): no IP ranges given');

  for (let i = 0; i < sets.length; i++) {
    for (let j = i + 1; j < sets.length; j++) {
      const a = sets[i]!.ranges.find((ra) => sets[j]!.ranges.some((rb) => rangesOverlap(ra, rb)));
      if (a) throw invalidField('ipam.ranges', `has overlapping range sets: set ${i} (${sets[i]}) and set ${j} (${sets[j]})`);
    }
  }
  const perFamily = (f: 4 | 6) => sets.filter((s) => s.family === f).length;
  if ((perFamily(4) > 1 || perFamily(6) > 1) && versionBelow(cniVersion, 0, 3)) {
    throw invalidField('ipam.ranges', `holds more than one range set of an address family, which cniVersion ${cniVersion} cannot return`);
  }
  return sets;
}

function listOf(value: unknown, path: string): unknown[] {
  if (!Array.isArray(value)) throw invalidField(path, `must be a list, not ${preview(value)}`);
  return value;
}

function parseRangeSet(raw: unknown, path: string): RangeSet {
  const list = listOf(raw, path);
  if (list.length === 0) throw invalidField(path, 'is an empty range set');
  const ranges = list.map((r, i) => {
    if (typeof r !== 'object' || r === null || Array.isArray(r)) throw invalidField(`${path}[${i}]`, `must be an object, not ${preview(r)}`);
    return parseRange(r as Json, `${path}[${i}]`);
  });
  ranges.forEach((r, i) => {
    if (r.family !== ranges[0]!.family) throw invalidField(`${path}[${i}].subnet`, 'mixes address families in one range set');
  });
  for (let i = 0; i < ranges.length; i++) {
    for (let j = i + 1; j < ranges.length; j++) {
      if (rangesOverlap(ranges[i]!, ranges[j]!)) {
        throw invalidField(path, `has overlapping ranges ${describeRange(ranges[i]!)} and ${describeRange(ranges[j]!)}`);
      }
    }
  }
  return new RangeSet(ranges);
}

function parseRange(raw: Json, path: string): Range {
  const subnetField = `${path}.subnet`;
  if (typeof raw.subnet !== 'string') throw invalidField(subnetField, raw.subnet === undefined ? 'is required' : `must be a string, not ${preview(raw.subnet)}`);
  const parsed = parseCidr(raw.subnet);
  if (!parsed) throw invalidField(subnetField, `must be a subnet in CIDR notation, not ${preview(raw.subnet)}`);
  const family = parsed.ip.family;
  if (parsed.prefix > familyBits(family) - 2) throw invalidField(subnetField, `${raw.subnet} is too small to allocate from`);
  const network = networkAddress(parsed);
  if (network.value !== parsed.ip.value) {
    throw invalidField(subnetField, `has host bits set: for a /${parsed.prefix} the network address is ${formatIp(network)}`);
  }
  const subnet: Cidr = { ip: network, prefix: parsed.prefix };

  const address = (key: string): Ip | undefined => {
    const value = raw[key];
    if (value === undefined || value === null || value === '') return undefined;
    const ip = typeof value === 'string' ? parseIp(value) : undefined;
    if (!ip) throw invalidField(`${path}.${key}`, `must be an IP address, not ${preview(value)}`);
    if (ip.family !== family) throw invalidField(`${path}.${key}`, `${value} is not of the subnet's address family`);
    return ip;
  };
  const inside = (key: string, ip: Ip | undefined): bigint | undefined => {
    if (ip && !inSubnet(subnet, ip)) throw invalidField(`${path}.${key}`, `${formatIp(ip)} is not in network ${raw.subnet}`);
    return ip?.value;
  };
  const first = network.value + 1n;
  const gateway = address('gateway')?.value ?? first;
  const start = inside('rangeStart', address('rangeStart')) ?? first;
  const end = inside('rangeEnd', address('rangeEnd')) ?? defaultRangeEnd(subnet);
  if (start > end) {
    throw invalidField(`${path}.rangeEnd`, `${formatIp({ family, value: end })} comes before rangeStart ${formatIp({ family, value: start })}`);
  }
  return { family, subnet, start, end, gateway };
}

function parseRoutes(raw: unknown): IpamRoute[] {
  if (raw === undefined || raw === null) return [];
  return listOf(raw, 'ipam.routes').map((r, i) => {
    const path = `ipam.routes[${i}]`;
    if (typeof r !== 'object' || r === null) throw invalidField(path, `must be an object, not ${preview(r)}`);
    const { dst, gw } = r as Json;
    const cidr = typeof dst === 'string' ? parseCidr(dst) : undefined;
    if (!cidr) throw invalidField(`${path}.dst`, `must be a destination in CIDR notation, not ${preview(dst)}`);
    const route: IpamRoute = { dst: `${formatIp(cidr.ip)}/${cidr.prefix}` };
    if (gw !== undefined && gw !== null && gw !== '') {
      const gwIp = typeof gw === 'string' ? parseIp(gw) : undefined;
      if (!gwIp) throw invalidField(`${path}.gw`, `must be an IP address, not ${preview(gw)}`);
      route.gw = formatIp(gwIp);
    }
    for (const key of ['mtu', 'advmss', 'priority', 'table', 'scope'] as const) {
      const value = (r as Json)[key];
      if (value === undefined) continue;
      if (!Number.isInteger(value) || (value as number) < 0) throw invalidField(`${path}.${key}`, `must be a non-negative integer, not ${preview(value)}`);
      route[key] = value as number;
    }
    return route;
  });
}

function versionBelow(version: string, major: number, minor: number): boolean {
  const [ma, mi] = version.split('.').map(Number);
  if (ma === undefined || mi === undefined || Number.isNaN(ma) || Number.isNaN(mi)) return false;
  return ma < major || (ma === major && mi < minor);
}

/**
 * The addresses asked for, in host-local's order: CNI_ARGS `IP=`, then `args.cni.ips`, then the `ips`
 * capability, then whatever the caller collected itself; duplicates dropped. "10.1.2.3/24" means 10.1.2.3.
 */
export function requestedAddresses(requested: readonly string[], cniArgs: string | undefined, netConf: Json): Ip[] {
  const out: Ip[] = [];
  const add = (text: unknown, bad: (v: unknown) => CniError) => {
    const ip = typeof text === 'string' ? parseIpOrCidr(text.trim()) : undefined;
    if (!ip) throw bad(text);
    if (!out.some((o) => o.family === ip.family && o.value === ip.value)) out.push(ip);
  };
  for (const pair of (cniArgs ?? '').split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0 || pair.slice(0, eq).trim() !== 'IP') continue;
    for (const ip of pair.slice(eq + 1).split(',')) {
      add(ip, (v) => new CniError(CniCode.InvalidEnvironment, `invalid environment: CNI_ARGS IP=${String(v)} is not an IP address`));
    }
  }
  const argsIps = ((netConf.args as Json | undefined)?.cni as Json | undefined)?.ips;
  if (argsIps !== undefined && argsIps !== null) {
    listOf(argsIps, 'args.cni.ips').forEach((v, i) => add(v, () => invalidField(`args.cni.ips[${i}]`, `must be an IP address, not ${preview(v)}`)));
  }
  const capIps = (netConf.runtimeConfig as Json | undefined)?.ips;
  if (capIps !== undefined && capIps !== null) {
    listOf(capIps, 'runtimeConfig.ips').forEach((v, i) => add(v, () => invalidField(`runtimeConfig.ips[${i}]`, `must be an IP address, not ${preview(v)}`)));
  }
  requested.forEach((v) => add(v, () => invalidField('ips', `requested address ${preview(v)} is not an IP address`)));
  return out;
}
