/**
 * `runtimeConfig`: the capability arguments the runtime fills in (CONVENTIONS.md). Known capabilities
 * are checked for shape; capabilities sluice has no use for are kept as given, since the runtime only
 * sends those the operator declared in `capabilities`.
 */
import { Fields, checkedInteger, invalidField, preview } from './fields.js';
import type { BandwidthLimits, IpRange, PortMapping, RuntimeConfig, RuntimeDns } from './types.js';
import { cidrFamily, ipFamily, isIpOrCidr, isUnicastMac } from './values.js';

const PATH = 'runtimeConfig';
const KNOWN = new Set(['ips', 'mac', 'dns', 'bandwidth', 'portMappings', 'ipRanges', 'infinibandGUID', 'deviceID', 'aliases', 'cgroupPath']);

export const ipOrCidrCheck = (v: string): string | undefined => (isIpOrCidr(v) ? undefined : `must be an IP address with or without a prefix length, not ${preview(v)}`);
export const ipCheck = (v: string): string | undefined => (ipFamily(v) ? undefined : `must be an IP address, not ${preview(v)}`);
export const cidrCheck = (v: string): string | undefined => (cidrFamily(v) ? undefined : `must be a subnet in CIDR notation, not ${preview(v)}`);
export const macCheck = (v: string): string | undefined => (isUnicastMac(v) ? undefined : `must be a unicast MAC address like "02:42:ac:11:00:02", not ${preview(v)}`);

export function parseRuntimeConfig(raw: unknown): RuntimeConfig {
  const config: RuntimeConfig = { other: {} };
  if (raw === undefined || raw === null) return config;
  const fields = Fields.of(raw, PATH);

  const ips = fields.stringList('ips', ipOrCidrCheck);
  if (ips) config.ips = ips;
  const mac = fields.string('mac', macCheck);
  if (mac) config.mac = mac;
  const dns = fields.object('dns');
  if (dns) config.dns = parseDns(dns);
  const bandwidth = fields.object('bandwidth');
  if (bandwidth) config.bandwidth = parseBandwidth(bandwidth);
  const portMappings = fields.list('portMappings');
  if (portMappings) config.portMappings = portMappings.map((m, i) => parsePortMapping(Fields.of(m, `${PATH}.portMappings[${i}]`)));
  const ipRanges = fields.list('ipRanges');
  if (ipRanges) config.ipRanges = ipRanges.map((set, i) => parseRangeSet(set, `${PATH}.ipRanges[${i}]`));
  for (const key of ['infinibandGUID', 'deviceID', 'cgroupPath'] as const) {
    const value = fields.string(key);
    if (value !== undefined) config[key] = value;
  }
  const aliases = fields.stringList('aliases');
  if (aliases) config.aliases = aliases;

  for (const key of fields.keys()) if (!KNOWN.has(key)) config.other[key] = fields.obj[key];
  return config;
}

function parseDns(fields: Fields): RuntimeDns {
  const dns: RuntimeDns = {};
  const servers = fields.stringList('servers', ipCheck);
  if (servers) dns.servers = servers;
  const searches = fields.stringList('searches');
  if (searches) dns.searches = searches;
  const options = fields.stringList('options');
  if (options) dns.options = options;
  const domain = fields.string('domain');
  if (domain) dns.domain = domain;
  return dns;
}

function parseBandwidth(fields: Fields): BandwidthLimits {
  const limits: BandwidthLimits = {};
  for (const key of ['ingressRate', 'ingressBurst', 'egressRate', 'egressBurst'] as const) {
    const value = fields.integer(key, 0, Number.MAX_SAFE_INTEGER);
    if (value !== undefined) limits[key] = value;
  }
  return limits;
}

function parsePortMapping(fields: Fields): PortMapping {
  const hostPort = checkedInteger(fields.obj.hostPort, fields.path('hostPort'), 1, 65535);
  const containerPort = checkedInteger(fields.obj.containerPort, fields.path('containerPort'), 1, 65535);
  const protocol = (fields.string('protocol') ?? 'tcp').toLowerCase();
  if (protocol !== 'tcp' && protocol !== 'udp' && protocol !== 'sctp') {
    throw invalidField(fields.path('protocol'), `must be "tcp", "udp" or "sctp", not ${preview(fields.obj.protocol)}`);
  }
  const mapping: PortMapping = { hostPort, containerPort, protocol };
  const hostIP = fields.string('hostIP', (v) => (v === '' ? undefined : ipCheck(v)));
  if (hostIP) mapping.hostIP = hostIP;
  return mapping;
}

function parseRangeSet(raw: unknown, path: string): IpRange[] {
  if (!Array.isArray(raw)) throw invalidField(path, `must be a list of ranges, not ${preview(raw)}`);
  return raw.map((r, i) => parseRange(Fields.of(r, `${path}[${i}]`)));
}

/** A host-local range: `subnet` is required, the rest optional (the IPAM plugin fills in defaults). */
export function parseRange(fields: Fields): IpRange {
  if (!fields.has('subnet')) throw invalidField(fields.path('subnet'), 'is required');
  const range: IpRange = { subnet: fields.string('subnet', cidrCheck)! };
  for (const key of ['rangeStart', 'rangeEnd', 'gateway'] as const) {
    const value = fields.string(key, ipCheck);
    if (value) range[key] = value;
  }
  return range;
}
