/**
 * Mode `bridge` (DESIGN.md): the reference bridge plugin's data path and config fields, so a conflist
 * written for it works with `"type": "sluice", "mode": "bridge"`. Every pod gets a veth pair: CNI_IFNAME
 * in the pod holding the IPAM's addresses with their subnet's prefix length, the host end a port of a
 * Linux bridge (default cni0), which may hold the subnet's gateway address.
 *
 * The fields, as the reference plugin reads them:
 *   bridge              the bridge's name (default cni0); created if missing, MTU `mtu` when set
 *   isGateway           the gateway of each address (the IPAM's, else the subnet's first address) is put
 *                       on the bridge with the subnet's prefix length; forwarding on for those families
 *   isDefaultGateway    isGateway, plus a default route via the gateway per family unless the IPAM gave one
 *   forceAddress        a different address of the family on the bridge (IPv4), or an overlapping one
 *                       (IPv6), is replaced instead of failing ADD
 *   ipMasq              the pod's addresses masqueraded (masq-step.ts: elements of our nf_tables sets, not an
 *                       iptables chain per pod). Traffic to other pods of the table stays unmasqueraded; the
 *                       reference plugin also spares the rest of the pod's subnet: list the subnet in
 *                       `ipMasqExclude` for exactly that (sluice's field, both modes; `ipMasqTable` too)
 *   ipMasqBackend       "nftables" accepted (what sluice does anyway); "iptables" refused (code 2)
 *   mtu                 both veth ends and a new bridge; unset: the kernel's default (1500), as the reference
 *   hairpinMode         the port sends frames back out the port they came in by (IFLA_BRPORT_MODE)
 *   promiscMode         the bridge is put in promiscuous mode (never with hairpinMode)
 *   portIsolation       the port is isolated: it exchanges frames only with non-isolated ports
 *   enabledad           DAD (enhanced) on the pod's interface; ADD waits until its IPv6 addresses are
 *                       no longer tentative. Default: accept_dad 0
 *   disableContainerInterface
 *                       without ipam only: the pod's interface is left down
 *   macspoofchk         frames entering from the pod with another source MAC are dropped (an nf_tables
 *                       bridge-family table, bridge-spoofcheck.ts)
 *   vlan, vlanTrunk     refused (code 2): sluice does not program bridge VLAN filtering yet
 *   preserveDefaultVlan accepted; it only matters with vlan or vlanTrunk, as in the reference plugin
 *
 * ADD runs as named steps (steps.ts), each with its undo:
 *   preflight      the host veth name is free on the node (what a stale record of the same host veth
 *                  lists is cleaned first)
 *   ipam           addresses from the IPAM plugin (when `ipam` is set)      undo: IPAM DEL
 *                  (in the background: the steps up to "addresses" run while it allocates)
 *   pod-netns      the pod namespace opens, and a socket in it
 *   state          the attachment's record (bridge-state.ts)                    undo: removed
 *   bridge         the bridge made if missing, promiscuous when asked, accept_ra 0, up (under the
 *                  bridge's lock)     undo: a bridge this ADD made is deleted, and promiscuity or up
 *                                     this ADD set put back, while no port is attached to it
 *   veth           the pair, the peer created directly in the pod as CNI_IFNAME   undo: the host veth
 *                  (a name taken on either side fails it, and says which)       deleted (both ends go)
 *   port           the host veth enslaved to the bridge (made again if an undo removed it meanwhile),
 *                  hairpin and isolation set, accept_ra 0, up (under the bridge's lock)
 *   addresses      waits for ipam; gateways and the default route worked out from its result as the
 *                  reference plugin does, kept in the record
 *   pod-interface  accept_dad / enhanced_dad, arp_notify; the addresses; up (and with enabledad, until
 *                  DAD is over)
 *   pod-routes     the IPAM's routes (via its gateway when they name none) and the default routes
 *                  (port and the pod-* steps have no undo: what they make lives on the veth and goes
 *                  with it; addresses only updates the record)
 *   gateway        with isGateway: the gateway addresses on the bridge      undo: those this ADD added
 *                                     removed (and replaced ones put back) while no other port is attached
 *   forwarding     with isGateway: ip_forward / conf.all.forwarding for the gateways' families
 *                                                                              undo: what this ADD changed put back
 *   masquerade     with ipMasq: the pod's addresses in the masquerade sets     undo: removed
 *   spoofcheck     with macspoofchk: the port and the pod's MAC in the anti-spoofing sets
 *                                                                              undo: removed
 *   ready          until the host veth is operationally up with its qdisc, its port forwarding (when
 *                  STP is off), the bridge up, and the pod's interface up: woken by the kernel's own
 *                  announcements, never by a timer (bridge-wait.ts); then the final MACs are read
 *
 * The result is the reference plugin's: the bridge, the host veth and the pod's interface (name, MAC,
 * sandbox), the IPAM's addresses on interface 2 with their gateways, its routes plus the default ones;
 * the host veth is named as in mode ebpf (`<hostVethPrefix><hash>`, so DEL finds it without state), not
 * `veth<random>`.
 *
 * DEL removes what it can find, in any state, without CNI_NETNS or prevResult: the masquerade and
 * anti-spoofing entries the record lists, the host veth (the pod's end goes with it), the IPAM lease,
 * the record. The bridge, its gateway addresses and forwarding stay, as with the reference plugin: they
 * are the node's, shared by every pod of the bridge.
 */
