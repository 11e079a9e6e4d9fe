/**
 * What the ebpf driver remembers per attachment, under the config's stateDir:
 *
 *   <stateDir>/ebpf/endpoints/<host veth>.json   the attachment: who it is, its counter id, its
 *                                                addresses, its host veth's ifindex and the MACs
 *   <stateDir>/ebpf/ids/<id>                      the counter id's reservation, holding the host veth name
 *
 * DEL and GC need it when the veth is already gone: map entries are keyed by address and ifindex,
 * which only the record still knows. An id is reserved by creating its file exclusively, so
 * concurrent ADDs never share one without any lock. The record is written before anything is created
 * on the node, and updated as ADD learns more.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { maxEndpoints } from '../bpf/layout.js';
import type { MasqueradeRecord } from './masq-step.js';

export interface EndpointRecord {
  containerId: string;
  ifname: string;
  /** The network (config name) it belongs to. */
  network: string;
  hostVeth: string;
  /** The endpoint's slot in the counters map. */
  id: number;
  netns?: string;
  /** The pod's own addresses, without prefix length. */
  addresses: string[];
  hostIfindex?: number;
  hostMac?: string;
  podMac?: string;
  /** What the IPAM gave (its prefix lengths and gateways), for its CHECK. */
  ipam?: { address: string; gateway?: string }[];
  /** With ipMasq: what ADD added to the masquerade sets. */
  masquerade?: MasqueradeRecord;
}

function isRecord(value: unknown): value is EndpointRecord {
  const r = value as Partial<EndpointRecord> | null;
  return (
    typeof r === 'object' && r !== null && typeof r.containerId === 'string' && typeof r.ifname === 'string' &&
    typeof r.network === 'string' && typeof r.hostVeth === 'string' && Number.isInteger(r.id) && Array.isArray(r.addresses)
  );
}

const code = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | null)?.code;

export class EndpointState {
  readonly endpoints: string;
  readonly ids: string;

  constructor(readonly stateDir: string) {
    this.endpoints = join(stateDir, 'ebpf', 'endpoints');
    this.ids = join(stateDir, 'ebpf', 'ids');
  }

  private recordPath(hostVeth: string): string {
    if (!/^[\w-]{1,15}$/.test(hostVeth)) throw new TypeError(`not a host veth name: ${JSON.stringify(hostVeth)}`);
    return join(this.endpoints, `${hostVeth}.json`);
  }

  read(hostVeth: string): EndpointRecord | undefined {
    let text: string;
    try {
      text = readFileSync(this.recordPath(hostVeth), 'utf8');
    } catch (err) {
      if (code(err) === 'ENOENT') return undefined;
      throw err;
    }
    try {
      const value: unknown = JSON.parse(text);
      if (isRecord(value)) return value;
    } catch {
      // a torn or foreign file: treated as absent, and overwritten by the next ADD
    }
    return undefined;
  }

  /**
   * Reserves a counter id for `hostVeth` and writes its first record. The search starts at a slot
   * derived from the name, so ids spread and a name tends to get the same one back.
   */
  create(record: Omit<EndpointRecord, 'id'>): EndpointRecord {
    mkdirSync(this.endpoints, { recursive: true, mode: 0o700 });
    mkdirSync(this.ids, { recursive: true, mode: 0o700 });
    const slots = maxEndpoints - 1;
    const start = createHash('sha256').update(record.hostVeth).digest().readUInt32BE(0) % slots;
    for (let i = 0; i < slots; i++) {
      const id = ((start + i) % slots) + 1;
      try {
        writeFileSync(join(this.ids, String(id)), record.hostVeth, { flag: 'wx', mode: 0o600 });
      } catch (err) {
        if (code(err) === 'EEXIST') continue;
        throw err;
      }
      const full: EndpointRecord = { ...record, id };
      try {
        this.write(full);
      } catch (err) {
        this.releaseId(id, record.hostVeth);
        throw err;
      }
      return full;
    }
    throw new Error(`no free endpoint id: all ${slots} are taken (see ${this.ids})`);
  }

  /** Replaces the record atomically. */
  write(record: EndpointRecord): void {
    const path = this.recordPath(record.hostVeth);
    const scratch = `${path}.${process.pid}.tmp`;
    writeFileSync(scratch, `${JSON.stringify(record)}\n`, { mode: 0o600 });
    try {
      renameSync(scratch, path);
    } catch (err) {
      removeQuietly(scratch);
      throw err;
    }
  }

  /** Removes the record and its id reservation (an id file is only removed while it names hostVeth). */
  remove(hostVeth: string, id?: number): void {
    if (id !== undefined) this.releaseId(id, hostVeth);
    removeQuietly(this.recordPath(hostVeth));
  }

  /** Ids reserved for hostVeth: for a record lost between reserving and writing (a crash). */
  idsOf(hostVeth: string): number[] {
    return this.idFiles().filter((id) => this.idOwner(id) === hostVeth);
  }

  releaseId(id: number, hostVeth: string): void {
    if (this.idOwner(id) === hostVeth) removeQuietly(join(this.ids, String(id)));
  }

  /** Every readable record. */
  list(): EndpointRecord[] {
    let names: string[];
    try {
      names = readdirSync(this.endpoints);
    } catch (err) {
      if (code(err) === 'ENOENT') return [];
      throw err;
    }
    return names.filter((n) => n.endsWith('.json')).flatMap((n) => this.read(n.slice(0, -5)) ?? []);
  }

  private idFiles(): number[] {
    try {
      return readdirSync(this.ids).filter((n) => /^\d+$/.test(n)).map(Number);
    } catch (err) {
      if (code(err) === 'ENOENT') return [];
      throw err;
    }
  }

  private idOwner(id: number): string | undefined {
    try {
      return readFileSync(join(this.ids, String(id)), 'utf8');
    } catch (err) {
      if (code(err) === 'ENOENT') return undefined;
      throw err;
    }
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if (code(err) !== 'ENOENT') throw err;
  }
}
