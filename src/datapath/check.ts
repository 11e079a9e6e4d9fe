/**
 * CHECK for the ebpf data path: compares what the node and the pod hold now with the result of the
 * attachment's ADD (prevResult) and with what ADD always makes, and lists every difference in words:
 * the pod's interface, its addresses, routes and gateway neighbour; the host veth, its /32 (/128)
 * routes and neighbours; the endpoint map entries; the attached program; the forwarding sysctls.
 */
import { AttachType } from '../bpf/syscall.js';
import { podEgressProgram } from '../bpf/layout.js';
import type { PinPaths } from '../bpf/pins.js';
import type { CniResult } from '../cni/types.js';
import type { SyncClient } from '../netlink/client.js';
import { IFF_UP, type LinkMessage } from '../netlink/rtnetlink/link.js';
import { NUD } from '../netlink/rtnetlink/neighbour.js';
import type { NetNs } from '../netns.js';
import { checkPodRoutes, cidrOf } from './attachment-check.js';
import { canonicalIp, hostPrefix, sameMac, splitCidr, type Family } from './ip.js';
import { PinnedMaps, pinnedLink, pinnedProgramId } from './pinned.js';
import { FORWARDING, readSysctl } from './sysctl.js';

export interface CheckInput {
  hostVeth: string;
  ifname: string;
  netns: string;
  prevResult: CniResult;
  gateway: { ipv4: string; ipv6: string };
  /** rtnetlink in the node's and in the pod's namespace. */
  node: SyncClient;
  pod: SyncClient;
  paths: PinPaths;
  /** The node's namespace for the sysctls (default: the caller's). */
  nodeNetns?: NetNs;
  /**
   * The attachment's record says ADD deferred the attach to the agent: no program attached yet is
   * then right, provided this says the spoof guard covers the host veth's ifindex.
   */
  guarded?(ifindex: number): boolean;
}

const CLS_BPF_NAME = `sluice:${podEgressProgram}`;

interface Expected {
  podIndex: number;
  addresses: { ip: string; prefix: number; family: Family }[];
}

/** Every difference found, each a sentence fragment naming the object; empty when all is as expected. */
export function findDifferences(input: CheckInput): string[] {
  const diffs: string[] = [];
  const expected = expectedFrom(input, diffs);
  if (!expected) return diffs;
  const families = new Set(expected.addresses.map((a) => a.family));
  const podIface = input.prevResult.interfaces[expected.podIndex]!;
  const hostIface = input.prevResult.interfaces.find((i) => i.name === input.hostVeth && !i.sandbox);
  if (!hostIface) diffs.push(`prevResult lists no host interface ${input.hostVeth}`);

  // ---- the pod ----
  const podLink = input.pod.linkGet(input.ifname);
  const hostLink = input.node.linkGet(input.hostVeth);
  if (!podLink) {
    diffs.push(`interface ${input.ifname} is missing in ${input.netns}`);
  } else {
    checkLink(diffs, `interface ${input.ifname} in the pod`, podLink, podIface);
    checkPodAddresses(diffs, input, podLink, expected);
    checkPodRoutes(diffs, input.pod, input.prevResult.routes, { ifindex: podLink.ifinfo.index, ifname: input.ifname });
    if (hostLink) checkGatewayNeighbours(diffs, input, podLink, hostLink, families);
  }

  // ---- the node ----
  if (!hostLink) {
    diffs.push(`host veth ${input.hostVeth} is missing on the node`);
  } else {
    checkLink(diffs, `host veth ${input.hostVeth}`, hostLink, hostIface);
    if (podLink) {
      if (hostLink.attrs.link !== podLink.ifinfo.index || podLink.attrs.link !== hostLink.ifinfo.index) {
        diffs.push(`host veth ${input.hostVeth} (peer ifindex ${hostLink.attrs.link ?? 'none'}) is not the peer of ${input.ifname} in the pod (ifindex ${podLink.ifinfo.index})`);
      }
    }
    checkHostRoutes(diffs, input, hostLink, expected, podLink);
    checkMaps(diffs, input, hostLink, expected, podLink);
    checkProgram(diffs, input, hostLink);
  }
  for (const family of families) {
    let value: string;
    try {
      value = readSysctl(FORWARDING[family], input.nodeNetns);
    } catch (err) {
      value = `unreadable (${(err as Error).message})`;
    }
    if (value !== '1') diffs.push(`sysctl ${FORWARDING[family].join('.')} on the node is ${value}, expected 1`);
  }
  return diffs;
}