import type { AddRequest, CheckRequest, DelRequest, Driver, GcRequest, StatusRequest } from '../cni/dispatch.js';
import { CniCode, CniError } from '../cni/errors.js';
import { unsupportedField } from '../cni/fields.js';
import type { BridgeSettings, CniInterface, CniIpConfig, CniResult, CniRoute, SluiceSettings } from '../cni/types.js';
import type { IpamResult } from '../ipam/types.js';
import { AF_INET, AF_INET6, type SyncClient } from '../netlink/client.js';
import { NetlinkError } from '../netlink/errors.js';
import { IFA_F } from '../netlink/rtnetlink/address.js';
import { BR_STATE, BRIDGE_MODE } from '../netlink/rtnetlink/link-kinds/bridge-port.js';
import { IF_OPER, IFF_PROMISC, IFF_UP, type LinkMessage } from '../netlink/rtnetlink/link.js';
import type { NetNs } from '../netns.js';
import { concludeCheck, ipamStatus, masqueradeCheck, withNodeAndPod } from './attachment-check.js';
import { attempt, collectStale, hostVethProblems, masqueradeProblems, removeAttachment } from './attachment-removal.js';
import {
  addressesStep, attachmentContext, ipamIpsOf, ipamStep, noLogger, podAddressesOf, podNetnsStep, preflightStep, runAttachmentSteps, saveRecord, stateStep, vethStep,
  type AttachmentContext, type AttachmentDriver, type DriverLogger,
} from './attachment-steps.js';
import { findBridgeDifferences } from './bridge-check.js';
import { broadcastOf, cidrsOverlap, firstHostOf, kindOf, portSettingsOf, setBridgePort, setPromisc } from './bridge-netlink.js';
import { BridgeState, type BridgeRecord } from './bridge-state.js';
import { RTNLGRP, waitForKernel, withFileLock } from './bridge-wait.js';
import { canonicalIp, defaultDst, splitCidr, type Family } from './ip.js';
import { masqueradeStep, type MasqueradeContext } from './masq-step.js';
import { messageOf, type FaultPoint, type Step } from './steps.js';
import { enableForwarding, ipv6Available, ipv4Conf, ipv6Conf, restoreSysctl, setSysctl, type SysctlChange } from './sysctl.js';

export interface BridgeDriverOptions {
  /** The node's namespace: bridges, host veths and sysctls live there. Default: the caller's. */
  nodeNetns?: NetNs;
  /** Tests: make ADD fail at a step (see steps.ts). */
  failAt?: FaultPoint;
  logger?: DriverLogger;
  /** How long ADD waits for the links and DAD (default 5000 ms). */
  readyTimeoutMs?: number;
}

/** The steps of ADD, in order (the fault-injection test walks them). */
export const BRIDGE_ADD_STEPS = [
  'preflight', 'ipam', 'pod-netns', 'state', 'bridge', 'veth', 'port', 'addresses', 'pod-interface', 'pod-routes', 'gateway', 'forwarding',
  'masquerade', 'spoofcheck', 'ready',
] as const;

