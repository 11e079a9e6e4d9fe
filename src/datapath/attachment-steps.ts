/**
 * The steps of ADD both data paths take alike (steps.ts runs them), each with its undo:
 *   preflight  the host veth name is free on the node (what a stale record of the same host veth
 *              lists is cleaned first)
 *   ipam       the IPAM's addresses, in the background: it allocates (a delegated plugin in a process of
 *              its own, the agent's built-in IPAM on a worker thread) while the steps up to
 *              "addresses" run                                             undo: IPAM DEL
 *   pod-netns  the pod namespace opens, and a socket in it
 *   state      the attachment's first record (records.ts)                    undo: forgotten
 *   veth       the pair, the peer created directly in the pod as CNI_IFNAME   undo: the host veth
 *              (a name taken on either side fails it, and says which)         deleted (both ends go)
 *   addresses  waits for "ipam"; its result planned by the driver, kept in the record with the
 *              veth's ifindexes and MACs (one write: nothing before it needs them on disk)
 * and what a driver hands them: its logger, its node namespace, its record store, and how it removes
 * what an attachment left on the node (the same for DEL, GC and a stale record: attachment-removal.ts).
 *
 * The IPAM starts once the node's side is known to be free and before anything is made: nothing it
 * hands out can belong to a live attachment (that one's host veth stops ADD at preflight), and when a
 * later step fails its undo gives the lease back.
 */
import { randomFillSync } from 'node:crypto';
import type { AddRequest } from '../cni/dispatch.js';
import { CniCode, CniError } from '../cni/errors.js';
import type { SluiceSettings } from '../cni/types.js';
import type { IpamResult } from '../ipam/types.js';
import { SyncClient, type LinkEnd } from '../netlink/client.js';
import { NetlinkError } from '../netlink/errors.js';
import { current as currentNetns, NetNs } from '../netns.js';
import { splitCidr, type Family } from './ip.js';
import type { AttachmentRecord, RecordStore } from './records.js';
import { runSteps, type FaultPoint, type Step } from './steps.js';
import { ipv6Available } from './sysctl.js';

export interface DriverLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export const noLogger: DriverLogger = { debug() {}, info() {}, warn() {} };

/** linkGet's option for the lookups that need no counters. */
export const NO_STATS = { stats: false } as const;

/** What the shared steps and verbs need of a driver. */
export interface AttachmentDriver<R extends AttachmentRecord> {
  readonly log: DriverLogger;
  /** The node's namespace (default: the caller's). */
  readonly nodeNetns: NetNs | undefined;
  store(settings: SluiceSettings): RecordStore<R>;
  /**
   * Removes what an attachment left on the node, whatever is left of it: the entries its record lists,
   * the host veth (the pod's end goes with it). Returns what could not be removed.
   */
  cleanup(node: SyncClient, settings: SluiceSettings, hostVeth: string, record: R | undefined): Promise<string[]>;
}

export interface PodAddress {
  ip: string;
  family: Family;
}

/** What the shared steps read and fill in; a driver's context extends it. */
export interface AttachmentContext<R extends AttachmentRecord> {
  req: AddRequest;
  settings: SluiceSettings;
  node: SyncClient;
  pod?: SyncClient;
  podNs?: NetNs;
  record?: R;
  ipamResult?: IpamResult;
  addresses: PodAddress[];
  hostIfindex: number;
  hostMac: string;
  podIfindex: number;
  podMac: string;
}

/** The thread's kept socket in its own namespace, and which namespace that was. */
let kept: { client: SyncClient; netns: string } | undefined;

/**
 * The node's rtnetlink client; give it back with releaseNodeClient. In the caller's own namespace (no
 * `nodeNetns`: the agent and the plugin run in the node's) the thread keeps one socket open and hands
 * it out again, so the agent serves calls on a warm socket; it is checked against the thread's current
 * namespace every time, and a thread that has moved gets a socket of the namespace it is in. Calls on
 * a thread never share it at the same time: the client is synchronous. An explicit `nodeNetns` (tests'
 * simulated nodes) gets a socket of its own each time, so that no namespace is held open by a socket.
 */
