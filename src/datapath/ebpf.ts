/**
 * The `ebpf` data path (DESIGN.md): a veth per pod with no bridge; the pod holds /32 and /128
 * addresses, a default route via a link-local gateway and a permanent neighbour entry for it pointing
 * at the host veth's MAC; the node holds a /32 (/128) route and a permanent neighbour per pod address
 * through the host veth; the pod-egress program, attached with a TCX link on the host veth's ingress,
 * redirects traffic between local pods straight into the peer's namespace.
 *
 * ADD runs as named steps (steps.ts), each with its undo:
 *   preflight      the host veth name is free on the node (a stale record of an earlier attachment
 *                  without veth is cleaned); the MTU: the config's, else the uplink's (the device of
 *                  the node's default route), else 1500
 *   ipam           addresses from the IPAM plugin                       undo: IPAM DEL
 *                  (in the background: the steps up to "addresses" run while it allocates)
 *   pod-netns      the pod namespace opens, and a socket in it
 *   state          the attachment's record and counter id (state.ts)     undo: removed
 *   veth           the pair, the peer created directly in the pod as CNI_IFNAME, MTU and MAC (a
 *                  name taken on either side fails it, and says which)
 *                                                                        undo: the host veth deleted (both ends go)
 *   host-veth      no IPv6 link-local address on the host veth, no ARP answers from it; up
 *   addresses      waits for ipam; the pod's /32 and /128 from its result, kept in the record with
 *                  the veth's ifindexes and MACs
 *   pod-interface  the /32 and /128 addresses (no DAD), up
 *   pod-gateway    permanent neighbour entries: gateway -> host veth MAC
 *   pod-routes     default route per family via the gateway (IPv4 onlink), the IPAM's routes too
 *   host-routes    per address: permanent neighbour -> pod MAC, /32 (/128) route via the host veth
 *                                                                        undo: routes deleted
 *                  (host-veth and the pod-* steps have no undo: all they make lives on the veth and
 *                  goes with it; addresses only updates the record)
 *   datapath       the program and maps loaded and pinned, or the pinned ones reused (node-wide,
 *                  shared by every pod: never unloaded by a pod's undo)
 *   endpoint       the endpoint map entries (counters reset first)     undo: entries removed
 *   attach         the TCX link on the host veth's ingress, pinned      undo: detached, unpinned
 *                  (deferAttach: the host veth's ifindex in the spoof guard's set instead, and the
 *                  record marked, for the agent to attach later; undo: the ifindex taken out)
 *   masquerade     with ipMasq: the pod's /32 and /128 added to the node's masquerade sets (the table,
 *                  chain and rules made first if missing; masq-step.ts)  undo: elements removed
 *   forwarding     ip_forward / conf.all.forwarding for the pod's families
 *                                                                        undo: what this ADD changed put back
 *   carrier        waits until both ends carry traffic (the link watcher ran meanwhile)
 *
 * DEL removes what it can find, in any state: map entries (by the record and by the host veth's
 * ifindex), the link pin, the host veth (its routes and neighbours go with it, and so does the pod's
 * end), the masquerade elements the record lists, the IPAM lease, the record. It needs neither CNI_NETNS
 * nor prevResult.
 */
import { Attacher } from '../bpf/attach.js';
import type { Datapath } from '../bpf/datapath.js';
import { PinPaths } from '../bpf/pins.js';
import type { AddRequest, CheckRequest, DelRequest, Driver, GcRequest, StatusRequest } from '../cni/dispatch.js';
import { CniCode, CniError } from '../cni/errors.js';
import type { CniInterface, CniIpConfig, CniResult, CniRoute, SluiceSettings } from '../cni/types.js';
import { AF_INET, AF_INET6, type SyncClient } from '../netlink/client.js';
import { NetlinkError } from '../netlink/errors.js';
import { IFA_F } from '../netlink/rtnetlink/address.js';
import { IF_OPER, IN6_ADDR_GEN_MODE, IPV4_DEVCONF } from '../netlink/rtnetlink/link.js';
import type { NetNs } from '../netns.js';
import { concludeCheck, ipamStatus, masqueradeCheck, withNodeAndPod } from './attachment-check.js';
import { attemptSync, collectStale, hostVethProblems, masqueradeProblems, removeAttachment } from './attachment-removal.js';
import {
  addressesStep, attachmentContext, ipamIpsOf, ipamStep, NO_STATS, noLogger, podAddressesOf, podNetnsStep, preflightStep, runAttachmentSteps, saveRecord, stateStep, vethStep,
  type AttachmentContext, type AttachmentDriver, type DriverLogger, type PodAddress,
} from './attachment-steps.js';
import { findDifferences } from './check.js';
import { masqueradeStep, type MasqueradeRecord } from './masq-step.js';
import { canonicalIp, defaultDst, hostPrefix, splitCidr, type Family } from './ip.js';
import { PinnedMaps } from './pinned.js';
import type { SpoofGuard } from './spoof-guard.js';
import { EndpointState, type EndpointRecord } from './state.js';
import type { FaultPoint, Step } from './steps.js';
import { enableForwarding, ipv6Available, restoreSysctl, type SysctlChange } from './sysctl.js';