const READY_TIMEOUT_MS = 5000;

interface Gateway {
  family: Family;
  /** The gateway address with the subnet's prefix length, as it goes on the bridge. */
  cidr: string;
}

interface BridgeAddContext extends AttachmentContext<BridgeRecord>, MasqueradeContext {
  bridge: BridgeSettings;
  ips: CniIpConfig[];
  routes: CniRoute[];
  gateways: Gateway[];
  bridgeIndex: number;
  /** The bridge's MAC when ADD found or made it (what a gateway pins), then as ADD leaves it. */
  bridgeMac?: string;
  createdBridge: boolean;
  promiscSet: boolean;
  broughtUp: boolean;
  gatewaysAdded: string[];
  gatewaysReplaced: string[];
  forwarding: SysctlChange[];
  spoofcheck?: { table: string; mac: string };
}

/**
 * The bridge fields sluice accepts but cannot honour (yet): code 2, naming the field. Checked by ADD and
 * CHECK before anything else; DEL, GC and STATUS work with any config, so leftovers can always be removed.
 */
export function unsupportedBridgeField(raw: Record<string, unknown>, bridge: BridgeSettings): CniError | undefined {
  const given = (key: string) => raw[key] !== undefined && raw[key] !== null;
  if (bridge.vlan !== 0) {
    return unsupportedField('vlan', raw.vlan, 'sluice does not program 802.1Q VLANs on the bridge (VLAN filtering) yet; leave it out or 0');
  }
  if (given('vlanTrunk')) {
    return unsupportedField('vlanTrunk', raw.vlanTrunk, 'sluice does not program 802.1Q VLANs on the bridge (VLAN filtering) yet; leave it out');
  }
  if (bridge.ipMasqBackend === 'iptables') {
    return unsupportedField('ipMasqBackend', raw.ipMasqBackend, 'sluice masquerades through nf_tables over netlink, never iptables; leave it out or use "nftables"');
  }
  return undefined;
}

export class BridgeDriver implements Driver {
  private readonly log: DriverLogger;
  /** What the steps and verbs both modes share need of this one. */
  private readonly attachments: AttachmentDriver<BridgeRecord>;

  constructor(private readonly options: BridgeDriverOptions = {}) {
    this.log = options.logger ?? noLogger;
    this.attachments = {
      log: this.log,
      nodeNetns: options.nodeNetns,
      store: (settings) => this.state(settings),
      cleanup: async (node, _settings, hostVeth, record) => [...(await this.removeEntries(record)), ...hostVethProblems(node, hostVeth)],
    };
  }

  // ---- ADD ----------------------------------------------------------------------------------------

  async add(req: AddRequest): Promise<CniResult> {
    const bridge = bridgeSettingsOf(req.config.raw, req.config.sluice);
    const ctx: BridgeAddContext = {
      ...attachmentContext(this.attachments, req), bridge, ips: [], routes: [], gateways: [], bridgeIndex: 0,
      createdBridge: false, promiscSet: false, broughtUp: false, gatewaysAdded: [], gatewaysReplaced: [], forwarding: [],
    };
    await runAttachmentSteps(this.attachments, this.addSteps(), ctx, this.options.failAt);
    return this.resultOf(ctx);
  }

