/**
 * The eBPF data path as the rest of sluice uses it: load the pod-egress program once per node (or
 * reuse what an earlier process pinned), keep the endpoint maps, attach to host veths, read the
 * counters, upgrade the program in place, uninstall.
 */
import { renameSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { NetNs } from '../netns.js';
import { Attacher, type Attachment, type AttachMode, type DeviceRef } from './attach.js';
import { endpointFlags, deviceFlags, maps, maxEndpoints, podEgressProgram, type Device, type Endpoint, type EndpointCounters, type Traffic } from './layout.js';
import { BpfObject } from './libbpf.js';
import { BpfMap, PerCpuMap } from './maps.js';
import { defaultPinRoot, ensurePinRoot, PinPaths, pinExists, removePin, removePinRoot, withPinLock, type Direction } from './pins.js';
import { closeFd, objGet, objPin, progInfo, type ProgInfo } from './syscall.js';

export const defaultObjectPath = fileURLToPath(new URL('../../../bpf/pod_egress.bpf.o', import.meta.url));

export interface DatapathOptions {
  /** bpffs directory for the pins; default /sys/fs/bpf/sluice. */
  pinRoot?: string;
  /** The compiled object; default the package's bpf/pod_egress.bpf.o. */
  objectPath?: string;
  /** The namespace holding the host veths (the node's); default the caller's. */
  netns?: NetNs;
  /** Attach with clsact + cls_bpf even where TCX exists. */
  forceClsBpf?: boolean;
}

/** A pod as the data path sees it. */
export interface EndpointSpec {
  /** 1 ... maxEndpoints-1: the slot of its counters. */
  id: number;
  /** The pod's host veth. */
  ifindex: number;
  podMac: string;
  /** The MAC the pod sends to as its gateway: its host veth's. */
  gatewayMac: string;
  /** The pod's own IPv4 and IPv6 addresses (no prefix length). */
  addresses: readonly string[];
  /** Deliver traffic for this pod through the kernel instead of redirecting it. */
  kernelPath?: boolean;
  /** Turn off the anti-spoofing checks for traffic from this pod. */
  anySource?: boolean;
}

export interface UpgradeResult {
  swapped: boolean;
  previousProgramId: number;
  programId: number;
  /** Attachments moved to the new program. */
  moved: number;
}

const zeroTraffic: Traffic = { packets: 0n, bytes: 0n, drops: 0n };

function sumTraffic(all: Traffic[]): Traffic {
  return all.reduce((a, t) => ({ packets: a.packets + t.packets, bytes: a.bytes + t.bytes, drops: a.drops + t.drops }), zeroTraffic);
}

interface Handles {
  programFd: number;
  endpointsV4: BpfMap<string, Endpoint>;
  endpointsV6: BpfMap<string, Endpoint>;
  devices: BpfMap<number, Device>;
  counters: PerCpuMap<number, EndpointCounters>;
}

/** Opens the pinned program and maps (fresh fds, owned by the caller). */
function openPinned(paths: PinPaths): Handles {
  const opened: { close(): void }[] = [];
  const track = <T extends { close(): void }>(x: T): T => (opened.push(x), x);
  const programFd = objGet(paths.program(podEgressProgram));
  opened.push({ close: () => closeFd(programFd) });
  try {
    const pinned = (name: string) => objGet(`${paths.maps}/${name}`);
    return {
      programFd,
      endpointsV4: track(new BpfMap(maps.endpointsV4, pinned(maps.endpointsV4.name))),
      endpointsV6: track(new BpfMap(maps.endpointsV6, pinned(maps.endpointsV6.name))),
      devices: track(new BpfMap(maps.devices, pinned(maps.devices.name))),
      counters: track(new PerCpuMap(maps.counters, pinned(maps.counters.name))),
    };
  } catch (err) {
    for (const h of opened) h.close();
    throw err;
  }
}

/** Loads the object (its maps reused from, or pinned into, <root>/maps) and pins the program under `pin`. */
function loadAndPin(objectPath: string, paths: PinPaths, pin: string): ProgInfo {
  const object = BpfObject.openFile(objectPath, { pinRoot: paths.maps });
  try {
    object.load();
    const program = object.program(podEgressProgram);
    for (const layout of Object.values(maps)) object.map(layout.name); // a missing map fails here, by name
    removePin(pin);
    objPin(program.fd, pin);
    return progInfo(program.fd);
  } finally {
    object.close();
  }
}

/** The inodes of the program's and the maps' pins ('' for a missing one): they change when re-pinned. */
function pinIdentity(paths: PinPaths): string {
  const pins = [paths.program(podEgressProgram), ...Object.values(maps).map((m) => `${paths.maps}/${m.name}`)];
  return pins.map((pin) => statSync(pin, { throwIfNoEntry: false })?.ino ?? '').join(',');
}

export class Datapath {
  private closed = false;

  private constructor(
    readonly paths: PinPaths,
    private readonly options: DatapathOptions,
    private handles: Handles,
    private readonly attacher: Attacher,
    /** pinIdentity() when opened. */
    private readonly pins: string,
  ) {}

  /**
   * Opens the data path: reuses the pinned program and maps when an earlier process loaded them,
   * otherwise loads the object and pins everything. Concurrent callers serialize on a lock.
   */
  static async open(options: DatapathOptions = {}): Promise<Datapath> {
    const paths = new PinPaths(options.pinRoot ?? defaultPinRoot);
    ensurePinRoot(paths);
    const handles = await withPinLock(paths, () => {
      const complete = pinExists(paths.program(podEgressProgram)) && Object.values(maps).every((m) => pinExists(`${paths.maps}/${m.name}`));
      if (!complete) loadAndPin(options.objectPath ?? defaultObjectPath, paths, paths.program(podEgressProgram));
      return openPinned(paths);
    });
    return new Datapath(paths, options, handles, new Attacher(paths, options), pinIdentity(paths));
  }

  /**
   * Whether the program and maps pinned now are the ones this handle holds (no upgrade re-pinned the
   * program, no uninstall removed them since it was opened): a few stat() calls, for a process that
   * keeps its handle from call to call.
   */
  stillPinned(): boolean {
    return !this.closed && pinIdentity(this.paths) === this.pins;
  }

  get program(): ProgInfo {
    return progInfo(this.live.programFd);
  }

  /** The ids of the maps, by name (the same across processes that share the pins). */
  get mapIds(): Record<string, number> {
    const h = this.live;
    return Object.fromEntries([h.endpointsV4, h.endpointsV6, h.devices, h.counters].map((m) => [m.layout.name, m.id]));
  }

  /** The attach mode in use, once the first attach found it. */
  get attachMode(): AttachMode | undefined {
    return this.attacher.mode;
  }

  /** Adds or replaces a pod's entries: its addresses first, then its device, which turns the checks on. */
  upsertEndpoint(spec: EndpointSpec): void {
    validateEndpoint(spec);
    const h = this.live;
    const value = {
      ifindex: spec.ifindex,
      id: spec.id,
      podMac: spec.podMac,
      gatewayMac: spec.gatewayMac,
      flags: spec.kernelPath ? endpointFlags.kernelPath : 0,
    };
    for (const address of spec.addresses) (isIP(address) === 4 ? h.endpointsV4 : h.endpointsV6).set(address, value);
    h.devices.set(spec.ifindex, { id: spec.id, flags: spec.anySource ? deviceFlags.anySource : 0, podMac: spec.podMac });
  }

  /** Removes a pod's entries (its device first). Its counters stay until resetCounters(). */
  removeEndpoint(spec: Pick<EndpointSpec, 'ifindex' | 'addresses'>): void {
    const h = this.live;
    h.devices.delete(spec.ifindex);
    for (const address of spec.addresses) (isIP(address) === 4 ? h.endpointsV4 : h.endpointsV6).delete(address);
  }

  /** An endpoint's counters, summed over CPUs. */
  counters(id: number): EndpointCounters {
    const perCpu = this.live.counters.get(id);
    if (!perCpu) throw new RangeError(`endpoint id ${id} is outside the counters map (0 ... ${maxEndpoints - 1})`);
    return { egress: sumTraffic(perCpu.map((c) => c.egress)), ingress: sumTraffic(perCpu.map((c) => c.ingress)) };
  }

  resetCounters(id: number): void {
    this.live.counters.setAll(id, { egress: zeroTraffic, ingress: zeroTraffic });
  }

  /** Attaches the program to a host veth (ingress: the traffic leaving its pod). Idempotent. */
  attach(device: DeviceRef, direction: Direction = 'ingress'): Attachment {
    return this.attacher.attach(device, direction, { fd: this.live.programFd, name: podEgressProgram });
  }

  /** Detaches from a device; nothing attached (or no device) is success. */
  detach(device: DeviceRef, direction: Direction = 'ingress'): boolean {
    return this.attacher.detach(device, direction);
  }

  /**
   * Loads the object again (maps kept: libbpf reuses the pinned ones) and, when the program differs
   * from the pinned one (or `force`), swaps it on every attachment atomically and re-pins it.
   */
  async upgrade(options: { objectPath?: string; force?: boolean } = {}): Promise<UpgradeResult> {
    const h = this.live;
    const previous = progInfo(h.programFd);
    return withPinLock(this.paths, () => {
      const staged = this.paths.stagedProgram(podEgressProgram);
      const next = loadAndPin(options.objectPath ?? this.options.objectPath ?? defaultObjectPath, this.paths, staged);
      if (!options.force && next.tag === previous.tag) {
        removePin(staged);
        return { swapped: false, previousProgramId: previous.id, programId: previous.id, moved: 0 };
      }
      const nextFd = objGet(staged);
      let moved: number;
      try {
        moved = this.attacher.replaceProgram({ fd: h.programFd, name: podEgressProgram }, { fd: nextFd, name: podEgressProgram }, [...h.devices.keys()]);
        renameSync(staged, this.paths.program(podEgressProgram));
      } catch (err) {
        closeFd(nextFd);
        removePin(staged);
        throw err;
      }
      closeFd(h.programFd);
      h.programFd = nextFd;
      return { swapped: true, previousProgramId: previous.id, programId: next.id, moved };
    });
  }

  /** Detaches everything, removes every pin and closes this handle. */
  async uninstall(): Promise<void> {
    const h = this.live;
    await withPinLock(this.paths, () => this.attacher.detachAll([...h.devices.keys()]));
    this.close();
    removePinRoot(this.paths);
  }

  /** Closes this process's fds; the pinned objects and links stay. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const h = this.handles;
    closeFd(h.programFd);
    for (const m of [h.endpointsV4, h.endpointsV6, h.devices, h.counters]) m.close();
    this.attacher.close();
  }

  private get live(): Handles {
    if (this.closed) throw new Error('the data path handle is closed');
    return this.handles;
  }
}

const macPattern = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

function validateEndpoint(spec: EndpointSpec): void {
  if (!Number.isInteger(spec.id) || spec.id <= 0 || spec.id >= maxEndpoints) throw new RangeError(`endpoint id must be 1 ... ${maxEndpoints - 1}, got ${spec.id}`);
  if (!Number.isInteger(spec.ifindex) || spec.ifindex <= 0) throw new RangeError(`not an ifindex: ${spec.ifindex}`);
  for (const [name, mac] of [['podMac', spec.podMac], ['gatewayMac', spec.gatewayMac]] as const) {
    if (!macPattern.test(mac)) throw new TypeError(`${name} is not a MAC address: ${mac}`);
  }
  if (spec.addresses.length === 0) throw new TypeError('an endpoint needs at least one address');
  for (const address of spec.addresses) if (isIP(address) === 0) throw new TypeError(`not an IP address: ${address}`);
}