export type { DriverLogger } from './attachment-steps.js';

export interface EbpfDriverOptions {
  /** The node's namespace: host veths, routes, sysctls and attachments live there. Default: the caller's. */
  nodeNetns?: NetNs;
  /** The compiled program; default the package's bpf/pod_egress.bpf.o. */
  objectPath?: string;
  /** Attach with clsact + cls_bpf even where TCX exists. */
  forceClsBpf?: boolean;
  /**
   * Answer ADD before the TCX link is attached (attaching waits for an RCU grace period under the rtnl
   * lock, longer than the rest of ADD): the host veth goes into the spoof guard instead, and the
   * agent's promoter (daemon/promoter.ts) attaches the link once the agent is idle. Not with
   * forceClsBpf, whose attach is cheap.
   */
  deferAttach?: boolean;
  /**
   * The caller lives long (the agent): keep the data path handle, the spoof guard's socket and the
   * uplink's MTU from call to call, per thread, instead of opening and looking them up every time.
   */
  keepHandles?: boolean;
  /** Tests: make ADD fail at a step (see steps.ts). */
  failAt?: FaultPoint;
  logger?: DriverLogger;
}

/** The steps of ADD, in order (the fault-injection test walks them). */
export const ADD_STEPS = [
  'preflight', 'ipam', 'pod-netns', 'state', 'veth', 'host-veth', 'addresses', 'pod-interface', 'pod-gateway', 'pod-routes', 'host-routes',
  'datapath', 'endpoint', 'attach', 'masquerade', 'forwarding', 'carrier',
] as const;
export type AddStep = (typeof ADD_STEPS)[number];

const DEFAULT_MTU = 1500;
/**
 * On the host veth: arp_ignore 8, answer no ARP request at all (the pod has a permanent gateway entry);
 * addr_gen_mode none, no IPv6 link-local address, so it sends no ND, MLD or RS.
 */
const ARP_IGNORE_ALL = 8;

interface AddContext extends AttachmentContext<EndpointRecord> {
  mtu: number;
  families: Family[];
  podRoutes: CniRoute[];
  hostRoutes: string[];
  datapath?: Datapath;
  /** ctx.datapath is the agent's, kept from call to call (keptDatapath): not closed with the call. */
  datapathKept?: boolean;
  /** The attach was deferred: the host veth is in the spoof guard. */
  guarded?: boolean;
  masquerade?: MasqueradeRecord;
  forwarding: SysctlChange[];
}

export class EbpfDriver implements Driver {
  private readonly log: DriverLogger;
  /** What the steps and verbs both modes share need of this one. */
  private readonly attachments: AttachmentDriver<EndpointRecord>;

  constructor(private readonly options: EbpfDriverOptions = {}) {
    this.log = options.logger ?? noLogger;
    this.attachments = {
      log: this.log,
      nodeNetns: options.nodeNetns,
      store: (settings) => this.state(settings),
      cleanup: async (node, settings, hostVeth, record) => {
        if (record?.deferredAttach) await loadSpoofGuard();
        return [...(await masqueradeProblems(record, options.nodeNetns)), ...this.cleanHostSide(node, settings, hostVeth, record)];
      },
    };
  }

  // ---- ADD ----------------------------------------------------------------------------------------