export function nodeClient(nodeNetns: NetNs | undefined): SyncClient {
  if (nodeNetns) return SyncClient.open({ netns: nodeNetns });
  const here = currentNetns();
  if (kept?.netns !== here) {
    kept?.client.close();
    kept = { client: SyncClient.open(), netns: here };
  }
  return kept.client;
}

/** Gives back what nodeClient handed out: closed unless it is the thread's kept socket. */
export function releaseNodeClient(client: SyncClient): void {
  if (client !== kept?.client) client.close();
}

/** The fields of a context the shared steps start from. */
export function attachmentContext<R extends AttachmentRecord>(d: AttachmentDriver<R>, req: AddRequest): AttachmentContext<R> {
  return { req, settings: req.config.sluice, node: nodeClient(d.nodeNetns), addresses: [], hostIfindex: 0, hostMac: '', podIfindex: 0, podMac: '' };
}

/** Runs ADD's steps, then closes the context's sockets and namespace (`close` first), whatever happened. */
export async function runAttachmentSteps<R extends AttachmentRecord, C extends AttachmentContext<R>>(
  d: AttachmentDriver<R>, steps: readonly Step<C>[], ctx: C, failAt: FaultPoint | undefined, close?: () => void,
): Promise<void> {
  try {
    await runSteps(steps, ctx, { operation: 'ADD', ...(failAt ? { failAt } : {}), logger: d.log });
  } finally {
    close?.();
    ctx.pod?.close();
    ctx.podNs?.close();
    releaseNodeClient(ctx.node);
  }
}

/** Updates the attachment's record with `changes` and writes it. */
export function saveRecord<R extends AttachmentRecord>(d: AttachmentDriver<R>, ctx: AttachmentContext<R>, changes: Partial<R>): R {
  ctx.record = { ...ctx.record!, ...changes };
  d.store(ctx.settings).write(ctx.record);
  return ctx.record;
}

/** The step "preflight"; `then` does what a driver checks or works out besides. */
export function preflightStep<R extends AttachmentRecord, C extends AttachmentContext<R>>(d: AttachmentDriver<R>, then?: (ctx: C) => void): Step<C> {
  return {
    name: 'preflight',
    run: async (ctx) => {
      const { req } = ctx;
      if (ctx.node.linkGet(req.hostVethName, NO_STATS)) {
        throw new CniError(CniCode.Internal, `host veth ${req.hostVethName} of container ${req.containerId} interface ${req.ifname} already exists on the node`, 'the attachment was added before: DEL it first');
      }
      const store = d.store(ctx.settings);
      const stale = store.read(req.hostVethName);
      if (stale) {
        d.log.warn({ record: stale }, 'an earlier attachment with the same host veth left a record: cleaning what is left of it');
        const problems = await d.cleanup(ctx.node, ctx.settings, req.hostVethName, stale);
        if (problems.length) throw new Error(`cannot clean what an earlier attachment of ${req.hostVethName} left: ${problems.join('; ')}`);
        store.discard(req.hostVethName, stale);
      }
      then?.(ctx);
    },
  };
}

/**
 * The step "pod-netns": the pod's namespace and a socket in it. Whether CNI_IFNAME is free there is
 * not asked: the veth's creation fails if it is not, and "veth" then says so.
 */
export function podNetnsStep<R extends AttachmentRecord, C extends AttachmentContext<R>>(): Step<C> {
  return {
    name: 'pod-netns',
    run: (ctx) => {
      ctx.podNs = NetNs.open(ctx.req.netns);
      ctx.pod = SyncClient.open({ netns: ctx.podNs });
    },
  };
}

