/**
 * What is on the node, read without changing anything and without loading any BPF object: the
 * attachments the ebpf driver recorded (its state directory), their counters (the pinned per-CPU
 * counters map), and the pinned program, maps and TCX links. The agent answers `sluice endpoints` and
 * `sluice status` from here; the CLI reads the same when no agent runs.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { maps, podEgressProgram, type EndpointCounters, type Traffic } from '../bpf/layout.js';
import { PerCpuMap } from '../bpf/maps.js';
import { PinPaths, pinExists } from '../bpf/pins.js';
import { AttachType, closeFd, linkInfo, mapInfo, mapNextKey, objGet, progInfo } from '../bpf/syscall.js';
import { EndpointState } from '../datapath/state.js';

/** Where one set of attachments lives: a config's stateDir and pinRoot. */
export interface Location {
  stateDir: string;
  pinRoot: string;
}

export interface TrafficView {
  packets: number;
  bytes: number;
  drops: number;
}

export interface EndpointView {
  containerId: string;
  ifname: string;
  network: string;
  /** The pod's addresses (no prefix length). */
  addresses: string[];
  /** The pod interface's MAC. */
  mac: string | undefined;
  hostVeth: string;
  hostIfindex: number | undefined;
  netns: string | undefined;
  /** Seen from the pod: egress is what it sent, ingress what the program delivered to it. Absent when the counters map is not pinned. */
  counters?: { egress: TrafficView; ingress: TrafficView };
  stateDir: string;
}

const traffic = (t: Traffic): TrafficView => ({ packets: Number(t.packets), bytes: Number(t.bytes), drops: Number(t.drops) });

function sum(perCpu: EndpointCounters[], side: 'egress' | 'ingress'): TrafficView {
  return perCpu.reduce((a, c) => ({ packets: a.packets + Number(c[side].packets), bytes: a.bytes + Number(c[side].bytes), drops: a.drops + Number(c[side].drops) }), traffic({ packets: 0n, bytes: 0n, drops: 0n }));
}

/** The pinned counters map of a pin root, or undefined when it is not pinned. */
function openCounters(pinRoot: string): PerCpuMap<number, EndpointCounters> | undefined {
  const pin = `${new PinPaths(pinRoot).maps}/${maps.counters.name}`;
  if (!pinExists(pin)) return undefined;
  return new PerCpuMap(maps.counters, objGet(pin));
}

/** Every attachment recorded under the locations (each location once), with its counters. */
export function listEndpoints(locations: readonly Location[]): EndpointView[] {
  const out: EndpointView[] = [];
  const seen = new Set<string>();
  for (const location of locations) {
    const key = `${location.stateDir}\0${location.pinRoot}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const records = new EndpointState(location.stateDir).list();
    if (!records.length) continue;
    let counters: PerCpuMap<number, EndpointCounters> | undefined;
    try {
      counters = openCounters(location.pinRoot);
    } catch {
      counters = undefined; // not readable (a layout from another build): listed without counters
    }
    try {
      for (const r of records) {
        const view: EndpointView = {
          containerId: r.containerId, ifname: r.ifname, network: r.network, addresses: [...r.addresses], mac: r.podMac,
          hostVeth: r.hostVeth, hostIfindex: r.hostIfindex, netns: r.netns, stateDir: location.stateDir,
        };
        const perCpu = counters?.get(r.id);
        if (perCpu) view.counters = { egress: sum(perCpu, 'egress'), ingress: sum(perCpu, 'ingress') };
        out.push(view);
      }
    } finally {
      counters?.close();
    }
  }
  return out.sort((a, b) => a.containerId.localeCompare(b.containerId) || a.ifname.localeCompare(b.ifname));
}

export interface PinnedObjects {
  pinRoot: string;
  program?: { id: number; name: string; tag: string };
  maps: { name: string; id: number; entries: number }[];
  links: { pin: string; id: number; programId: number; ifindex?: number; direction?: 'ingress' | 'egress' }[];
  /** Why something could not be read. */
  problems: string[];
}

/** The program, maps and TCX links pinned under `pinRoot` (nothing loaded, nothing changed). */
export function pinnedObjects(pinRoot: string): PinnedObjects {
  const paths = new PinPaths(pinRoot);
  const out: PinnedObjects = { pinRoot: paths.root, maps: [], links: [], problems: [] };
  const attempt = (what: string, fn: () => void) => {
    try {
      fn();
    } catch (err) {
      out.problems.push(`${what}: ${(err as Error).message}`);
    }
  };
  const withFd = <T>(pin: string, fn: (fd: number) => T): T => {
    const fd = objGet(pin);
    try {
      return fn(fd);
    } finally {
      closeFd(fd);
    }
  };
  const programPin = paths.program(podEgressProgram);
  if (pinExists(programPin)) attempt('program', () => void (out.program = withFd(programPin, (fd) => {
    const info = progInfo(fd);
    return { id: info.id, name: info.name, tag: info.tag };
  })));
  for (const layout of Object.values(maps)) {
    const pin = `${paths.maps}/${layout.name}`;
    if (!pinExists(pin)) continue;
    attempt(`map ${layout.name}`, () => out.maps.push(withFd(pin, (fd) => ({ name: layout.name, id: mapInfo(fd).id, entries: countKeys(fd, layout.key.size, layout.type === 'percpuArray') }))));
  }
  let pins: string[] = [];
  try {
    pins = readdirSync(paths.links).sort();
  } catch {
    pins = [];
  }
  for (const name of pins) {
    attempt(`link ${name}`, () => {
      const info = withFd(join(paths.links, name), (fd) => linkInfo(fd));
      const direction = info.tcx?.attachType === AttachType.TCX_INGRESS ? 'ingress' : info.tcx?.attachType === AttachType.TCX_EGRESS ? 'egress' : undefined;
      out.links.push({ pin: name, id: info.id, programId: info.progId, ...(info.tcx ? { ifindex: info.tcx.ifindex } : {}), ...(direction ? { direction } : {}) });
    });
  }
  return out;
}

/** Entries of a hash map (an array map's size is fixed: its max entries are reported as they are). */
function countKeys(fd: number, keySize: number, array: boolean): number {
  if (array) return mapInfo(fd).maxEntries;
  let n = 0;
  const next = (key: Buffer | null) => mapNextKey(fd, key, keySize);
  for (let key = next(null); key; key = next(key)) n++;
  return n;
}