  async add(req: AddRequest): Promise<CniResult> {
    if (this.defersAttach) await loadSpoofGuard();
    const ctx: AddContext = { ...attachmentContext(this.attachments, req), mtu: DEFAULT_MTU, families: [], podRoutes: [], hostRoutes: [], forwarding: [] };
    await runAttachmentSteps(this.attachments, this.addSteps(), ctx, this.options.failAt, () => {
      if (!ctx.datapathKept) ctx.datapath?.close();
    });
    this.log.info({ containerId: req.containerId, ifname: req.ifname, hostVeth: req.hostVethName, addresses: ctx.addresses.map((a) => a.ip) }, 'attachment added');
    return this.resultOf(ctx);
  }

  private addSteps(): Step<AddContext>[] {
    const steps: Step<AddContext>[] = [
      preflightStep<EndpointRecord, AddContext>(this.attachments, (ctx) => {
        // The MTU: the config's, else the uplink's, else 1500.
        ctx.mtu = ctx.settings.mtu ?? this.uplinkMtu(ctx.node) ?? DEFAULT_MTU;
      }),
      ipamStep<EndpointRecord, AddContext>({ requiredIn: 'ebpf' }),
      podNetnsStep<EndpointRecord, AddContext>(),
      stateStep<EndpointRecord, AddContext>(this.attachments, (ctx, first) => this.state(ctx.settings).create(first)),
      vethStep<EndpointRecord, AddContext>(this.attachments, {
        mtu: (ctx) => ctx.mtu,
        // The deferred attach is marked before the guard is in place: a crash in between leaves a
        // record the promoter attaches (and a guard release of nothing).
        save: (ctx) => ({ hostIfindex: ctx.hostIfindex, hostMac: ctx.hostMac, podMac: ctx.podMac, ...(this.defersAttach ? { deferredAttach: { pinRoot: ctx.settings.pinRoot } } : {}) }),
      }),
      {
        name: 'host-veth',
        run: (ctx) => {
          // One request. Whatever order the kernel applies its parts in, the link has no carrier until
          // the pod's end comes up at pod-interface, so no IPv6 link-local address is made before
          // addr_gen_mode is none.
          const conf: number[] = [];
          conf[IPV4_DEVCONF.ARP_IGNORE - 1] = ARP_IGNORE_ALL;
          const inet6 = ipv6Available(this.options.nodeNetns) ? { inet6: { addrGenMode: IN6_ADDR_GEN_MODE.NONE } } : {};
          ctx.node.linkSet(ctx.hostIfindex, { up: true, afSpec: { inet: { conf }, ...inet6 } });
        },
      },
      addressesStep<EndpointRecord, AddContext>(this.attachments, (ctx, result) => {
        ctx.addresses = podAddressesOf(result, (a) => (a.ip === canonicalIp(gatewayOf(ctx.settings, a.family)) ? `the IPAM plugin returned ${a.ip}, the pods' gateway address` : undefined));
        ctx.families = [...new Set(ctx.addresses.map((a) => a.family))].sort();
      }),
      {
        name: 'pod-interface',
        run: async (ctx) => {
          for (const a of ctx.addresses) {
            ctx.pod!.addressAdd(ctx.podIfindex, `${a.ip}/${hostPrefix(a.family)}`, a.family === 6 ? { flags: IFA_F.NODAD } : {});
          }
          ctx.pod!.linkSet(ctx.podIfindex, { up: true });
        },
      },
      {
        name: 'pod-gateway',
        run: (ctx) => {
          for (const family of ctx.families) ctx.pod!.neighbourSet({ ifindex: ctx.podIfindex, dst: gatewayOf(ctx.settings, family), lladdr: ctx.hostMac });
        },
      },
      {
        name: 'pod-routes',
        run: (ctx) => {
          ctx.podRoutes = podRoutes(ctx);
          for (const r of ctx.podRoutes) {
            const family = splitCidr(r.dst)!.family;
            ctx.pod!.routeAdd({ dst: r.dst, gateway: r.gw!, oif: ctx.podIfindex, onlink: family === 4, ...(r.mtu ? { mtu: r.mtu } : {}), ...(r.priority ? { priority: r.priority } : {}) });
          }
        },
      },
      {
        name: 'host-routes',
        run: (ctx) => {
          for (const a of ctx.addresses) {
            ctx.node.neighbourSet({ ifindex: ctx.hostIfindex, dst: a.ip, lladdr: ctx.podMac });
            const dst = `${a.ip}/${hostPrefix(a.family)}`;
            try {
              ctx.node.routeAdd({ dst, oif: ctx.hostIfindex });
            } catch (err) {
              if (err instanceof NetlinkError && err.code === 'EEXIST') throw new Error(`a route to ${dst} already exists on the node: ${describeRoute(ctx.node, a)}`);
              throw err;
            }
            ctx.hostRoutes.push(dst);
          }
        },
        undo: (ctx) => {
          for (const dst of ctx.hostRoutes.reverse()) ctx.node.routeDelete({ dst, oif: ctx.hostIfindex });
        },
      },
      {
        name: 'datapath',
        run: async (ctx) => {
          if (this.options.keepHandles) {
            ctx.datapath = await this.keptDatapath(ctx.settings);
            ctx.datapathKept = true;
            return;
          }
          const { Datapath } = await import('../bpf/datapath.js');
          ctx.datapath = await Datapath.open(this.datapathOptions(ctx.settings));
        },
      },
      {
        name: 'endpoint',
        run: (ctx) => {
          const dp = ctx.datapath!;
          const spec = { id: ctx.record!.id, ifindex: ctx.hostIfindex, podMac: ctx.podMac, gatewayMac: ctx.hostMac, addresses: ctx.addresses.map((a) => a.ip) };
          try {
            dp.resetCounters(spec.id);
            dp.upsertEndpoint(spec);
          } catch (err) {
            dp.removeEndpoint(spec);
            throw err;
          }
        },
        undo: (ctx) => ctx.datapath!.removeEndpoint({ ifindex: ctx.hostIfindex, addresses: ctx.addresses.map((a) => a.ip) }),
      },
      {
        name: 'attach',
        run: (ctx) => {
          if (!this.defersAttach) return void ctx.datapath!.attach(ctx.req.hostVethName, 'ingress');
          this.useGuard((guard) => guard.guard(ctx.hostIfindex));
          ctx.guarded = true;
        },
        undo: (ctx) => {
          if (ctx.guarded) this.useGuard((guard) => guard.release(ctx.hostIfindex));
          else ctx.datapath!.detach(ctx.req.hostVethName, 'ingress');
        },
      },
      masqueradeStep<AddContext>({ ...this.nodeNetnsOption(), save: (ctx, masquerade) => void saveRecord(this.attachments, ctx, { masquerade }) }),
      {
        name: 'forwarding',
        run: (ctx) => void (ctx.forwarding = enableForwarding(ctx.families, this.options.nodeNetns)),
        undo: (ctx) => {
          for (const c of ctx.forwarding.reverse()) restoreSysctl(c, this.options.nodeNetns);
        },
      },
      {
        // Until the kernel's link watcher has seen the carrier, a veth keeps the noop qdisc and drops
        // what it is given: the first packets after ADD would be lost. Both ends came up at
        // pod-interface; the steps since ran while the watcher did its work.
        name: 'carrier',
        run: async (ctx) => {
          await untilOperational(ctx.pod!, ctx.podIfindex, `${ctx.req.ifname} in the pod`);
          await untilOperational(ctx.node, ctx.hostIfindex, `host veth ${ctx.req.hostVethName}`);
        },
      },
    ];
    if (steps.map((s) => s.name).join() !== ADD_STEPS.join()) throw new Error('ADD_STEPS does not list the steps of ADD');
    return steps;
  }

