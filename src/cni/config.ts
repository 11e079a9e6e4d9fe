/**
 * The plugin configuration libcni writes on stdin: decoded, checked field by field, defaults applied.
 *
 * sluice's own fields and their defaults:
 *   mode            "ebpf" (default) | "bridge"
 *   mtu             68..65535; default: the uplink's (left undefined here)
 *   gateway         {"ipv4": "169.254.1.1", "ipv6": "fe80::1"}: the pods' gateway in mode ebpf
 *   ipMasq          false
 *   ipMasqExclude   destinations never masqueraded (CIDRs: the cluster CIDR, ...); default none
 *   ipMasqTable     the nf_tables table (family inet) holding the masquerade rules; default "sluice"
 *   logFile         absolute path; default: stderr
 *   logLevel        "warn" (fatal, error, warn, info, debug, trace, silent)
 *   pinRoot         "/sys/fs/bpf/sluice"
 *   stateDir        "/run/sluice"
 *   hostVethPrefix  "sl": 1 to 3 characters, see names.ts
 * plus, in mode bridge only, the reference bridge plugin's fields (config-bridge.ts).
 * A field sluice does not know is refused with code 2; a bad value with code 7; both name the field.
 */
import { BRIDGE_FIELDS, parseBridgeSettings } from './config-bridge.js';
import { CniCode, CniError } from './errors.js';
import { Fields, checkedString, invalidField, isPlainObject, preview, unsupportedField } from './fields.js';
import { ipOrCidrCheck, macCheck, parseRuntimeConfig } from './runtime-config.js';
import type { Attachment } from '../ipam/types.js';
import type { CniDns, CniVersion, DataPathMode, IpamConfig, LogLevel, PluginConfig, SluiceSettings } from './types.js';
import { CNI_NAME, cidrFamily, ipFamily } from './values.js';
import { ResultShapeError, parseResult } from './version.js';

export const DEFAULTS = {
  mode: 'ebpf' as DataPathMode,
  gatewayIpv4: '169.254.1.1',
  gatewayIpv6: 'fe80::1',
  logLevel: 'warn' as LogLevel,
  pinRoot: '/sys/fs/bpf/sluice',
  stateDir: '/run/sluice',
  hostVethPrefix: 'sl',
};

const PROTOCOL_FIELDS = new Set(['cniVersion', 'name', 'type', 'capabilities', 'runtimeConfig', 'args', 'prevResult', 'ipam', 'dns']);
const SLUICE_FIELDS = new Set(['mode', 'mtu', 'gateway', 'ipMasq', 'ipMasqExclude', 'ipMasqTable', 'logFile', 'logLevel', 'pinRoot', 'stateDir', 'hostVethPrefix']);
const EBPF_ONLY_FIELDS = new Set(['gateway']);
const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const VALID_ATTACHMENTS = 'cni.dev/valid-attachments';
/** The name the spec first gave the list (containernetworking/cni#1101); libcni sends both. */
const VALID_ATTACHMENTS_OLD = 'cni.dev/attachments';

/** Parses stdin into the config object; anything but a JSON object is code 6. */
export function decodeConfig(stdin: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(stdin);
  } catch (err) {
    throw new CniError(CniCode.DecodingFailure, 'cannot decode the network config on stdin', (err as Error).message);
  }
  if (!isPlainObject(value)) throw new CniError(CniCode.DecodingFailure, 'cannot decode the network config on stdin', `expected a JSON object, got ${preview(value)}`);
  return value;
}

/** The config's cniVersion as libcni reads it: absent or empty means "0.1.0"; not a string is code 6. */
export function configVersion(raw: Record<string, unknown>): string {
  const version = raw.cniVersion;
  if (version === undefined || version === null || version === '') return '0.1.0';
  if (typeof version !== 'string') throw new CniError(CniCode.DecodingFailure, `cannot decode "cniVersion": expected a string, got ${preview(version)}`);
  return version;
}

