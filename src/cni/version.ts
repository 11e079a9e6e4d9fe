/**
 * Spec versions: ordering, and results converted between the 1.x shape sluice works in and the shape
 * of each version on the wire (libcni's conversions: 1.0.0 and 1.1.0 share one shape; 0.3.0, 0.3.1 and
 * 0.4.0 add `ips[].version` and know only name/mac/sandbox of an interface; 0.1.0/0.2.0, read only,
 * hold one `ip4` and one `ip6`).
 */
import {
  SUPPORTED_VERSIONS,
  type CniDns,
  type CniInterface,
  type CniInterface04,
  type CniIpConfig,
  type CniIpConfig04,
  type CniResult,
  type CniRoute,
  type CniVersion,
} from './types.js';
import { cidrFamily, ipFamily } from './values.js';

type Triple = [number, number, number];

function parseVersion(version: string): Triple {
  const match = /^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$/.exec(version);
  if (!match) throw new Error(`"${version}" is not a version of the form major.minor.patch`);
  return [Number(match[1]), Number(match[2]), Number(match[3])];
}

/** Numeric comparison (so 0.10.0 > 0.4.0): negative, zero or positive. Throws on a malformed version. */
export function compareVersions(a: string, b: string): number {
  const x = parseVersion(a);
  const y = parseVersion(b);
  return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
}

export function isSupportedVersion(version: unknown): version is CniVersion {
  return typeof version === 'string' && (SUPPORTED_VERSIONS as readonly string[]).includes(version);
}

/** The supported versions from `minimum` on, e.g. the ones that allow CHECK. */
export function versionsFrom(minimum: CniVersion): CniVersion[] {
  return SUPPORTED_VERSIONS.filter((v) => compareVersions(v, minimum) >= 0);
}

/** `"0.3.0", "0.3.1", ...`: how errors name a set of versions. */
export function quoteVersions(versions: readonly string[]): string {
  return versions.map((v) => `"${v}"`).join(', ');
}

export function dnsIsEmpty(dns: CniDns | undefined): boolean {
  return !dns || (!dns.nameservers?.length && !dns.domain && !dns.search?.length && !dns.options?.length);
}

// ---- writing -------------------------------------------------------------------------------------

/** The JSON object of `result` in `version`'s shape, empty lists and an empty dns left out as libcni does. */
export function formatResult(result: CniResult, version: CniVersion): Record<string, unknown> {
  const out: Record<string, unknown> = { cniVersion: version };
  const legacy = compareVersions(version, '1.0.0') < 0;
  // mtu, socketPath and pciID are 1.1.0's additions to the interface: 1.0.0 and older have name, mac, sandbox.
  const interfaceFields = compareVersions(version, '1.1.0') < 0 ? interfaceTo04 : (i: CniInterface) => ({ ...i });
  if (result.interfaces.length) out.interfaces = result.interfaces.map(interfaceFields);
  if (result.ips.length) out.ips = legacy ? result.ips.map(ipTo04) : result.ips.map((ip) => ({ ...ip }));
  // Likewise mtu, advmss, priority, table and scope on routes: before 1.1.0 a route is dst and gw.
  const routeFields = compareVersions(version, '1.1.0') < 0 ? routeTo100 : (r: CniRoute) => ({ ...r });
  if (result.routes.length) out.routes = result.routes.map(routeFields);
  if (!dnsIsEmpty(result.dns)) out.dns = { ...result.dns };
  return out;
}

function interfaceTo04(from: CniInterface): CniInterface04 {
  const to: CniInterface04 = { name: from.name };
  if (from.mac !== undefined) to.mac = from.mac;
  if (from.sandbox !== undefined) to.sandbox = from.sandbox;
  return to;
}

function routeTo100(from: CniRoute): CniRoute {
  return from.gw === undefined ? { dst: from.dst } : { dst: from.dst, gw: from.gw };
}

function ipTo04(from: CniIpConfig): CniIpConfig04 {
  // Key order as libcni writes it: version, interface, address, gateway.
  return {
    version: cidrFamily(from.address) === 4 ? '4' : '6',
    ...(from.interface !== undefined ? { interface: from.interface } : {}),
    address: from.address,
    ...(from.gateway !== undefined ? { gateway: from.gateway } : {}),
  };
}

// ---- reading -------------------------------------------------------------------------------------