  private resultOf(ctx: AddContext): CniResult {
    const { req } = ctx;
    const interfaces: CniInterface[] = [
      { name: req.hostVethName, mac: ctx.hostMac, mtu: ctx.mtu },
      { name: req.ifname, mac: ctx.podMac, mtu: ctx.mtu, sandbox: req.netns },
    ];
    const ips: CniIpConfig[] = ctx.addresses.map((a) => ({ address: `${a.ip}/${hostPrefix(a.family)}`, gateway: gatewayOf(ctx.settings, a.family), interface: 1 }));
    const result: CniResult = { interfaces, ips, routes: ctx.podRoutes.map((r) => ({ ...r })) };
    if (ctx.ipamResult?.dns) result.dns = ctx.ipamResult.dns;
    return result;
  }

  // ---- DEL ----------------------------------------------------------------------------------------

  del(req: DelRequest): Promise<void> {
    return removeAttachment(this.attachments, req);
  }

  /**
   * Removes the node's side of an attachment, whatever is left of it; returns what could not be
   * removed. The pod's side goes with the host veth (a veth pair dies whole).
   */
  private cleanHostSide(node: SyncClient, settings: SluiceSettings, hostVeth: string, record: EndpointRecord | undefined): string[] {
    const problems: string[] = [];
    const attempt = (what: string, fn: () => void) => attemptSync(problems, what, fn);
    const paths = new PinPaths(settings.pinRoot);
    let liveIfindex: number | undefined;
    attempt(`looking up ${hostVeth}`, () => void (liveIfindex = node.linkGet(hostVeth, NO_STATS)?.ifinfo.index));

    attempt('removing the endpoint map entries', () => {
      const pinned = PinnedMaps.open(paths);
      if (!pinned) return;
      try {
        // A live veth's entries are ours whatever they say; a gone veth's ifindex only where the id matches.
        const ours = (ifindex: number, id: number) => ifindex === liveIfindex || (record !== undefined && ifindex === record.hostIfindex && id === record.id);
        for (const ifindex of new Set([liveIfindex, record?.hostIfindex].filter((i): i is number => i !== undefined))) {
          for (const entry of pinned.entriesOf(ifindex)) if (ours(ifindex, entry.endpoint.id)) pinned.removeAddress(entry.address);
          const device = pinned.device(ifindex);
          if (device && ours(ifindex, device.id)) pinned.removeDevice(ifindex);
        }
        for (const address of record?.addresses ?? []) {
          const entry = pinned.endpoint(address);
          if (entry && entry.id === record!.id && (entry.ifindex === record!.hostIfindex || entry.ifindex === liveIfindex)) pinned.removeAddress(address);
        }
      } finally {
        pinned.close();
      }
    });

    // The device goes before its TCX link: deleting a device drops its links without the RCU grace
    // period that detaching a live link waits for (under the rtnl lock), and unpinning a link whose
    // device is gone costs nothing. A cls_bpf filter goes with the device.
    problems.push(...hostVethProblems(node, hostVeth));
    attempt(`unpinning the TCX link of ${hostVeth}`, () => {
      const attacher = new Attacher(paths, this.options.nodeNetns ? { netns: this.options.nodeNetns } : {});
      try {
        if (attacher.detach(hostVeth, 'ingress')) this.log.debug({ pin: paths.link(hostVeth, 'ingress') }, 'TCX link unpinned');
      } finally {
        attacher.close();
      }
    });
    const guarded = record?.deferredAttach ? (record.hostIfindex ?? liveIfindex) : undefined;
    if (guarded !== undefined) {
      attempt(`taking ${hostVeth} (ifindex ${guarded}) out of the spoof guard`, () => this.useGuard((guard) => guard.release(guarded)));
    }
    return problems;
  }