/** The step "state": `create` makes (and writes) the first record from the fields every mode records. */
export function stateStep<R extends AttachmentRecord, C extends AttachmentContext<R>>(d: AttachmentDriver<R>, create: (ctx: C, first: AttachmentRecord) => R): Step<C> {
  return {
    name: 'state',
    run: (ctx) => {
      const { req } = ctx;
      ctx.record = create(ctx, { containerId: req.containerId, ifname: req.ifname, network: req.config.name, hostVeth: req.hostVethName, netns: req.netns, addresses: [] });
    },
    undo: (ctx) => d.store(ctx.settings).discard(ctx.req.hostVethName, ctx.record),
  };
}

/**
 * The step "ipam", in the background: the IPAM's addresses (none without `ipam`, unless `requiredIn`
 * names the mode that needs it). The step "addresses" must follow, later.
 */
export function ipamStep<R extends AttachmentRecord, C extends AttachmentContext<R>>(options: { requiredIn?: string } = {}): Step<C> {
  return {
    name: 'ipam',
    background: true,
    run: async (ctx) => {
      const ipam = ctx.req.ipam;
      if (!ipam) {
        if (options.requiredIn) throw new CniError(CniCode.InvalidNetworkConfig, `invalid network config: "ipam" is required in mode "${options.requiredIn}"`);
        return;
      }
      ctx.ipamResult = await ipam.add(ctx.req.ipamRequest);
    },
    undo: async (ctx) => {
      if (ctx.ipamResult) await ctx.req.ipam!.del(ctx.req.ipamRequest);
    },
  };
}

/**
 * The step "addresses": waits for "ipam", and turns its result into the attachment's with `plan` (which
 * fills in ctx.addresses), kept in the record. Nothing without an IPAM.
 */
export function addressesStep<R extends AttachmentRecord, C extends AttachmentContext<R>>(d: AttachmentDriver<R>, plan: (ctx: C, result: IpamResult) => void): Step<C> {
  return {
    name: 'addresses',
    needs: ['ipam'],
    run: (ctx) => {
      if (!ctx.ipamResult) return void saveRecord(d, ctx, {});
      plan(ctx, ctx.ipamResult);
      if (ctx.addresses.some((a) => a.family === 6) && !ipv6Available(d.nodeNetns)) throw new Error('the IPAM gave an IPv6 address but IPv6 is disabled on the node');
      saveRecord(d, ctx, { addresses: ctx.addresses.map((a) => a.ip), ipam: ipamIpsOf(ctx.ipamResult.ips) } as Partial<R>);
    },
  };
}

/** Random bytes for MACs, drawn from the CSPRNG a page at a time rather than once per ADD. */
const macEntropy = { pool: Buffer.alloc(4096), used: 4096 };