function expectedFrom(input: CheckInput, diffs: string[]): Expected | undefined {
  const podIndex = input.prevResult.interfaces.findIndex((i) => i.name === input.ifname && i.sandbox !== undefined && i.sandbox !== '');
  if (podIndex < 0) {
    diffs.push(`prevResult lists no interface ${input.ifname} inside a sandbox`);
    return undefined;
  }
  const sandbox = input.prevResult.interfaces[podIndex]!.sandbox;
  if (sandbox !== input.netns) diffs.push(`prevResult puts ${input.ifname} in sandbox ${sandbox}, but CNI_NETNS is ${input.netns}`);
  const addresses = input.prevResult.ips
    .filter((ip) => ip.interface === podIndex)
    .map((ip) => splitCidr(ip.address))
    .filter((a): a is NonNullable<typeof a> => a !== undefined);
  if (addresses.length === 0) {
    diffs.push(`prevResult lists no address on ${input.ifname}`);
    return undefined;
  }
  return { podIndex, addresses };
}

function checkLink(diffs: string[], what: string, link: LinkMessage, expected: { mac?: string; mtu?: number } | undefined): void {
  const kind = link.attrs.linkinfo?.kind;
  if (kind !== 'veth') diffs.push(`${what} is a ${kind ?? 'device of no kind'}, not a veth`);
  if (!(link.ifinfo.flags & IFF_UP)) diffs.push(`${what} is down`);
  if (expected?.mac && !sameMac(link.attrs.address, expected.mac)) diffs.push(`${what} has MAC ${link.attrs.address}, expected ${expected.mac}`);
  if (expected?.mtu !== undefined && link.attrs.mtu !== expected.mtu) diffs.push(`${what} has MTU ${link.attrs.mtu}, expected ${expected.mtu}`);
}

function checkPodAddresses(diffs: string[], input: CheckInput, podLink: LinkMessage, expected: Expected): void {
  const present = input.pod.addressList({ ifindex: podLink.ifinfo.index }).map((a) => cidrOf(a));
  for (const a of expected.addresses) {
    const cidr = `${a.ip}/${a.prefix}`;
    if (!present.includes(cidr)) diffs.push(`address ${cidr} is missing on ${input.ifname} in the pod`);
  }
}

const gatewayOf = (input: CheckInput, family: Family): string => (family === 4 ? input.gateway.ipv4 : input.gateway.ipv6);

function checkGatewayNeighbours(diffs: string[], input: CheckInput, podLink: LinkMessage, hostLink: LinkMessage, families: Set<Family>): void {
  const neighbours = input.pod.neighbourList({ ifindex: podLink.ifinfo.index });
  for (const family of families) {
    const gw = canonicalIp(gatewayOf(input, family))!;
    const entry = neighbours.find((n) => canonicalIp(n.attrs.dst ?? '') === gw);
    const what = `gateway neighbour ${gw} on ${input.ifname} in the pod`;
    if (!entry) diffs.push(`${what} is missing`);
    else if (!sameMac(entry.attrs.lladdr, hostLink.attrs.address)) diffs.push(`${what} points at ${entry.attrs.lladdr}, not at the host veth's MAC ${hostLink.attrs.address}`);
    else if (!(entry.ndm.state & NUD.PERMANENT)) diffs.push(`${what} is not permanent`);
  }
}

function checkHostRoutes(diffs: string[], input: CheckInput, hostLink: LinkMessage, expected: Expected, podLink: LinkMessage | undefined): void {
  const routes = input.node.routeList({ family: 0 });
  const neighbours = input.node.neighbourList({ ifindex: hostLink.ifinfo.index });
  for (const a of expected.addresses) {
    const prefix = hostPrefix(a.family);
    const route = routes.find((m) => m.rtm.dstLen === prefix && canonicalIp(m.attrs.dst ?? '') === a.ip);
    if (!route) diffs.push(`route ${a.ip}/${prefix} dev ${input.hostVeth} is missing on the node`);
    else if (route.attrs.oif !== hostLink.ifinfo.index) diffs.push(`route ${a.ip}/${prefix} on the node goes out of ifindex ${route.attrs.oif}, not ${input.hostVeth}`);
    const neighbour = neighbours.find((n) => canonicalIp(n.attrs.dst ?? '') === a.ip);
    const what = `neighbour ${a.ip} on ${input.hostVeth} on the node`;
    if (!neighbour) diffs.push(`${what} is missing`);
    else if (podLink && !sameMac(neighbour.attrs.lladdr, podLink.attrs.address)) diffs.push(`${what} points at ${neighbour.attrs.lladdr}, not at the pod's MAC ${podLink.attrs.address}`);
  }
}

