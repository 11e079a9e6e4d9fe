/**
 * Read and clean what the eBPF data path pinned, without loading anything: DEL and CHECK must not load
 * the program on a node where it never was, and must work when an earlier process pinned it.
 */
import { isIP } from 'node:net';
import { maps, podEgressProgram, type Device, type Endpoint } from '../bpf/layout.js';
import { BpfMap } from '../bpf/maps.js';
import { PinPaths, pinExists, type Direction } from '../bpf/pins.js';
import { closeFd, linkInfo, objGet, progInfo, type LinkInfo } from '../bpf/syscall.js';

export interface AddressEntry {
  address: string;
  endpoint: Endpoint;
}

export class PinnedMaps {
  private constructor(
    private readonly v4: BpfMap<string, Endpoint>,
    private readonly v6: BpfMap<string, Endpoint>,
    private readonly devices: BpfMap<number, Device>,
  ) {}

  /** The endpoint maps under the pin root, or undefined when they are not (all) pinned. */
  static open(paths: PinPaths): PinnedMaps | undefined {
    const names = [maps.endpointsV4.name, maps.endpointsV6.name, maps.devices.name];
    if (!names.every((n) => pinExists(`${paths.maps}/${n}`))) return undefined;
    const opened: { close(): void }[] = [];
    try {
      const v4 = new BpfMap(maps.endpointsV4, objGet(`${paths.maps}/${maps.endpointsV4.name}`));
      opened.push(v4);
      const v6 = new BpfMap(maps.endpointsV6, objGet(`${paths.maps}/${maps.endpointsV6.name}`));
      opened.push(v6);
      const devices = new BpfMap(maps.devices, objGet(`${paths.maps}/${maps.devices.name}`));
      return new PinnedMaps(v4, v6, devices);
    } catch (err) {
      for (const m of opened) m.close();
      throw err;
    }
  }

  private mapOf(address: string): BpfMap<string, Endpoint> {
    return isIP(address) === 6 ? this.v6 : this.v4;
  }

  endpoint(address: string): Endpoint | undefined {
    return this.mapOf(address).get(address);
  }

  device(ifindex: number): Device | undefined {
    return this.devices.get(ifindex);
  }

  /** Every address entry that redirects to `ifindex`. */
  entriesOf(ifindex: number): AddressEntry[] {
    const out: AddressEntry[] = [];
    for (const map of [this.v4, this.v6]) {
      for (const address of [...map.keys()]) {
        const endpoint = map.get(address);
        if (endpoint?.ifindex === ifindex) out.push({ address, endpoint });
      }
    }
    return out;
  }

  removeAddress(address: string): boolean {
    return this.mapOf(address).delete(address);
  }

  removeDevice(ifindex: number): boolean {
    return this.devices.delete(ifindex);
  }

  close(): void {
    for (const m of [this.v4, this.v6, this.devices]) m.close();
  }
}

/** The id of the pinned pod-egress program, or undefined when none is pinned. */
export function pinnedProgramId(paths: PinPaths): number | undefined {
  const pin = paths.program(podEgressProgram);
  if (!pinExists(pin)) return undefined;
  const fd = objGet(pin);
  try {
    return progInfo(fd).id;
  } finally {
    closeFd(fd);
  }
}

/** The pinned TCX link of a device, or undefined when none is pinned. */
export function pinnedLink(paths: PinPaths, device: string, direction: Direction): LinkInfo | undefined {
  const pin = paths.link(device, direction);
  if (!pinExists(pin)) return undefined;
  const fd = objGet(pin);
  try {
    return linkInfo(fd);
  } finally {
    closeFd(fd);
  }
}