/** A random unicast, locally administered MAC, as the kernel picks for a veth given none (eth_random_addr). */
export function randomMac(): string {
  if (macEntropy.used + 6 > macEntropy.pool.length) {
    randomFillSync(macEntropy.pool);
    macEntropy.used = 0;
  }
  const bytes = macEntropy.pool.subarray(macEntropy.used, macEntropy.used + 6);
  macEntropy.used += 6;
  const octets = [(bytes[0]! & 0xfe) | 0x02, bytes[1]!, bytes[2]!, bytes[3]!, bytes[4]!, bytes[5]!];
  return octets.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** Addresses and gateways as the IPAM handed them out (what its CHECK compares with). */
export function ipamIpsOf(ips: readonly { address: string; gateway?: string }[]): { address: string; gateway?: string }[] {
  return ips.map(({ address, gateway }) => (gateway ? { address, gateway } : { address }));
}

/**
 * The pod's own addresses from an IPAM result, checked: at least one, each an address, none that
 * `refuse` names a reason against; duplicates once.
 */
export function podAddressesOf(result: IpamResult, refuse?: (a: PodAddress) => string | undefined): PodAddress[] {
  if (!result.ips.length) throw new Error('the IPAM plugin returned no address');
  const out: PodAddress[] = [];
  for (const ip of result.ips) {
    const parsed = splitCidr(ip.address);
    if (!parsed) throw new Error(`the IPAM plugin returned ${JSON.stringify(ip.address)}, which is not an address`);
    const address = { ip: parsed.ip, family: parsed.family };
    const refused = refuse?.(address);
    if (refused) throw new Error(refused);
    if (!out.some((a) => a.ip === address.ip)) out.push(address);
  }
  return out;
}

/**
 * One transmit and one receive queue per end, what the kernel cuts a veth down to anyway: asked for
 * at creation, the cut (an RCU grace period per end, under the rtnl lock) is not needed.
 */
const ONE_QUEUE = { txQueues: 1, rxQueues: 1 } as const;

/** What "veth" reads of the host end the kernel echoes (its ifindex comes in the fixed header). */
const VETH_ECHO = ['address', 'link'] as const;

/**
 * The step "veth": the pair, with the MTU `mtu` gives (none: the kernel's default) and the runtime's
 * MAC for the pod's end (none: a random one, as the kernel would pick); its ifindexes and MACs in ctx,
 * and what `save` picks of them in ctx.record (written by "addresses"). The host end comes back from
 * the kernel with the creation (its ifindex, its MAC, the peer's ifindex), so nothing is looked up
 * after it.
 */
export function vethStep<R extends AttachmentRecord, C extends AttachmentContext<R>>(
  d: AttachmentDriver<R>, options: { mtu(ctx: C): number | undefined; save(ctx: C): Partial<R> },
): Step<C> {
  return {
    name: 'veth',
    run: (ctx) => {
      const { req } = ctx;
      const mtu = options.mtu(ctx);
      const podMac = (req.requestedMac ?? randomMac()).toLowerCase();
      const peer: LinkEnd = { name: req.ifname, netnsFd: ctx.podNs!.fd, address: podMac, ...ONE_QUEUE };
      if (mtu !== undefined) peer.mtu = mtu;
      let created;
      try {
        created = ctx.node.linkCreate({ name: req.hostVethName, kind: 'veth', ...(mtu !== undefined ? { mtu } : {}), ...ONE_QUEUE, peer }, { attributes: VETH_ECHO });
      } catch (err) {
        throw err instanceof NetlinkError && err.code === 'EEXIST' ? nameTaken(ctx, err) : err;
      }
      try {
        const host = created ?? ctx.node.linkGet(req.hostVethName, NO_STATS);
        const podIfindex = host?.attrs.link ?? ctx.pod!.linkGet(req.ifname, NO_STATS)?.ifinfo.index;
        if (!host || podIfindex === undefined) throw new Error(`the new veth pair ${req.hostVethName} / ${req.ifname} cannot be found`);
        ctx.hostIfindex = host.ifinfo.index;
        ctx.hostMac = host.attrs.address ?? '';
        ctx.podIfindex = podIfindex;
        ctx.podMac = podMac;
        ctx.record = { ...ctx.record!, ...options.save(ctx) };
      } catch (err) {
        ctx.node.linkDeleteIfExists(req.hostVethName);
        throw err;
      }
    },
    undo: (ctx) => void ctx.node.linkDeleteIfExists(ctx.req.hostVethName),
  };
}

/** Which of the pair's names was taken (EEXIST from the veth's creation), as the error ADD fails with. */
function nameTaken<R extends AttachmentRecord>(ctx: AttachmentContext<R>, err: NetlinkError): Error {
  const { req } = ctx;
  if (ctx.pod!.linkGet(req.ifname, NO_STATS)) {
    return new CniError(CniCode.Internal, `interface ${req.ifname} already exists in ${req.netns}`, 'ADD must create it: pick another CNI_IFNAME or DEL the attachment that made it');
  }
  if (ctx.node.linkGet(req.hostVethName, NO_STATS)) {
    return new CniError(CniCode.Internal, `host veth ${req.hostVethName} appeared on the node while ADD ran`, 'another ADD of the same attachment ran at the same time');
  }
  return err;
}