  // ---- CHECK --------------------------------------------------------------------------------------

  async check(req: CheckRequest): Promise<void> {
    const settings = req.config.sluice;
    const record = this.state(settings).read(req.hostVethName);
    if (record?.deferredAttach) await loadSpoofGuard();
    const guarded = (ifindex: number) => this.useGuard((guard) => guard.isGuarded(ifindex));
    const diffs = withNodeAndPod(this.options.nodeNetns, req.netns, (node, pod) => findDifferences({
      hostVeth: req.hostVethName, ifname: req.ifname, netns: req.netns, prevResult: req.prevResult, gateway: settings.gateway,
      node, pod, paths: new PinPaths(settings.pinRoot), ...(this.options.nodeNetns ? { nodeNetns: this.options.nodeNetns } : {}),
      ...(record?.deferredAttach ? { guarded } : {}),
    }));
    if (settings.ipMasq || record?.masquerade) {
      const podAddresses = req.prevResult.ips.filter((ip) => req.prevResult.interfaces[ip.interface ?? -1]?.sandbox === req.netns).map((ip) => ip.address);
      diffs.push(...(await masqueradeCheck(settings, record, podAddresses, this.options.nodeNetns)));
    }
    // The IPAM checks its lease against what it handed out (its subnet's prefix length and gateway),
    // which the record kept; the result holds the pod's /32 and the link-local gateway instead.
    await concludeCheck(req, diffs, record?.ipam ?? ipamIpsOf(req.prevResult.ips));
  }

