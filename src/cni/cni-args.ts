/**
 * CNI_ARGS: `K=V;K2=V2`. Read as libcni's LoadArgs reads it: every pair has exactly one '=', and a key
 * sluice does not know is refused unless `IgnoreUnknown` is 1/true (CRI runtimes always set it).
 * Unlike LoadArgs, a key given twice is refused rather than silently taking the last value.
 */
import { CniCode, CniError } from './errors.js';
import type { CniArgs } from './types.js';
import { isIpOrCidr, isUnicastMac } from './values.js';

const KNOWN_KEYS = new Set(['IgnoreUnknown', 'IP', 'MAC', 'K8S_POD_NAMESPACE', 'K8S_POD_NAME', 'K8S_POD_INFRA_CONTAINER_ID', 'K8S_POD_UID']);

function invalid(reason: string): CniError {
  return new CniError(CniCode.InvalidEnvironment, `invalid CNI_ARGS: ${reason}`);
}

export function parseCniArgs(text: string | undefined): CniArgs {
  const args: CniArgs = { ips: [], ignoreUnknown: false, pairs: {} };
  if (!text) return args;
  for (const pair of text.split(';')) {
    const parts = pair.split('=');
    if (parts.length !== 2 || parts[0] === '') throw invalid(`${JSON.stringify(pair)} is not a KEY=VALUE pair`);
    const [key, value] = parts as [string, string];
    if (Object.hasOwn(args.pairs, key)) throw invalid(`key ${key} is given twice`);
    args.pairs[key] = value;
  }

  const ignore = args.pairs.IgnoreUnknown;
  if (ignore !== undefined) args.ignoreUnknown = parseBool(ignore, 'IgnoreUnknown');
  if (!args.ignoreUnknown) {
    const unknown = Object.keys(args.pairs).filter((k) => !KNOWN_KEYS.has(k));
    if (unknown.length) throw invalid(`unknown keys ${unknown.join(', ')} (set IgnoreUnknown=1 to pass keys sluice does not use)`);
  }

  if (args.pairs.IP) {
    args.ips = args.pairs.IP.split(',');
    const bad = args.ips.find((ip) => !isIpOrCidr(ip));
    if (bad !== undefined) throw invalid(`IP=${JSON.stringify(bad)} is not an IP address with or without a prefix length`);
  }
  if (args.pairs.MAC) {
    if (!isUnicastMac(args.pairs.MAC)) throw invalid(`MAC=${JSON.stringify(args.pairs.MAC)} is not a unicast MAC address`);
    args.mac = args.pairs.MAC;
  }
  if (args.pairs.K8S_POD_NAMESPACE) args.k8sPodNamespace = args.pairs.K8S_POD_NAMESPACE;
  if (args.pairs.K8S_POD_NAME) args.k8sPodName = args.pairs.K8S_POD_NAME;
  if (args.pairs.K8S_POD_INFRA_CONTAINER_ID) args.k8sPodInfraContainerId = args.pairs.K8S_POD_INFRA_CONTAINER_ID;
  if (args.pairs.K8S_POD_UID) args.k8sPodUid = args.pairs.K8S_POD_UID;
  return args;
}

/** libcni's UnmarshallableBool: 1/true and 0/false, any case. */
function parseBool(value: string, key: string): boolean {
  switch (value.toLowerCase()) {
    case '1':
    case 'true':
      return true;
    case '0':
    case 'false':
      return false;
    default:
      throw invalid(`${key}=${JSON.stringify(value)} is not a boolean (1, true, 0, false)`);
  }
}
