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
 * on the node, and updated as ADD learns more. The records themselves: records.ts.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { maxEndpoints } from '../bpf/layout.js';
import { ensureDirectory, errnoCode, isAttachmentRecord, RecordStore, removeQuietly, type AttachmentRecord } from './records.js';

export interface EndpointRecord extends AttachmentRecord {
  /** The endpoint's slot in the counters map. */
  id: number;
  hostIfindex?: number;
  hostMac?: string;
  /**
   * ADD answered before the program was attached (the agent's deferred attach): the spoof guard
   * covers the host veth until the agent attaches the TCX link at this pin root and drops the field.
   */
  deferredAttach?: { pinRoot: string };
}

function isRecord(value: unknown): value is EndpointRecord {
  return isAttachmentRecord(value) && Number.isInteger((value as Partial<EndpointRecord>).id);
}

export class EndpointState extends RecordStore<EndpointRecord> {
  readonly ids: string;

  constructor(stateDir: string) {
    super(stateDir, 'ebpf', isRecord);
    this.ids = join(this.modeDir, 'ids');
  }

  /**
   * Reserves a counter id for `hostVeth` and writes its first record. The search starts at a slot
   * derived from the name, so ids spread and a name tends to get the same one back.
   */
  create(record: Omit<EndpointRecord, 'id'>): EndpointRecord {
    ensureDirectory(this.ids);
    const slots = maxEndpoints - 1;
    const start = createHash('sha256').update(record.hostVeth).digest().readUInt32BE(0) % slots;
    let madeAgain = false;
    for (let i = 0; i < slots; i++) {
      const id = ((start + i) % slots) + 1;
      try {
        writeFileSync(join(this.ids, String(id)), record.hostVeth, { flag: 'wx', mode: 0o600 });
      } catch (err) {
        if (errnoCode(err) === 'EEXIST') continue;
        if (errnoCode(err) !== 'ENOENT' || madeAgain) throw err;
        // The directory went away since this thread made it: again, and the same id once more.
        ensureDirectory(this.ids, true);
        madeAgain = true;
        i--;
        continue;
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

  /** Removes the record and its id reservation (an id file is only removed while it names hostVeth). */
  remove(hostVeth: string, id?: number): void {
    if (id !== undefined) this.releaseId(id, hostVeth);
    this.removeRecord(hostVeth);
  }

  /**
   * The record and its id; without a record, every id still reserved for hostVeth (a record lost
   * between reserving and writing: a crash).
   */
  override discard(hostVeth: string, record: EndpointRecord | undefined): void {
    this.remove(hostVeth, record?.id);
    for (const id of record ? [] : this.idsOf(hostVeth)) this.releaseId(id, hostVeth);
  }

  /** Ids reserved for hostVeth: for a record lost between reserving and writing (a crash). */
  idsOf(hostVeth: string): number[] {
    return this.idFiles().filter((id) => this.idOwner(id) === hostVeth);
  }

  releaseId(id: number, hostVeth: string): void {
    if (this.idOwner(id) === hostVeth) removeQuietly(join(this.ids, String(id)));
  }

  private idFiles(): number[] {
    try {
      return readdirSync(this.ids).filter((n) => /^\d+$/.test(n)).map(Number);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return [];
      throw err;
    }
  }

  private idOwner(id: number): string | undefined {
    try {
      return readFileSync(join(this.ids, String(id)), 'utf8');
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined;
      throw err;
    }
  }
}