  private addSteps(): Step<BridgeAddContext>[] {
    const ns = this.options.nodeNetns;
    const steps: Step<BridgeAddContext>[] = [
      preflightStep<BridgeRecord, BridgeAddContext>(this.attachments),
      ipamStep<BridgeRecord, BridgeAddContext>(),
      podNetnsStep<BridgeRecord, BridgeAddContext>(),
      stateStep<BridgeRecord, BridgeAddContext>(this.attachments, (ctx, first) => saveRecord(this.attachments, ctx, { ...first, bridge: ctx.bridge.bridge })),
      {
        name: 'bridge',
        run: (ctx) => this.locked(ctx, () => this.ensureBridge(ctx)),
        undo: (ctx) => this.locked(ctx, () => {
          const br = ctx.node.linkGet(ctx.bridgeIndex);
          if (!br || br.attrs.ifname !== ctx.bridge.bridge || this.portsOf(ctx.node, ctx.bridgeIndex).length > 0) return;
          if (ctx.createdBridge) {
            ctx.node.linkDeleteIfExists(ctx.bridgeIndex);
            return;
          }
          if (ctx.promiscSet) setPromisc(ctx.node, ctx.bridgeIndex, false);
          if (ctx.broughtUp) ctx.node.linkSet(ctx.bridgeIndex, { up: false });
        }),
      },
      vethStep<BridgeRecord, BridgeAddContext>(this.attachments, { mtu: (ctx) => ctx.settings.mtu, save: (ctx) => ({ podMac: ctx.podMac }) }),
      {
        name: 'port',
        run: (ctx) => this.locked(ctx, () => {
          // An ADD that failed meanwhile may have removed a bridge it had made: make it again.
          if (ctx.node.linkGet(ctx.bridgeIndex)?.attrs.ifname !== ctx.bridge.bridge) this.ensureBridge(ctx);
          quietSysctl(ipv6Conf(ctx.req.hostVethName, 'accept_ra'), '0', ns);
          ctx.node.linkSet(ctx.hostIfindex, { master: ctx.bridgeIndex });
          setBridgePort(ctx.node, ctx.hostIfindex, { mode: ctx.bridge.hairpinMode ? BRIDGE_MODE.HAIRPIN : BRIDGE_MODE.UNSPEC, isolated: ctx.bridge.portIsolation ? 1 : 0 });
          ctx.node.linkSet(ctx.hostIfindex, { up: true });
        }),
      },
      addressesStep<BridgeRecord, BridgeAddContext>(this.attachments, (ctx, result) => this.planAddresses(ctx, result)),
      { name: 'pod-interface', run: (ctx) => this.podInterface(ctx) },
      {
        name: 'pod-routes',
        run: (ctx) => {
          for (const r of ctx.routes) {
            const dst = splitCidr(r.dst)!;
            const gw = r.gw ?? ctx.ips.find((ip) => ip.gateway && splitCidr(ip.address)?.family === dst.family)?.gateway;
            try {
              ctx.pod!.routeAdd({
                dst: `${dst.ip}/${dst.prefix}`, oif: ctx.podIfindex, scope: r.scope ?? 0,
                ...(gw ? { gateway: gw } : {}), ...(r.mtu ? { mtu: r.mtu } : {}), ...(r.priority ? { priority: r.priority } : {}), ...(r.table ? { table: r.table } : {}),
              });
            } catch (err) {
              throw new Error(`adding the route ${r.dst}${gw ? ` via ${gw}` : ''} dev ${ctx.req.ifname} in the pod: ${messageOf(err)}`);
            }
          }
        },
      },
      {
        name: 'gateway',
        run: (ctx) => {
          for (const gw of ctx.gateways) this.ensureGatewayAddress(ctx, gw);
          // Pin the bridge's MAC, as the reference plugin does, to the one it had before this pod's port
          // was added: otherwise a bridge takes the lowest MAC of its ports, and changes it as pods come and go.
          if (ctx.gateways.length && ctx.bridgeMac) ctx.node.linkSet(ctx.bridgeIndex, { address: ctx.bridgeMac });
        },
        undo: (ctx) => this.locked(ctx, () => {
          if (this.portsOf(ctx.node, ctx.bridgeIndex).some((p) => p.ifinfo.index !== ctx.hostIfindex)) return;
          for (const cidr of ctx.gatewaysAdded.reverse()) ctx.node.addressDelete(ctx.bridgeIndex, cidr);
          for (const cidr of ctx.gatewaysReplaced) ctx.node.addressReplace(ctx.bridgeIndex, cidr, withBroadcast(cidr));
        }),
      },
      {
        name: 'forwarding',
        run: (ctx) => void (ctx.forwarding = enableForwarding(ctx.gateways.map((g) => g.family), ns)),
        undo: (ctx) => {
          for (const c of ctx.forwarding.reverse()) restoreSysctl(c, ns);
        },
      },
      masqueradeStep<BridgeAddContext>({ ...(ns ? { netns: ns } : {}), save: (ctx, masquerade) => void saveRecord(this.attachments, ctx, { masquerade }) }),
      {
        name: 'spoofcheck',
        run: async (ctx) => {
          if (!ctx.bridge.macspoofchk) return;
          const { addSpoofcheck, SPOOFCHECK_TABLE } = await import('./bridge-spoofcheck.js');
          const entry = { table: SPOOFCHECK_TABLE, mac: ctx.podMac };
          saveRecord(this.attachments, ctx, { spoofcheck: entry });
          addSpoofcheck(entry.table, ctx.req.hostVethName, entry.mac, ns);
          ctx.spoofcheck = entry;
        },
        undo: async (ctx) => {
          if (!ctx.spoofcheck) return;
          const { removeSpoofcheck } = await import('./bridge-spoofcheck.js');
          removeSpoofcheck(ctx.spoofcheck.table, ctx.req.hostVethName, ctx.spoofcheck.mac, ns);
        },
      },
      {
        name: 'ready',
        run: (ctx) => {
          this.untilReady(ctx);
          // The MACs as they are now: a bridge's follows its ports unless a gateway pinned it.
          ctx.bridgeMac = ctx.node.linkGet(ctx.bridgeIndex)?.attrs.address ?? ctx.bridgeMac;
          ctx.hostMac = ctx.node.linkGet(ctx.hostIfindex)?.attrs.address ?? ctx.hostMac;
        },
      },
    ];
    if (steps.map((s) => s.name).join() !== BRIDGE_ADD_STEPS.join()) throw new Error('BRIDGE_ADD_STEPS does not list the steps of ADD');
    return steps;
  }