export function parseConfig(raw: Record<string, unknown>, version: CniVersion): PluginConfig {
  const fields = new Fields(raw);
  const name = requiredString(fields, 'name', (v) => (CNI_NAME.test(v) ? undefined : 'must start with a letter or digit followed by letters, digits, "_", "." or "-"'));
  const type = requiredString(fields, 'type', pluginNameCheck);
  const mode = parseMode(fields);
  refuseUnknownFields(fields, mode);

  const ipam = parseIpam(fields);
  if (mode === 'ebpf' && !ipam) throw invalidField('ipam', 'is required in mode "ebpf": pods get their addresses from an IPAM plugin');
  const config: PluginConfig = {
    cniVersion: version,
    name,
    type,
    capabilities: parseCapabilities(fields),
    args: parseArgs(fields),
    runtimeConfig: parseRuntimeConfig(raw.runtimeConfig),
    sluice: parseSluiceSettings(fields, mode, ipam !== undefined),
    raw,
  };
  if (ipam) config.ipam = ipam;
  const dns = parseDns(fields);
  if (dns) config.dns = dns;
  if (fields.has('prevResult')) config.prevResult = parsePrevResult(raw.prevResult, version);
  const attachments = parseValidAttachments(fields);
  if (attachments) config.validAttachments = attachments;
  return config;
}

function requiredString(fields: Fields, key: string, check: (v: string) => string | undefined): string {
  if (!fields.has(key) || fields.obj[key] === '') throw invalidField(key, 'is required');
  return fields.string(key, check)!;
}

/** `type` and `ipam.type` name an executable in CNI_PATH: no path separators. */
function pluginNameCheck(value: string): string | undefined {
  return /[/\\]/.test(value) ? `must be a plugin name without path separators, not ${preview(value)}` : undefined;
}

function parseMode(fields: Fields): DataPathMode {
  const mode = fields.string('mode') ?? DEFAULTS.mode;
  if (mode !== 'ebpf' && mode !== 'bridge') throw invalidField('mode', `must be "ebpf" or "bridge", not ${preview(mode)}`);
  return mode;
}

function refuseUnknownFields(fields: Fields, mode: DataPathMode): void {
  for (const key of fields.keys()) {
    if (PROTOCOL_FIELDS.has(key) || SLUICE_FIELDS.has(key) || key.startsWith('cni.dev/')) {
      if (mode === 'bridge' && EBPF_ONLY_FIELDS.has(key)) throw unsupportedField(key, fields.obj[key], 'is only supported in mode "ebpf"');
      continue;
    }
    if (BRIDGE_FIELDS.has(key)) {
      if (mode !== 'bridge') throw unsupportedField(key, fields.obj[key], 'is only supported in mode "bridge"');
      continue;
    }
    throw unsupportedField(key, fields.obj[key]);
  }
}

function parseCapabilities(fields: Fields): Record<string, boolean> {
  const capabilities = fields.object('capabilities');
  const out: Record<string, boolean> = {};
  for (const key of capabilities?.keys() ?? []) out[key] = capabilities!.boolean(key) ?? false;
  return out;
}

function parseIpam(fields: Fields): IpamConfig | undefined {
  const ipam = fields.object('ipam');
  if (!ipam) return undefined;
  if (!ipam.has('type') || ipam.obj.type === '') throw invalidField('ipam.type', 'is required');
  ipam.string('type', pluginNameCheck);
  return ipam.obj as IpamConfig;
}

function parseArgs(fields: Fields): PluginConfig['args'] {
  const cni = fields.object('args')?.object('cni');
  const args: PluginConfig['args'] = {};
  if (!cni) return args;
  const ips = cni.stringList('ips', ipOrCidrCheck);
  if (ips) args.ips = ips;
  const mac = cni.string('mac', macCheck);
  if (mac) args.mac = mac;
  return args;
}

function parseDns(fields: Fields): CniDns | undefined {
  const dns = fields.object('dns');
  if (!dns) return undefined;
  dns.onlyKnown(new Set(['nameservers', 'domain', 'search', 'options']));
  const out: CniDns = {};
  const nameservers = dns.stringList('nameservers', (v) => (ipFamily(v) ? undefined : `must be an IP address, not ${preview(v)}`));
  if (nameservers?.length) out.nameservers = nameservers;
  const domain = dns.string('domain');
  if (domain) out.domain = domain;
  const search = dns.stringList('search');
  if (search?.length) out.search = search;
  const options = dns.stringList('options');
  if (options?.length) out.options = options;
  return Object.keys(out).length ? out : undefined;
}

function parsePrevResult(raw: unknown, version: CniVersion): PluginConfig['prevResult'] {
  try {
    return parseResult(raw, version, 'prevResult');
  } catch (err) {
    if (err instanceof ResultShapeError) throw invalidField(err.path, err.reason);
    throw err;
  }
}

