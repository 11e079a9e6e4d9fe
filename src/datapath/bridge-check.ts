/**
 * CHECK for mode bridge: what the reference plugin's CHECK verifies (the bridge, promiscuous as
 * configured; the pod's veth and its MAC; the host veth, peer of the pod's and a port of the bridge;
 * the pod's addresses and routes), plus the port's hairpin and isolation settings and, with isGateway,
 * the gateway addresses on the bridge. Every difference is a sentence fragment naming the object.
 */
import type { BridgeSettings, CniResult } from '../cni/types.js';
import type { SyncClient } from '../netlink/client.js';
import { BRIDGE_MODE } from '../netlink/rtnetlink/link-kinds/bridge-port.js';
import { IFF_PROMISC, IFF_UP, type LinkMessage } from '../netlink/rtnetlink/link.js';
import { checkPodRoutes, cidrOf } from './attachment-check.js';
import { kindOf, portSettingsOf } from './bridge-netlink.js';
import { canonicalIp, sameMac, splitCidr } from './ip.js';

export interface BridgeCheckInput {
  bridge: BridgeSettings;
  hostVeth: string;
  ifname: string;
  netns: string;
  prevResult: CniResult;
  node: SyncClient;
  pod: SyncClient;
}

export function findBridgeDifferences(input: BridgeCheckInput): string[] {
  const diffs: string[] = [];
  const { prevResult, bridge } = input;
  const brName = bridge.bridge;
  const podIndex = prevResult.interfaces.findIndex((i) => i.name === input.ifname && i.sandbox === input.netns);
  if (podIndex < 0) return [`prevResult lists no interface ${input.ifname} in sandbox ${input.netns}`];
  const brIface = prevResult.interfaces.find((i) => i.name === brName && !i.sandbox);
  const hostIface = prevResult.interfaces.find((i) => i.name === input.hostVeth && !i.sandbox);

  // ---- the bridge ----
  const br = input.node.linkGet(brName);
  if (!brIface) diffs.push(`prevResult lists no bridge ${brName}`);
  if (!br) diffs.push(`bridge ${brName} is missing on the node`);
  else {
    if (kindOf(br) !== 'bridge') diffs.push(`${brName} on the node is a ${kindOf(br) ?? 'device of no kind'}, not a bridge`);
    // Only a gateway bridge has its MAC pinned; any other takes the lowest MAC of its ports, which
    // changes as pods come and go (the reference plugin's CHECK then fails for the earlier pods).
    if (bridge.isGateway && brIface?.mac && !sameMac(br.attrs.address, brIface.mac)) diffs.push(`bridge ${brName} has MAC ${br.attrs.address}, expected ${brIface.mac}`);
    const promisc = (br.ifinfo.flags & IFF_PROMISC) !== 0;
    if (promisc !== bridge.promiscMode) diffs.push(`bridge ${brName} is ${promisc ? '' : 'not '}promiscuous, but promiscMode is ${bridge.promiscMode}`);
    if (!(br.ifinfo.flags & IFF_UP)) diffs.push(`bridge ${brName} is down`);
  }

  // ---- the pod's interface ----
  const podIface = prevResult.interfaces[podIndex]!;
  const podLink = input.pod.linkGet(input.ifname);
  if (!podLink) diffs.push(`interface ${input.ifname} is missing in ${input.netns}`);
  else {
    if (kindOf(podLink) !== 'veth') diffs.push(`interface ${input.ifname} in the pod is a ${kindOf(podLink) ?? 'device of no kind'}, not a veth`);
    if (podIface.mac && !sameMac(podLink.attrs.address, podIface.mac)) diffs.push(`interface ${input.ifname} in the pod has MAC ${podLink.attrs.address}, expected ${podIface.mac}`);
    const wantUp = !(bridge.disableContainerInterface && prevResult.ips.length === 0);
    if (wantUp && !(podLink.ifinfo.flags & IFF_UP)) diffs.push(`interface ${input.ifname} in the pod is down`);
  }

  // ---- the host veth, a port of the bridge ----
  const host = input.node.linkGet(input.hostVeth);
  if (!hostIface) diffs.push(`prevResult lists no host interface ${input.hostVeth}`);
  if (!host) diffs.push(`host veth ${input.hostVeth} is missing on the node`);
  else {
    if (kindOf(host) !== 'veth') diffs.push(`host veth ${input.hostVeth} is a ${kindOf(host) ?? 'device of no kind'}, not a veth`);
    if (hostIface?.mac && !sameMac(host.attrs.address, hostIface.mac)) diffs.push(`host veth ${input.hostVeth} has MAC ${host.attrs.address}, expected ${hostIface.mac}`);
    if (podLink && (host.attrs.link !== podLink.ifinfo.index || podLink.attrs.link !== host.ifinfo.index)) {
      diffs.push(`host veth ${input.hostVeth} is not the peer of ${input.ifname} in the pod`);
    }
    if (br && host.attrs.master !== br.ifinfo.index) diffs.push(`host veth ${input.hostVeth} is not a port of ${brName}`);
    else checkPort(diffs, input, host);
  }

  // ---- addresses and routes in the pod ----
  if (podLink) {
    const present = input.pod.addressList({ ifindex: podLink.ifinfo.index }).map((a) => cidrOf(a));
    for (const ip of prevResult.ips.filter((x) => x.interface === podIndex)) {
      const want = splitCidr(ip.address);
      if (!want || !present.includes(`${want.ip}/${want.prefix}`)) diffs.push(`address ${ip.address} is missing on ${input.ifname} in the pod`);
    }
    checkPodRoutes(diffs, input.pod, prevResult.routes);
  }

  // ---- the gateway on the bridge ----
  if (bridge.isGateway && br) {
    const onBridge = input.node.addressList({ ifindex: br.ifinfo.index }).map((a) => cidrOf(a));
    for (const ip of prevResult.ips.filter((x) => x.interface === podIndex && x.gateway)) {
      const prefix = splitCidr(ip.address)?.prefix;
      const gw = `${canonicalIp(ip.gateway!)}/${prefix}`;
      if (!onBridge.includes(gw)) diffs.push(`gateway address ${gw} is missing on bridge ${brName}`);
    }
  }
  return diffs;
}

function checkPort(diffs: string[], input: BridgeCheckInput, host: LinkMessage): void {
  const port = portSettingsOf(host);
  const hairpin = port.mode === BRIDGE_MODE.HAIRPIN;
  if (hairpin !== input.bridge.hairpinMode) diffs.push(`port ${input.hostVeth} has hairpin ${hairpin ? 'on' : 'off'}, but hairpinMode is ${input.bridge.hairpinMode}`);
  const isolated = port.isolated === 1;
  if (isolated !== input.bridge.portIsolation) diffs.push(`port ${input.hostVeth} is ${isolated ? '' : 'not '}isolated, but portIsolation is ${input.bridge.portIsolation}`);
}