  // ---- GC and STATUS ------------------------------------------------------------------------------

  gc(req: GcRequest): Promise<void> {
    return collectStale(this.attachments, req);
  }

  async status(req: StatusRequest): Promise<void> {
    const { existsSync } = await import('node:fs');
    const { defaultObjectPath } = await import('../bpf/datapath.js');
    const objectPath = this.options.objectPath ?? defaultObjectPath;
    if (!existsSync(objectPath)) throw new CniError(CniCode.NotAvailable, 'the eBPF data path cannot be loaded', `the program ${objectPath} is missing`);
    await ipamStatus(req);
  }

  // ---- helpers ------------------------------------------------------------------------------------

  /**
   * The uplink's MTU. The agent (keepHandles) looks it up at most once a second per node: finding it
   * takes a dump of the node's routes, which grows with the pods.
   */
  private uplinkMtu(node: SyncClient): number | undefined {
    if (!this.options.keepHandles) return uplinkMtu(node);
    const key = this.options.nodeNetns?.path ?? '';
    const cached = uplinkMtus.get(key);
    if (cached && Date.now() - cached.at < UPLINK_MTU_TTL_MS) return cached.mtu;
    const mtu = uplinkMtu(node);
    uplinkMtus.set(key, { mtu, at: Date.now() });
    return mtu;
  }

  private get defersAttach(): boolean {
    return this.options.deferAttach === true && this.options.forceClsBpf !== true;
  }

  /**
   * The agent's handle on the data path at the config's pin root, kept per thread from call to call
   * while what is pinned stays the same (Datapath.stillPinned): opening takes a lock file and half a
   * dozen bpf() calls.
   */
  private async keptDatapath(settings: SluiceSettings): Promise<Datapath> {
    const key = `${this.options.nodeNetns?.path ?? ''}\0${settings.pinRoot}`;
    const kept = keptDatapaths.get(key);
    if (kept?.stillPinned()) return kept;
    kept?.close();
    keptDatapaths.delete(key);
    const { Datapath } = await import('../bpf/datapath.js');
    const datapath = await Datapath.open(this.datapathOptions(settings));
    keptDatapaths.set(key, datapath);
    return datapath;
  }

  /**
   * Runs `work` on the spoof guard. The agent (keepHandles) keeps one socket per thread and node for
   * good: closing an nf_tables socket right after a deletion waits for the kernel's deferred
   * destruction of what was deleted (an RCU grace period, ~13 ms here). The plugin opens one per call.
   */
  private useGuard<T>(work: (guard: SpoofGuard) => T): T {
    if (this.options.keepHandles) {
      const key = this.options.nodeNetns?.path ?? '';
      let guard = keptGuards.get(key);
      if (!guard) keptGuards.set(key, (guard = spoofGuard().open(this.nodeNetnsOption())));
      return work(guard);
    }
    const guard = spoofGuard().open(this.nodeNetnsOption());
    try {
      return work(guard);
    } finally {
      guard.close();
    }
  }

  private nodeNetnsOption(): { netns?: NetNs } {
    return this.options.nodeNetns ? { netns: this.options.nodeNetns } : {};
  }

  private state(settings: SluiceSettings): EndpointState {
    return new EndpointState(settings.stateDir);
  }

  private datapathOptions(settings: SluiceSettings) {
    return {
      pinRoot: settings.pinRoot,
      ...(this.options.nodeNetns ? { netns: this.options.nodeNetns } : {}),
      ...(this.options.objectPath ? { objectPath: this.options.objectPath } : {}),
      ...(this.options.forceClsBpf ? { forceClsBpf: true } : {}),
    };
  }
}

/**
 * The spoof guard's module, imported only by the calls that use it (a deferred attach, or the DEL or
 * CHECK of one): the plugin's other calls do not load the nf_tables code.
 */
let spoofGuardModule: typeof import('./spoof-guard.js') | undefined;

async function loadSpoofGuard(): Promise<void> {
  spoofGuardModule ??= await import('./spoof-guard.js');
}

function spoofGuard(): typeof SpoofGuard {
  if (!spoofGuardModule) throw new Error('the spoof guard module is not loaded (loadSpoofGuard first)');
  return spoofGuardModule.SpoofGuard;
}

