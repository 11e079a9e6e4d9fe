/**
 * CHECK, the parts both data paths share: the node's and the pod's rtnetlink opened for the driver's
 * comparison, the pod's addresses and routes as prevResult lists them, the masquerade elements, the
 * verdict (every difference in words), then the IPAM's own CHECK. STATUS's IPAM question too.
 */
import type { CheckRequest, StatusRequest } from '../cni/dispatch.js';
import { CniCode, CniError } from '../cni/errors.js';
import type { CniRoute, SluiceSettings } from '../cni/types.js';
import { AF_INET, AF_INET6, SyncClient } from '../netlink/client.js';
import { NetNs } from '../netns.js';
import { nodeClient, releaseNodeClient } from './attachment-steps.js';
import { canonicalIp, splitCidr } from './ip.js';
import { hostPrefixes, masqueradeDifferences, masqueradeTableOf } from './masq-step.js';
import type { AttachmentRecord } from './records.js';

/** Runs `fn` with rtnetlink in the node's and in the pod's namespace, closing both after. */
export function withNodeAndPod<T>(nodeNetns: NetNs | undefined, podNetns: string, fn: (node: SyncClient, pod: SyncClient) => T): T {
  const node = nodeClient(nodeNetns);
  const podNs = NetNs.open(podNetns);
  try {
    const pod = SyncClient.open({ netns: podNs });
    try {
      return fn(node, pod);
    } finally {
      pod.close();
    }
  } finally {
    podNs.close();
    releaseNodeClient(node);
  }
}

/** An address message as "<ip>/<prefix length>". */
export function cidrOf(a: { attrs: unknown; ifaddr: { prefixlen: number } }): string {
  const attrs = a.attrs as { local?: string; address?: string };
  return `${canonicalIp(attrs.local ?? attrs.address ?? '')}/${a.ifaddr.prefixlen}`;
}

/**
 * Every route of prevResult that the pod lacks (its gateway, when it names one, must match); with
 * `dev`, the route must also leave by that interface, and the difference names it.
 */
export function checkPodRoutes(diffs: string[], pod: SyncClient, expected: readonly CniRoute[], dev?: { ifindex: number; ifname: string }): void {
  const routes = pod.routeList({ family: 0 });
  for (const r of expected) {
    const dst = splitCidr(r.dst);
    if (!dst) {
      diffs.push(`prevResult route ${r.dst} is not a CIDR`);
      continue;
    }
    const gw = r.gw === undefined ? undefined : canonicalIp(r.gw);
    const found = routes.some((m) => {
      if (m.rtm.family !== (dst.family === 4 ? AF_INET : AF_INET6) || m.rtm.dstLen !== dst.prefix) return false;
      if (dst.prefix > 0 && canonicalIp(m.attrs.dst ?? '') !== dst.ip) return false;
      if (dev && m.attrs.oif !== dev.ifindex) return false;
      return gw === undefined || canonicalIp(m.attrs.gateway ?? '') === gw;
    });
    if (!found) diffs.push(`route ${r.dst}${gw ? ` via ${gw}` : ''}${dev ? ` dev ${dev.ifname}` : ''} is missing in the pod`);
  }
}

/** What differs in the masquerade ruleset and elements for these pod addresses (the record's table, else the config's). */
export function masqueradeCheck(settings: SluiceSettings, record: AttachmentRecord | undefined, podAddresses: readonly string[], netns: NetNs | undefined): Promise<string[]> {
  const table = record?.masquerade?.table ?? masqueradeTableOf(settings);
  return masqueradeDifferences(table, settings, hostPrefixes(podAddresses), netns);
}

/**
 * Fails CHECK with every difference found; without any, asks the IPAM to CHECK its lease against what
 * it handed out (`ips`: the record's, else what prevResult says).
 */
export async function concludeCheck(req: CheckRequest, diffs: readonly string[], ips: { address: string; gateway?: string }[]): Promise<void> {
  if (diffs.length) {
    throw new CniError(CniCode.Internal, `CHECK: ${diffs.length === 1 ? diffs[0] : `${diffs.length} differences, first: ${diffs[0]}`}`, diffs.join('; '));
  }
  if (req.ipam) await req.ipam.check(req.ipamRequest, { ips, routes: [] });
}

/** STATUS: the IPAM plugin's answer, when there is one. */
export async function ipamStatus(req: StatusRequest): Promise<void> {
  if (!req.ipam) return;
  const status = await req.ipam.status(req.ipamStatusRequest);
  if (!status.ok) throw new CniError(CniCode.NotAvailable, 'IPAM is not available', status.reason ?? '');
}
