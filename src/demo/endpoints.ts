/**
 * The endpoint table. The data is what `sluice endpoints` shows (src/daemon/inventory.ts, read without
 * an agent): the plugin's attachment records under the state directory (container, interface,
 * addresses, MAC, host veth) joined with the eBPF program's per-endpoint counters from the pinned
 * per-CPU map, summed over CPUs. The demo prints it its own way: pods by their short names, bytes
 * with units, and how the counters moved between two readings.
 *
 * TX is what the pod sent (every frame out of it passes the program on its host veth); RX is what
 * the program redirected into it, i.e. pod-to-pod traffic on this node. The node's own replies go
 * through the kernel and are not counted.
 */
import { isIP } from 'node:net';
import type { EndpointView, TrafficView } from '../daemon/inventory.js';
import { bytes, count, delta, printTable, type Column } from './format.js';

export interface EndpointRow {
  /** The demo's name for the pod (pod1, ...), else the container id. */
  pod: string;
  view: EndpointView;
  tx: TrafficView;
  rx: TrafficView;
}

const none: TrafficView = { packets: 0, bytes: 0, drops: 0 };

/** Reads the attachments and their counters (inventory.ts is imported on first use: it brings libbpf). */
export async function readEndpoints(location: { stateDir: string; pinRoot: string }, podNames: ReadonlyMap<string, string>): Promise<EndpointRow[]> {
  const { listEndpoints } = await import('../daemon/inventory.js');
  return listEndpoints([location])
    .map((view) => ({ pod: podNames.get(view.containerId) ?? view.containerId, view, tx: view.counters?.egress ?? none, rx: view.counters?.ingress ?? none }))
    .sort((a, b) => a.pod.localeCompare(b.pod, 'en', { numeric: true }));
}

export function printEndpoints(rows: readonly EndpointRow[]): void {
  const columns: Column[] = [
    { header: 'POD' }, { header: 'IPV4' }, { header: 'IPV6' }, { header: 'MAC' }, { header: 'HOST VETH' },
    { header: 'TX PACKETS', align: 'right' }, { header: 'TX BYTES', align: 'right' }, { header: 'RX PACKETS', align: 'right' }, { header: 'RX BYTES', align: 'right' },
  ];
  printTable(columns, rows.map(({ pod, view, tx, rx }) => [
    pod,
    view.addresses.filter((a) => isIP(a) === 4).join(' ') || '-',
    view.addresses.filter((a) => isIP(a) === 6).join(' ') || '-',
    view.mac ?? '-',
    view.hostVeth,
    count(tx.packets),
    bytes(tx.bytes),
    count(rx.packets),
    bytes(rx.bytes),
  ]));
}

/** How the counters moved between two readings, one row per pod. */
export function printCounterChanges(before: readonly EndpointRow[], after: readonly EndpointRow[]): void {
  const earlier = new Map(before.map((r) => [`${r.view.containerId}/${r.view.ifname}`, r]));
  const columns: Column[] = [
    { header: 'POD' }, { header: 'TX PACKETS', align: 'right' }, { header: 'TX BYTES', align: 'right' },
    { header: 'RX PACKETS', align: 'right' }, { header: 'RX BYTES', align: 'right' }, { header: 'DROPS', align: 'right' },
  ];
  printTable(columns, after.map(({ pod, view, tx, rx }) => {
    const was = earlier.get(`${view.containerId}/${view.ifname}`) ?? { tx: none, rx: none };
    const change = (now: number, then: number) => BigInt(now) - BigInt(then);
    return [
      pod,
      delta(change(tx.packets, was.tx.packets), count),
      delta(change(tx.bytes, was.tx.bytes), bytes),
      delta(change(rx.packets, was.rx.packets), count),
      delta(change(rx.bytes, was.rx.bytes), bytes),
      delta(change(tx.drops + rx.drops, was.tx.drops + was.rx.drops), count),
    ];
  }));
}