/** The agent's spoof guard sockets, by node namespace path ('' for the thread's own): see useGuard. */
const keptGuards = new Map<string, SpoofGuard>();
/** The agent's data path handles, by node namespace path and pin root: see keptDatapath. */
const keptDatapaths = new Map<string, Datapath>();
/** The agent's uplink MTUs, by node namespace path: see EbpfDriver.uplinkMtu. */
const uplinkMtus = new Map<string, { mtu: number | undefined; at: number }>();
const UPLINK_MTU_TTL_MS = 1000;

// ---- pure helpers -----------------------------------------------------------------------------------

function gatewayOf(settings: SluiceSettings, family: Family): string {
  return family === 4 ? settings.gateway.ipv4 : settings.gateway.ipv6;
}

/**
 * A default route per family via the gateway, then the IPAM's other routes, all via the gateway (the
 * host veth is the pod's only next hop; an IPAM gateway would not be on the link).
 */
function podRoutes(ctx: AddContext): CniRoute[] {
  const routes: CniRoute[] = ctx.families.map((family) => ({ dst: defaultDst(family), gw: gatewayOf(ctx.settings, family) }));
  for (const r of ctx.ipamResult?.routes ?? []) {
    const dst = splitCidr(r.dst);
    if (!dst || !ctx.families.includes(dst.family)) continue;
    const cidr = `${dst.ip}/${dst.prefix}`;
    if (dst.prefix === 0 || routes.some((x) => x.dst === cidr)) continue;
    const route: CniRoute = { dst: cidr, gw: gatewayOf(ctx.settings, dst.family) };
    if (r.mtu) route.mtu = r.mtu;
    if (r.priority) route.priority = r.priority;
    routes.push(route);
  }
  return routes;
}

/** How long ADD waits for a new veth to carry traffic (the link watcher usually takes well under 1 ms). */
const OPERATIONAL_TIMEOUT_MS = 5000;
/** What untilOperational reads of a link. */
const OPERATIONAL_FIELDS = { stats: false, attributes: ['operstate', 'qdisc'] } as const;

/**
 * Waits until a link is operationally up and has its real qdisc: before the link watcher ran after the
 * carrier came on, a veth holds the noop qdisc, which drops every packet.
 */
async function untilOperational(client: SyncClient, ifindex: number, what: string): Promise<void> {
  const started = Date.now();
  for (let wait = 1; ; wait = Math.min(wait * 2, 50)) {
    const link = client.linkGet(ifindex, OPERATIONAL_FIELDS);
    if (!link) throw new Error(`${what} disappeared while coming up`);
    if (link.attrs.operstate === IF_OPER.UP && link.attrs.qdisc !== undefined && link.attrs.qdisc !== 'noop') return;
    if (Date.now() - started > OPERATIONAL_TIMEOUT_MS) {
      throw new Error(`${what} did not come up within ${OPERATIONAL_TIMEOUT_MS} ms (operstate ${link.attrs.operstate}, qdisc ${link.attrs.qdisc ?? 'none'})`);
    }
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

/** The MTU of the device the node's default route leaves by (IPv4 first), or undefined. */
function uplinkMtu(node: SyncClient): number | undefined {
  for (const family of [AF_INET, AF_INET6]) {
    const route = node.routeList({ family }).find((r) => r.rtm.dstLen === 0 && r.rtm.type === 1);
    const oif = route?.attrs.oif ?? route?.attrs.multipath?.[0]?.ifindex;
    if (oif === undefined) continue;
    const mtu = node.linkGet(oif)?.attrs.mtu;
    if (mtu) return mtu;
  }
  return undefined;
}

function describeRoute(node: SyncClient, a: PodAddress): string {
  try {
    const route = node.routeList({ family: a.family === 4 ? AF_INET : AF_INET6 }).find((r) => r.rtm.dstLen === hostPrefix(a.family) && canonicalIp(r.attrs.dst ?? '') === a.ip);
    const dev = route?.attrs.oif === undefined ? undefined : node.linkGet(route.attrs.oif)?.attrs.ifname;
    return dev ? `via ${dev} (another pod holds ${a.ip}?)` : 'in the main table';
  } catch {
    return 'in the main table';
  }
}
