/**
 * sluice's built-in IPAM (`"ipam": {"type": "sluice"}`): host-local's configuration and on-disk store,
 * allocating in-process, with an index that makes release and lookup by container O(1).
 */
import { CniCode, CniError } from '../../cni/errors.js';
import type { Attachment, Ipam, IpamAddress, IpamRequest, IpamResult, IpamStatus } from '../types.js';
import { type Ip, formatIp, parseCidr, parseIp } from './address.js';
import { allocate } from './allocator.js';
import { type HostLocalConfig, parseHostLocalConfig, requestedAddresses } from './config.js';
import { collectGarbage, liveAttachments } from './gc.js';
import { isLeaseToken } from './lease.js';
import { readResolvConf } from './resolv.js';
import { DEFAULT_LOCK_TIMEOUT_MS, type SessionOptions, withLedger } from './session.js';
import { exhaustedSets } from './status.js';

export { gcLeases, type GcLeasesOptions, type GcReport, type GcLease } from './gc.js';
export { DEFAULT_DATA_DIR } from './config.js';

export interface BuiltinIpamOptions {
  /** How long to wait for another process's allocation before answering CNI error 11. */
  lockTimeoutMs?: number;
  /** A long-lived caller (the agent): keep each store's index in memory between calls (SessionOptions). */
  remember?: boolean;
  /** Answer before writing the index and seal (SessionOptions): for a caller idle meanwhile. */
  commitAfterResult?: boolean;
}

type ConfigSource = Pick<IpamRequest, 'network' | 'config' | 'netConf'>;

export function builtinIpam(options: BuiltinIpamOptions = {}): Ipam {
  const session: SessionOptions = {
    lockTimeoutMs: options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS,
    ...(options.remember ? { remember: true } : {}),
    ...(options.commitAfterResult ? { commitAfterResult: true } : {}),
  };
  const configOf = (req: ConfigSource): HostLocalConfig => parseHostLocalConfig(req.network, req.config, req.netConf);

  return {
    async add(req) {
      const att = checkedAttachment(req);
      const config = configOf(req);
      const requested = requestedAddresses(req.requestedIPs, req.args, req.netConf);
      const dns = config.resolvConf ? readResolvConf(config.resolvConf) : undefined;
      const allocations = await withLedger(config, config.rangeSets, (ledger) => allocate(ledger, config.network, config.rangeSets, att, requested), session);
      const result: IpamResult = {
        ips: allocations.map(({ ip, range }) => ({
          address: `${formatIp(ip)}/${range.subnet.prefix}`,
          gateway: formatIp({ family: range.family, value: range.gateway }),
        })),
        routes: config.routes,
      };
      if (dns) result.dns = dns;
      return result;
    },

    async del(req) {
      const att = checkedAttachment(req);
      const config = configOf(req);
      await withLedger(config, config.rangeSets, (ledger) => ledger.releaseAttachment(att), session);
    },

    async check(req, expected) {
      const att = checkedAttachment(req);
      const config = configOf(req);
      const leased = await withLedger(config, config.rangeSets, (ledger) => ledger.leasesOf(att), session);
      checkLeases(config, att, leased, expected.ips);
    },

    async gc(req) {
      const config = configOf(req);
      await withLedger(config, config.rangeSets, (ledger) => collectGarbage(ledger, liveAttachments(req.validAttachments)), session);
    },

    async status(req): Promise<IpamStatus> {
      const config = configOf(req);
      let full;
      try {
        full = await withLedger(config, config.rangeSets, (ledger) => exhaustedSets(ledger, config.rangeSets), session);
      } catch (err) {
        if (err instanceof CniError && (err.code === CniCode.IoFailure || err.code === CniCode.TryAgainLater)) return { ok: false, reason: err.message };
        throw err;
      }
      if (full.length === 0) return { ok: true };
      return { ok: false, reason: full.map((set) => `range set ${set} exhausted`).join('; ') };
    },
  };
}

/** The attachment's names go into lease files and index names: refuse what could not round-trip. */
function checkedAttachment(req: Attachment): Attachment {
  if (!req.containerID || !isLeaseToken(req.containerID.trim())) {
    throw new CniError(CniCode.InvalidEnvironment, `invalid environment: CNI_CONTAINERID ${JSON.stringify(req.containerID)} is empty or holds white space`);
  }
  if (!req.ifname || !isLeaseToken(req.ifname)) {
    throw new CniError(CniCode.InvalidEnvironment, `invalid environment: CNI_IFNAME ${JSON.stringify(req.ifname)} is empty or holds white space`);
  }
  return { containerID: req.containerID.trim(), ifname: req.ifname };
}

/** CHECK: the leases on disk are exactly the addresses of the previous result that fall in our ranges. */
function checkLeases(config: HostLocalConfig, att: Attachment, leased: readonly string[], expected: readonly IpamAddress[]): void {
  const who = `container ${att.containerID} interface ${att.ifname}`;
  if (leased.length === 0) {
    throw new CniError(CniCode.Internal, `no address is leased to ${who} in network ${config.network}`);
  }
  const ours: Ip[] = [];
  for (const entry of expected) {
    const cidr = parseCidr(entry.address);
    const ip = cidr && parseIp(formatIp(cidr.ip));
    if (!cidr || !ip) throw new CniError(CniCode.DecodingFailure, `prevResult address ${JSON.stringify(entry.address)} is not in CIDR notation`);
    const set = config.rangeSets.find((s) => s.contains(ip));
    if (!set && !leased.includes(formatIp(ip))) continue;
    const text = formatIp(ip);
    if (!leased.includes(text)) throw new CniError(CniCode.Internal, `address ${text} of the previous result is not leased to ${who}`);
    const range = set?.rangeFor(ip);
    if (range && cidr.prefix !== range.subnet.prefix) {
      throw new CniError(CniCode.Internal, `address ${entry.address} of the previous result has prefix length ${cidr.prefix}; its range ${range.subnet.prefix}`);
    }
    if (range && entry.gateway !== undefined && parseIp(entry.gateway)?.value !== range.gateway) {
      throw new CniError(CniCode.Internal, `gateway ${entry.gateway} of ${text} in the previous result is not its range's gateway`);
    }
    ours.push(ip);
  }
  const missing = leased.filter((ip) => !ours.some((o) => formatIp(o) === ip));
  if (missing.length > 0) throw new CniError(CniCode.Internal, `${who} holds lease${missing.length > 1 ? 's' : ''} ${missing.join(', ')} missing from the previous result`);
}