  /**
   * The IPAM result as the reference plugin turns it into the attachment's: every address on the pod's
   * interface; with isGateway a gateway per address (the IPAM's, else the subnet's first address) that
   * goes on the bridge; with isDefaultGateway a default route per family via it, unless the IPAM gave
   * a default route with a gateway.
   */
  private planAddresses(ctx: BridgeAddContext, result: IpamResult): void {
    ctx.addresses = podAddressesOf(result);
    const routes: CniRoute[] = result.routes.map((r) => ({ ...r }));
    const defaultDone = new Set<Family>();
    for (const ip of result.ips) {
      const parsed = splitCidr(ip.address)!;
      const out: CniIpConfig = { address: ip.address, interface: 2 };
      let gateway = ip.gateway;
      if (gateway === undefined && ctx.bridge.isGateway) gateway = firstHostOf(ip.address);
      if (gateway !== undefined) out.gateway = gateway;
      if (ctx.bridge.isDefaultGateway && !defaultDone.has(parsed.family)) {
        const dst = defaultDst(parsed.family);
        const given = routes.some((r) => r.gw !== undefined && splitCidr(r.dst)?.prefix === 0 && splitCidr(r.dst)?.family === parsed.family);
        if (!given) routes.push(gateway === undefined ? { dst } : { dst, gw: gateway });
        defaultDone.add(parsed.family);
      }
      if (ctx.bridge.isGateway && gateway !== undefined) ctx.gateways.push({ family: parsed.family, cidr: `${gateway}/${parsed.prefix}` });
      ctx.ips.push(out);
    }
    for (const r of routes) if (!splitCidr(r.dst)) throw new Error(`the IPAM plugin returned a route to ${JSON.stringify(r.dst)}, which is not a CIDR`);
    ctx.routes = routes;
  }

  /** Makes the bridge if it is missing, checks it is one, and sets it as the config says. Under the lock. */
  private ensureBridge(ctx: BridgeAddContext): void {
    const name = ctx.bridge.bridge;
    const ns = this.options.nodeNetns;
    if (!ctx.node.linkGet(name)) {
      try {
        ctx.node.linkAdd({ name, kind: 'bridge', ...(ctx.settings.mtu !== undefined ? { mtu: ctx.settings.mtu } : {}) });
        ctx.createdBridge = true;
      } catch (err) {
        if (!(err instanceof NetlinkError && err.code === 'EEXIST')) throw err;
      }
    }
    const br = ctx.node.linkGet(name);
    if (!br) throw new Error(`bridge ${name} disappeared while it was being set up`);
    if (kindOf(br) !== 'bridge') throw new CniError(CniCode.Internal, `"${name}" already exists but is not a bridge (it is a ${kindOf(br) ?? 'device of no kind'})`);
    ctx.bridgeIndex = br.ifinfo.index;
    ctx.bridgeMac = br.attrs.address;
    if (ctx.bridge.promiscMode && !(br.ifinfo.flags & IFF_PROMISC)) {
      setPromisc(ctx.node, ctx.bridgeIndex, true);
      ctx.promiscSet = true;
    }
    // The routes of the bridge are ours, not a router's.
    quietSysctl(ipv6Conf(name, 'accept_ra'), '0', ns);
    if (!(br.ifinfo.flags & IFF_UP)) {
      ctx.node.linkSet(ctx.bridgeIndex, { up: true });
      ctx.broughtUp = true;
    }
  }