function checkMaps(diffs: string[], input: CheckInput, hostLink: LinkMessage, expected: Expected, podLink: LinkMessage | undefined): void {
  const pinned = PinnedMaps.open(input.paths);
  if (!pinned) {
    diffs.push(`the endpoint maps are not pinned under ${input.paths.maps}`);
    return;
  }
  try {
    const ifindex = hostLink.ifinfo.index;
    const podMac = podLink?.attrs.address;
    for (const a of expected.addresses) {
      const entry = pinned.endpoint(a.ip);
      const what = `endpoint map entry for ${a.ip}`;
      if (!entry) diffs.push(`${what} is missing`);
      else {
        if (entry.ifindex !== ifindex) diffs.push(`${what} redirects to ifindex ${entry.ifindex}, not to ${input.hostVeth} (${ifindex})`);
        if (podMac && !sameMac(entry.podMac, podMac)) diffs.push(`${what} has pod MAC ${entry.podMac}, the pod's is ${podMac}`);
        if (!sameMac(entry.gatewayMac, hostLink.attrs.address)) diffs.push(`${what} has gateway MAC ${entry.gatewayMac}, the host veth's is ${hostLink.attrs.address}`);
      }
    }
    const device = pinned.device(ifindex);
    if (!device) diffs.push(`device map entry for ${input.hostVeth} (ifindex ${ifindex}) is missing`);
    else if (podMac && !sameMac(device.podMac, podMac)) diffs.push(`device map entry for ${input.hostVeth} has pod MAC ${device.podMac}, the pod's is ${podMac}`);
  } finally {
    pinned.close();
  }
}

function checkProgram(diffs: string[], input: CheckInput, hostLink: LinkMessage): void {
  const programId = pinnedProgramId(input.paths);
  if (programId === undefined) {
    diffs.push(`program ${podEgressProgram} is not pinned at ${input.paths.program(podEgressProgram)}`);
    return;
  }
  const link = pinnedLink(input.paths, input.hostVeth, 'ingress');
  const what = `program ${podEgressProgram} on ${input.hostVeth} ingress`;
  if (link) {
    if (!link.tcx) diffs.push(`${what}: the link pinned at ${input.paths.link(input.hostVeth, 'ingress')} is not a TCX link`);
    else if (link.tcx.ifindex === 0) diffs.push(`${what} is detached (its TCX link ${link.id} no longer has a device)`);
    else if (link.tcx.ifindex !== hostLink.ifinfo.index) diffs.push(`${what}: its TCX link ${link.id} is on ifindex ${link.tcx.ifindex}, not ${hostLink.ifinfo.index}`);
    else if (link.tcx.attachType !== AttachType.TCX_INGRESS) diffs.push(`${what}: its TCX link ${link.id} is not on ingress (attach type ${link.tcx.attachType})`);
    else if (link.progId !== programId) diffs.push(`${what}: its TCX link ${link.id} runs program ${link.progId}, not the pinned ${programId}`);
    return;
  }
  // Kernels without TCX: a cls_bpf filter under clsact, which goes with the device.
  let filters: { attrs: unknown }[] = [];
  try {
    filters = input.node.filterList(hostLink.ifinfo.index, 'ingress');
  } catch {
    // no clsact qdisc: no filter
  }
  const hasFilter = filters.some((f) => (f.attrs as { options?: { name?: string } }).options?.name === CLS_BPF_NAME);
  if (!hasFilter && input.guarded) {
    if (!input.guarded(hostLink.ifinfo.index)) diffs.push(`${what} is not attached yet (deferred by the agent) and the spoof guard does not cover ${input.hostVeth} (ifindex ${hostLink.ifinfo.index})`);
    return;
  }
  if (!hasFilter) diffs.push(`${what} is not attached (no TCX link pinned at ${input.paths.link(input.hostVeth, 'ingress')}, no cls_bpf filter)`);
}