/** Both names of the GC list, merged: an attachment either one calls valid is kept. */
function parseValidAttachments(fields: Fields): Attachment[] | undefined {
  let found = false;
  const byKey = new Map<string, Attachment>();
  for (const key of [VALID_ATTACHMENTS, VALID_ATTACHMENTS_OLD]) {
    const list = fields.list(key);
    if (!list) continue;
    found = true;
    list.forEach((entry, i) => {
      const item = Fields.of(entry, `${key}[${i}]`);
      const containerID = checkedString(item.obj.containerID, item.path('containerID'));
      const ifname = checkedString(item.obj.ifname, item.path('ifname'));
      byKey.set(`${containerID}/${ifname}`, { containerID, ifname });
    });
  }
  return found ? [...byKey.values()] : undefined;
}

function parseSluiceSettings(fields: Fields, mode: DataPathMode, hasIpam: boolean): SluiceSettings {
  const settings: SluiceSettings = {
    mode,
    gateway: parseGateway(fields),
    ipMasq: fields.boolean('ipMasq') ?? false,
    logLevel: (fields.string('logLevel', (v) => (LOG_LEVELS.includes(v as LogLevel) ? undefined : `must be one of ${LOG_LEVELS.join(', ')}`)) as LogLevel | undefined) ?? DEFAULTS.logLevel,
    pinRoot: fields.string('pinRoot', absolutePathCheck) ?? DEFAULTS.pinRoot,
    stateDir: fields.string('stateDir', absolutePathCheck) ?? DEFAULTS.stateDir,
    hostVethPrefix: fields.string('hostVethPrefix', (v) => (/^[A-Za-z][A-Za-z0-9_-]{0,2}$/.test(v) ? undefined : 'must be 1 to 3 characters: a letter, then letters, digits, "_" or "-"')) ?? DEFAULTS.hostVethPrefix,
  };
  const mtu = fields.integer('mtu', 68, 65535);
  if (mtu !== undefined) settings.mtu = mtu;
  const logFile = fields.string('logFile', absolutePathCheck);
  if (logFile) settings.logFile = logFile;
  const exclude = fields.stringList('ipMasqExclude', networkPrefixCheck);
  if (exclude) settings.ipMasqExclude = exclude;
  const table = fields.string('ipMasqTable', nftTableNameCheck);
  if (table !== undefined) settings.ipMasqTable = table;
  if (mode === 'bridge') settings.bridge = parseBridgeSettings(fields, hasIpam);
  return settings;
}

function parseGateway(fields: Fields): SluiceSettings['gateway'] {
  const gateway = fields.object('gateway');
  gateway?.onlyKnown(new Set(['ipv4', 'ipv6']));
  const familyCheck = (family: 4 | 6) => (v: string) =>
    ipFamily(v) === family && v !== '0.0.0.0' && v !== '::' ? undefined : `must be a unicast IPv${family} address, not ${preview(v)}`;
  return {
    ipv4: gateway?.string('ipv4', familyCheck(4)) ?? DEFAULTS.gatewayIpv4,
    ipv6: gateway?.string('ipv6', familyCheck(6)) ?? DEFAULTS.gatewayIpv6,
  };
}

function absolutePathCheck(value: string): string | undefined {
  if (!value.startsWith('/') || value.includes('\0') || value.split('/').includes('..')) {
    return `must be an absolute path without "..", not ${preview(value)}`;
  }
  return undefined;
}

/** nft identifiers, as the masquerade manager (datapath/masquerade.ts) accepts table names. */
function nftTableNameCheck(value: string): string | undefined {
  return /^[A-Za-z_][A-Za-z0-9_.-]{0,62}$/.test(value) ? undefined : 'must be an nf_tables name: a letter or "_", then letters, digits, "_", "-" or "." (at most 63)';
}

/** A network prefix: "10.244.0.0/16" or "fd00:10:244::/48", without host bits. */
function networkPrefixCheck(value: string): string | undefined {
  const family = cidrFamily(value);
  if (!family) return `must be a CIDR such as "10.244.0.0/16", not ${preview(value)}`;
  const [address = '', length = ''] = value.split('/');
  const bits = addressBits(address, family);
  const prefix = Number(length);
  if (bits.slice(prefix).includes('1')) return `has host bits set: ${preview(value)} is not the start of its network`;
  return undefined;
}

/** The address as a string of 32 or 128 "0"/"1" characters (a valid address of that family). */
function addressBits(address: string, family: 4 | 6): string {
  if (family === 4) return address.split('.').map((o) => Number(o).toString(2).padStart(8, '0')).join('');
  let text = address;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const o = v4[1]!.split('.').map(Number);
    text = `${text.slice(0, v4.index)}${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return groups.map((g) => parseInt(g, 16).toString(2).padStart(16, '0')).join('');
}
