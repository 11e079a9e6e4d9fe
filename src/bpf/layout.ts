/**
 * The maps shared by the eBPF data path and the agent, defined once. bpf/layout.h is generated from
 * this file (scripts/build-bpf.sh); a unit test fails when the committed header or the compiled
 * object's BTF disagrees with it.
 */
import { ipv4, ipv6, mac, struct, u32, u64, type Kind, type StructType } from './struct.js';

/** Flags of an address entry: how traffic *to* that address is handled. */
export const endpointFlags = {
  /** Hand packets for this address to the kernel instead of redirecting them. */
  kernelPath: 1 << 0,
} as const;

/** Flags of a device entry: how traffic *from* that endpoint's device is handled. */
export const deviceFlags = {
  /** Skip the anti-spoofing checks of source MAC and source IP. */
  anySource: 1 << 0,
} as const;

/** Endpoint ids index the per-CPU counters array; id 0 is never assigned. */
export const maxEndpoints = 4096;
export const maxAddresses = 16384;

/** One pod address: where to redirect it and the Ethernet addresses to write. */
export const endpoint = struct('endpoint', {
  /** The host-side veth of the pod (the bpf_redirect_peer target). */
  ifindex: u32,
  id: u32,
  podMac: mac,
  /** The MAC the pod uses as its gateway's: its host veth's. */
  gatewayMac: mac,
  flags: u32,
});

/** The pod behind a host veth, by the veth's ifindex: what may legitimately come out of it. */
export const device = struct('device', {
  id: u32,
  flags: u32,
  podMac: mac,
});

export const traffic = struct('traffic', {
  packets: u64,
  bytes: u64,
  drops: u64,
});

/** Seen from the pod: egress is what it sent, ingress what the program redirected into it. */
export const endpointCounters = struct('endpoint_counters', {
  egress: traffic,
  ingress: traffic,
});

export type Endpoint = ReturnType<typeof endpoint.unpack>;
export type Device = ReturnType<typeof device.unpack>;
export type Traffic = ReturnType<typeof traffic.unpack>;
export type EndpointCounters = ReturnType<typeof endpointCounters.unpack>;

export const mapTypes = { hash: 1, percpuArray: 6 } as const;
export type MapTypeName = keyof typeof mapTypes;

export interface MapLayout<K, V> {
  readonly name: string;
  readonly type: MapTypeName;
  readonly key: Kind<K>;
  readonly value: StructType<V>;
  readonly maxEntries: number;
}

const map = <K, V>(layout: MapLayout<K, V>): MapLayout<K, V> => layout;

/** Every map is pinned by name, so later loads and later processes share them. */
export const maps = {
  endpointsV4: map({ name: 'endpoints_v4', type: 'hash', key: ipv4, value: endpoint, maxEntries: maxAddresses }),
  endpointsV6: map({ name: 'endpoints_v6', type: 'hash', key: ipv6, value: endpoint, maxEntries: maxAddresses }),
  devices: map({ name: 'devices', type: 'hash', key: u32, value: device, maxEntries: maxEndpoints }),
  counters: map({ name: 'counters', type: 'percpuArray', key: u32, value: endpointCounters, maxEntries: maxEndpoints }),
};

/** Every struct the header declares, dependencies first. */
export const structs: readonly StructType<any>[] = [endpoint, device, traffic, endpointCounters];

/** The program of bpf/pod_egress.bpf.o, attached to each pod's host veth (ingress: traffic leaving the pod). */
export const podEgressProgram = 'pod_egress';