  private podInterface(ctx: BridgeAddContext): void {
    const { req } = ctx;
    const podNs = ctx.podNs!;
    if (ctx.ips.length) {
      // As the reference plugin, for an interface with addresses only.
      const v6 = ipv6Available(podNs);
      if (v6) {
        if (ctx.bridge.enabledad) {
          quietSysctl(ipv6Conf(req.ifname, 'enhanced_dad'), '1', podNs);
          quietSysctl(ipv6Conf(req.ifname, 'accept_dad'), '1', podNs);
        } else {
          quietSysctl(ipv6Conf(req.ifname, 'accept_dad'), '0', podNs);
        }
      }
      quietSysctl(ipv4Conf(req.ifname, 'arp_notify'), '1', podNs);
      if (ctx.addresses.some((a) => a.family === 6)) {
        if (!v6) throw new Error(`IPv6 is not available in ${req.netns}`);
        for (const dev of ['lo', req.ifname]) setSysctl(ipv6Conf(dev, 'disable_ipv6'), '0', podNs);
      }
      for (const ip of ctx.ips) ctx.pod!.addressAdd(ctx.podIfindex, ip.address, withBroadcast(ip.address));
      ctx.pod!.linkSet(ctx.podIfindex, { up: true });
      if (ctx.bridge.enabledad && ctx.addresses.some((a) => a.family === 6)) this.untilDadDone(ctx);
    } else if (!ctx.bridge.disableContainerInterface) {
      ctx.pod!.linkSet(ctx.podIfindex, { up: true });
    }
  }

  /** With DAD on: until no IPv6 address of the pod's interface is tentative; a duplicate fails ADD. */
  private untilDadDone(ctx: BridgeAddContext): void {
    waitForKernel(ctx.podNs, [RTNLGRP.IPV6_IFADDR], (client) => {
      const addresses = client.addressList({ family: AF_INET6, ifindex: ctx.podIfindex });
      const flagsOf = (a: (typeof addresses)[number]) => (a.attrs as { flags?: number }).flags ?? a.ifaddr.flags;
      const failed = addresses.find((a) => flagsOf(a) & IFA_F.DADFAILED);
      if (failed) throw new Error(`duplicate address detection failed for ${(failed.attrs as { address?: string }).address} on ${ctx.req.ifname}: another host holds it`);
      const tentative = addresses.filter((a) => flagsOf(a) & IFA_F.TENTATIVE).map((a) => (a.attrs as { address?: string }).address);
      return tentative.length ? `${tentative.join(', ')} still tentative` : undefined;
    }, `duplicate address detection on ${ctx.req.ifname} in ${ctx.req.netns}`, this.options.readyTimeoutMs ?? READY_TIMEOUT_MS);
  }