/** A result that does not have the shape its version defines; `path` names the offending member. */
export class ResultShapeError extends Error {
  override readonly name = 'ResultShapeError';
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path}: ${reason}`);
  }
}

/**
 * Reads a result of any version into the 1.x shape. The version is the result's own `cniVersion`, or
 * `fallbackVersion` (the config's) when it has none, as libcni does for results and prevResults.
 * Members sluice does not know are ignored; known members of the wrong shape throw ResultShapeError.
 */
export function parseResult(raw: unknown, fallbackVersion: string, path = 'result'): CniResult {
  const obj = asObject(raw, path);
  const own = obj.cniVersion;
  if (own !== undefined && typeof own !== 'string') throw new ResultShapeError(`${path}.cniVersion`, 'must be a string');
  const version = own || fallbackVersion;
  switch (version) {
    case '0.1.0':
    case '0.2.0':
      return parse02(obj, path);
    case '0.3.0':
    case '0.3.1':
    case '0.4.0':
      return parseCurrent(obj, path, true);
    case '1.0.0':
    case '1.1.0':
      return parseCurrent(obj, path, false);
    default:
      throw new ResultShapeError(`${path}.cniVersion`, `version "${version}" is not one sluice reads (0.1.0 to 1.1.0)`);
  }
}

function parseCurrent(obj: Record<string, unknown>, path: string, hasIpVersion: boolean): CniResult {
  const result: CniResult = {
    interfaces: list(obj.interfaces, `${path}.interfaces`).map((v, i) => parseInterface(v, `${path}.interfaces[${i}]`)),
    ips: list(obj.ips, `${path}.ips`).map((v, i) => parseIp(v, `${path}.ips[${i}]`, hasIpVersion)),
    routes: list(obj.routes, `${path}.routes`).map((v, i) => parseRoute(v, `${path}.routes[${i}]`)),
  };
  const dns = parseDns(obj.dns, `${path}.dns`);
  if (dns) result.dns = dns;
  return result;
}

function parse02(obj: Record<string, unknown>, path: string): CniResult {
  const result: CniResult = { interfaces: [], ips: [], routes: [] };
  for (const key of ['ip4', 'ip6'] as const) {
    if (obj[key] === undefined || obj[key] === null) continue;
    const at = `${path}.${key}`;
    const ipc = asObject(obj[key], at);
    const ip: CniIpConfig = { address: cidr(ipc.ip, `${at}.ip`) };
    if (ipc.gateway !== undefined) ip.gateway = address(ipc.gateway, `${at}.gateway`);
    result.ips.push(ip);
    list(ipc.routes, `${at}.routes`).forEach((r, i) => result.routes.push(parseRoute(r, `${at}.routes[${i}]`)));
  }
  const dns = parseDns(obj.dns, `${path}.dns`);
  if (dns) result.dns = dns;
  return result;
}

function parseInterface(raw: unknown, path: string): CniInterface {
  const obj = asObject(raw, path);
  if (typeof obj.name !== 'string' || obj.name === '') throw new ResultShapeError(`${path}.name`, 'must be a non-empty string');
  const out: CniInterface = { name: obj.name };
  for (const key of ['mac', 'sandbox', 'socketPath', 'pciID'] as const) {
    const value = obj[key];
    if (value === undefined || value === '') continue;
    if (typeof value !== 'string') throw new ResultShapeError(`${path}.${key}`, 'must be a string');
    out[key] = value;
  }
  if (obj.mtu !== undefined && obj.mtu !== 0) out.mtu = uint(obj.mtu, `${path}.mtu`);
  return out;
}

function parseIp(raw: unknown, path: string, hasIpVersion: boolean): CniIpConfig {
  const obj = asObject(raw, path);
  const out: CniIpConfig = { address: cidr(obj.address, `${path}.address`) };
  if (obj.gateway !== undefined && obj.gateway !== '') out.gateway = address(obj.gateway, `${path}.gateway`);
  if (obj.interface !== undefined && obj.interface !== null) out.interface = uint(obj.interface, `${path}.interface`);
  if (hasIpVersion && obj.version !== undefined) {
    const family = String(cidrFamily(out.address));
    if (obj.version !== family) throw new ResultShapeError(`${path}.version`, `is ${JSON.stringify(obj.version)} but the address is IPv${family}`);
  }
  return out;
}

function parseRoute(raw: unknown, path: string): CniRoute {
  const obj = asObject(raw, path);
  const out: CniRoute = { dst: cidr(obj.dst, `${path}.dst`) };
  if (obj.gw !== undefined && obj.gw !== '') out.gw = address(obj.gw, `${path}.gw`);
  for (const key of ['mtu', 'advmss', 'priority', 'table', 'scope'] as const) {
    if (obj[key] !== undefined && obj[key] !== null) out[key] = uint(obj[key], `${path}.${key}`);
  }
  return out;
}

function parseDns(raw: unknown, path: string): CniDns | undefined {
  if (raw === undefined || raw === null) return undefined;
  const obj = asObject(raw, path);
  const out: CniDns = {};
  for (const key of ['nameservers', 'search', 'options'] as const) {
    if (obj[key] === undefined || obj[key] === null) continue;
    const values = list(obj[key], `${path}.${key}`);
    values.forEach((v, i) => {
      if (typeof v !== 'string') throw new ResultShapeError(`${path}.${key}[${i}]`, 'must be a string');
    });
    if (values.length) out[key] = values as string[];
  }
  if (obj.domain !== undefined && obj.domain !== '') {
    if (typeof obj.domain !== 'string') throw new ResultShapeError(`${path}.domain`, 'must be a string');
    out.domain = obj.domain;
  }
  return dnsIsEmpty(out) ? undefined : out;
}

function asObject(raw: unknown, path: string): Record<string, unknown> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ResultShapeError(path, 'must be an object');
  return raw as Record<string, unknown>;
}

function list(raw: unknown, path: string): unknown[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new ResultShapeError(path, 'must be a list');
  return raw;
}

function cidr(raw: unknown, path: string): string {
  if (typeof raw !== 'string' || cidrFamily(raw) === 0) throw new ResultShapeError(path, `must be an address in CIDR notation, not ${JSON.stringify(raw)}`);
  return raw;
}

function address(raw: unknown, path: string): string {
  if (typeof raw !== 'string' || ipFamily(raw) === 0) throw new ResultShapeError(path, `must be an IP address, not ${JSON.stringify(raw)}`);
  return raw;
}

function uint(raw: unknown, path: string): number {
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 0 || raw > 0xffffffff) {
    throw new ResultShapeError(path, `must be a non-negative integer, not ${JSON.stringify(raw)}`);
  }
  return raw;
}