  /**
   * One gateway address on the bridge, as the reference plugin's ensureAddr: there already, fine; another
   * IPv4 address, or an overlapping IPv6 one, fails ADD unless forceAddress, which replaces it.
   */
  private ensureGatewayAddress(ctx: BridgeAddContext, gw: Gateway): void {
    const wanted = splitCidr(gw.cidr)!;
    const present = ctx.node.addressList({ family: gw.family === 4 ? AF_INET : AF_INET6, ifindex: ctx.bridgeIndex }).map((a) => {
      const attrs = a.attrs as { local?: string; address?: string };
      return `${canonicalIp(attrs.local ?? attrs.address ?? '')}/${a.ifaddr.prefixlen}`;
    });
    if (present.includes(`${wanted.ip}/${wanted.prefix}`)) return;
    for (const cidr of present) {
      if (gw.family === 6 && !cidrsOverlap(cidr, gw.cidr)) continue;
      if (!ctx.bridge.forceAddress) {
        throw new CniError(CniCode.Internal, `"${ctx.bridge.bridge}" already has an IP address different from ${gw.cidr}`, `it holds ${cidr}; set "forceAddress" to replace it`);
      }
      ctx.node.addressDelete(ctx.bridgeIndex, cidr);
      ctx.gatewaysReplaced.push(cidr);
    }
    try {
      ctx.node.addressAdd(ctx.bridgeIndex, gw.cidr, withBroadcast(gw.cidr));
      ctx.gatewaysAdded.push(gw.cidr);
    } catch (err) {
      if (!(err instanceof NetlinkError && err.code === 'EEXIST')) throw err;
    }
  }

  /**
   * Until traffic can flow: the host veth operationally up with its real qdisc and, when the bridge runs
   * no STP, its port forwarding; the bridge up with its qdisc; the pod's interface up with its qdisc.
   * Skipped when the pod's interface stays down (disableContainerInterface): the port cannot come up.
   */
  private untilReady(ctx: BridgeAddContext): void {
    if (!ctx.ips.length && ctx.bridge.disableContainerInterface) return;
    const timeout = this.options.readyTimeoutMs ?? READY_TIMEOUT_MS;
    const carries = (l: LinkMessage | undefined, what: string): string | undefined => {
      if (!l) return `${what} is gone`;
      if (l.attrs.operstate !== IF_OPER.UP) return `${what} is not operationally up (operstate ${l.attrs.operstate})`;
      if (l.attrs.qdisc === undefined || l.attrs.qdisc === 'noop') return `${what} has no qdisc yet`;
      return undefined;
    };
    waitForKernel(this.options.nodeNetns, [RTNLGRP.LINK], (client) => {
      const host = client.linkGet(ctx.hostIfindex);
      const missing = carries(host, `host veth ${ctx.req.hostVethName}`);
      if (missing) return missing;
      const br = client.linkGet(ctx.bridgeIndex);
      const stp = (br?.attrs.linkinfo as { data?: { stpState?: number } } | undefined)?.data?.stpState ?? 0;
      const state = portSettingsOf(host!).state;
      // With STP the port goes through listening and learning first (forward delay): as the reference
      // plugin, ADD then waits only for the link.
      if (stp === 0 && state !== BR_STATE.FORWARDING) return `port ${ctx.req.hostVethName} of ${ctx.bridge.bridge} is not forwarding (state ${state ?? 'none'})`;
      if (stp === 0) return carries(br, `bridge ${ctx.bridge.bridge}`);
      return undefined;
    }, `the bridge port ${ctx.req.hostVethName}`, timeout);
    waitForKernel(ctx.podNs, [RTNLGRP.LINK], (client) => carries(client.linkGet(ctx.podIfindex), `${ctx.req.ifname} in the pod`), `${ctx.req.ifname} in ${ctx.req.netns}`, timeout);
  }

  private resultOf(ctx: BridgeAddContext): CniResult {
    const { req } = ctx;
    const interfaces: CniInterface[] = [
      { name: ctx.bridge.bridge, mac: ctx.bridgeMac ?? '' },
      { name: req.hostVethName, mac: ctx.hostMac },
      { name: req.ifname, mac: ctx.podMac, sandbox: req.netns },
    ];
    const result: CniResult = { interfaces, ips: ctx.ips.map((ip) => ({ ...ip })), routes: ctx.routes.map((r) => ({ ...r })) };
    if (ctx.ipamResult?.dns) result.dns = ctx.ipamResult.dns;
    this.log.info({ containerId: req.containerId, ifname: req.ifname, hostVeth: req.hostVethName, bridge: ctx.bridge.bridge, addresses: ctx.addresses.map((a) => a.ip) }, 'attachment added');
    return result;
  }

  // ---- DEL ----------------------------------------------------------------------------------------

  del(req: DelRequest): Promise<void> {
    return removeAttachment(this.attachments, req);
  }

  /** The masquerade and anti-spoofing entries a record lists, removed; returns what failed. */
  private async removeEntries(record: BridgeRecord | undefined): Promise<string[]> {
    const problems = await masqueradeProblems(record, this.options.nodeNetns);
    const spoofcheck = record?.spoofcheck;
    if (spoofcheck) {
      await attempt(problems, `removing the anti-spoofing entry of ${record.hostVeth}`, async () => {
        const { removeSpoofcheck } = await import('./bridge-spoofcheck.js');
        removeSpoofcheck(spoofcheck.table, record.hostVeth, spoofcheck.mac, this.options.nodeNetns);
      });
    }
    return problems;
  }

  // ---- CHECK --------------------------------------------------------------------------------------

  async check(req: CheckRequest): Promise<void> {
    const settings = req.config.sluice;
    const bridge = bridgeSettingsOf(req.config.raw, settings);
    const record = this.state(settings).read(req.hostVethName);
    const diffs = withNodeAndPod(this.options.nodeNetns, req.netns, (node, pod) =>
      findBridgeDifferences({ bridge, hostVeth: req.hostVethName, ifname: req.ifname, netns: req.netns, prevResult: req.prevResult, node, pod }));
    const podIndex = req.prevResult.interfaces.findIndex((i) => i.name === req.ifname && i.sandbox === req.netns);
    const podAddresses = req.prevResult.ips.filter((ip) => ip.interface === podIndex).map((ip) => ip.address);
    if ((settings.ipMasq && podAddresses.length) || record?.masquerade) diffs.push(...(await masqueradeCheck(settings, record, podAddresses, this.options.nodeNetns)));
    if (bridge.macspoofchk || record?.spoofcheck) {
      const { spoofcheckDifferences, SPOOFCHECK_TABLE } = await import('./bridge-spoofcheck.js');
      const mac = req.prevResult.interfaces[podIndex]?.mac ?? record?.spoofcheck?.mac ?? '';
      diffs.push(...spoofcheckDifferences(record?.spoofcheck?.table ?? SPOOFCHECK_TABLE, req.hostVethName, mac, this.options.nodeNetns));
    }
    await concludeCheck(req, diffs, record?.ipam ?? ipamIpsOf(req.prevResult.ips.filter((ip) => ip.interface === podIndex)));
  }

  // ---- GC and STATUS ------------------------------------------------------------------------------

  gc(req: GcRequest): Promise<void> {
    return collectStale(this.attachments, req);
  }

  status(req: StatusRequest): Promise<void> {
    return ipamStatus(req);
  }

  // ---- helpers ------------------------------------------------------------------------------------

  /** Runs a section under the bridge's lock (<stateDir>/bridge/locks/<bridge>.lock). */
  private locked<T>(ctx: BridgeAddContext, fn: () => T): T {
    return withFileLock(this.state(ctx.settings).lockPath(ctx.bridge.bridge), fn);
  }

  private portsOf(node: SyncClient, bridgeIndex: number): LinkMessage[] {
    return node.linkList().filter((l) => l.attrs.master === bridgeIndex);
  }

  private state(settings: SluiceSettings): BridgeState {
    return new BridgeState(settings.stateDir);
  }
}

/** The bridge settings of a config in mode bridge, refusing the fields sluice cannot honour (code 2). */
function bridgeSettingsOf(raw: Record<string, unknown>, settings: SluiceSettings): BridgeSettings {
  if (!settings.bridge) throw new CniError(CniCode.InvalidNetworkConfig, 'invalid network config: "mode" is not "bridge"');
  const refused = unsupportedBridgeField(raw, settings.bridge);
  if (refused) throw refused;
  return settings.bridge;
}

const withBroadcast = (cidr: string): { broadcast?: string } => {
  const broadcast = broadcastOf(cidr);
  return broadcast ? { broadcast } : {};
};

/** Writes a per-interface sysctl, as the reference plugin does, without failing when the key is missing. */
function quietSysctl(key: string[], value: string, ns: NetNs | undefined): void {
  try {
    setSysctl(key, value, ns);
  } catch {
    // an interface without that sysctl (no IPv6 in the namespace): nothing to set
  }
}
